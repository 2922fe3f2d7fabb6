"""The shape of the package, checked from its source: no import cycles, no private names across modules.

The graph is read with :mod:`ast` from every module under ``storeswap/``,
function-level (lazy) imports included — a cycle through a lazy import is
still a cycle of responsibilities — and ``if TYPE_CHECKING:`` blocks
excluded, since they never run.  Edges point at modules: ``from a.b import
c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import storeswap

ROOT = Path(storeswap.__file__).resolve().parent


def _modules(root: Path) -> dict[str, tuple[Path, bool]]:
    out: dict[str, tuple[Path, bool]] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def scan(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """The import graph of the package at ``root`` and the private cross-module imports found in it."""
    top = root.name
    modules = _modules(root)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private: list[str] = []
    for module, (path, is_package) in modules.items():
        package = module if is_package else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _runtime_nodes(tree):
            targets: list[tuple[str, str | None]] = []
            if isinstance(node, ast.Import):
                targets = [(a.name, None) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(module, is_package, node)
                targets = [(base, a.name) for a in node.names]
            for base, name in targets:
                if base != top and not base.startswith(top + "."):
                    continue
                full = f"{base}.{name}" if name is not None else base
                target = full if full in modules else base
                if target in modules and target != module:
                    edges[module].add(target)
                # A private module may be used by its own package only; a private name by its own module only.
                for i, part in enumerate(target.split(".")):
                    if _private(part):
                        owner = ".".join(target.split(".")[:i])
                        if not package.startswith(owner):
                            private.append(f"{module} imports private module {target}")
                if name is not None and full not in modules and _private(name) and target != module:
                    private.append(f"{module} imports private name {name} from {base}")
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph() -> tuple[dict[str, set[str]], list[str]]:
    return scan(ROOT)


def test_no_import_cycles(graph) -> None:
    edges, _ = graph
    assert cycles(edges) == []


def test_no_module_imports_another_modules_private_names(graph) -> None:
    _, private = graph
    assert private == []


def test_redaction_is_a_leaf(graph) -> None:
    edges, _ = graph
    assert edges["storeswap.redaction"] == set()


def test_the_core_imports_only_the_core(graph) -> None:
    edges, _ = graph
    outward = {
        f"{m} -> {t}"
        for m, targets in edges.items()
        if m.startswith("storeswap.core")
        for t in targets
        if not t.startswith("storeswap.core")
    }
    assert outward == set()


def test_the_checker_finds_a_planted_cycle_and_a_private_import(tmp_path: Path) -> None:
    pkg = tmp_path / "planted"
    (pkg / "inner").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "inner" / "__init__.py").write_text("")
    (pkg / "inner" / "_helpers.py").write_text("X = 1\n")
    (pkg / "a.py").write_text("def f():\n    from planted.b import g\n    return g\n")
    (pkg / "b.py").write_text("from planted import a\nfrom planted.c import _secret\n\ndef g():\n    return a\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from planted import b\n_secret = 1\n"
    )
    (pkg / "d.py").write_text("from planted.inner._helpers import X\nfrom .inner import _helpers\n")
    (pkg / "inner" / "e.py").write_text("from planted.inner._helpers import X\n")
    edges, private = scan(pkg)
    assert cycles(edges) == [["planted.a", "planted.b"]]  # c -> b is TYPE_CHECKING only
    assert sorted(private) == [
        "planted.b imports private name _secret from planted.c",
        "planted.d imports private module planted.inner._helpers",
        "planted.d imports private module planted.inner._helpers",
    ]


#: Packages that are libraries: the CLI (``storeswap.cli``) drives them, they never draw on a terminal.
LIBRARIES = ("storeswap.migrate", "storeswap.benchmarks", "storeswap.evaluate", "storeswap.gateway")
TERMINAL_PACKAGES = ("typer", "click", "rich")


def _imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
    return names


def terminal_imports(root: Path, inside: tuple[str, ...]) -> list[str]:
    """``module imports package`` for every import of typer, click or rich in the packages ``inside``."""
    return sorted(
        f"{module} imports {name}"
        for module, (path, _) in _modules(root).items()
        if any(module == p or module.startswith(p + ".") for p in inside)
        for name in _imported_names(path)
        if name.split(".")[0] in TERMINAL_PACKAGES
    )


def test_the_libraries_import_neither_typer_nor_rich() -> None:
    assert terminal_imports(ROOT, LIBRARIES) == []


def test_only_the_cli_package_draws_on_the_terminal() -> None:
    found = terminal_imports(ROOT, ("storeswap",))
    assert [f for f in found if not f.startswith("storeswap.cli ") and not f.startswith("storeswap.cli.")] == []


def test_the_terminal_check_finds_a_planted_rich_import(tmp_path: Path) -> None:
    pkg = tmp_path / "planted"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "lib" / "__init__.py").write_text("")
    (pkg / "lib" / "bar.py").write_text("def show():\n    from rich.progress import Progress\n    return Progress\n")
    (pkg / "lib" / "ok.py").write_text("import richer\nimport json\n")
    (pkg / "cli.py").write_text("import typer\n")
    assert terminal_imports(pkg, ("planted.lib",)) == ["planted.lib.bar imports rich.progress"]


def test_settings_is_a_leaf(graph) -> None:
    edges, _ = graph
    assert edges["storeswap.settings"] == set()
