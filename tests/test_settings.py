"""Every ``STORESWAP_*`` variable is named, documented and read in :mod:`storeswap.settings` only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import storeswap
from storeswap import settings

ROOT = Path(storeswap.__file__).resolve().parent
README = Path(__file__).resolve().parent.parent / "README.md"  # the source tree (tox installs the package)
NAME = re.compile(r"STORESWAP_[A-Z0-9_]+")


def _sources() -> list[Path]:
    return [p for p in sorted(ROOT.rglob("*.py")) if p != ROOT / "settings.py"]


def _env_reads(path: Path, root: Path = ROOT.parent) -> list[str]:
    """``os.environ[...]``, ``os.environ.get(...)`` and ``os.getenv(...)`` of a literal STORESWAP_ name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key: ast.AST | None = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv") and node.args:
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("STORESWAP_"):
            found.append(f"{path.relative_to(root)}:{node.lineno} reads {key.value}")
    return found


def test_every_storeswap_variable_in_the_package_is_a_setting() -> None:
    known = {s.name for s in settings.SETTINGS}
    unknown = sorted(
        f"{p.relative_to(ROOT.parent)}: {n}"
        for p in _sources()
        for n in set(NAME.findall(p.read_text(encoding="utf-8")))
        if n not in known and not n.endswith("_")
    )
    assert unknown == []


#: The one exception: the core imports nothing outside storeswap.core (test_import_graph), so it reads this itself.
CORE_READS = {"storeswap/core/values.py": "STORESWAP_PURE"}


def test_no_module_but_settings_reads_a_storeswap_variable() -> None:
    reads = [r for p in _sources() for r in _env_reads(p)]
    assert [r for r in reads if CORE_READS.get(r.split(":")[0]) != r.split(" reads ")[1]] == []


def test_the_read_check_finds_a_planted_read(tmp_path: Path) -> None:
    planted = tmp_path / "m.py"
    planted.write_text('import os\na = os.environ.get("STORESWAP_X")\nb = os.environ["STORESWAP_Y"]\nc = os.getenv("HOME")\n')
    assert sorted(_env_reads(planted, tmp_path)) == ["m.py:2 reads STORESWAP_X", "m.py:3 reads STORESWAP_Y"]


def test_names_are_unique_and_documented() -> None:
    names = [s.name for s in settings.SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.doc and s.read_by for s in settings.SETTINGS)
    exported = {getattr(settings, n) for n in settings.__all__ if isinstance(getattr(settings, n), settings.Setting)}
    assert exported == set(settings.SETTINGS)


def test_the_readme_table_is_the_rendered_one() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- settings:start -->\n(.*?)\n<!-- settings:end -->", text, re.S)
    assert block is not None and block.group(1) == settings.markdown_table()


def test_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.DIFF_EXAMPLES.name, raising=False)
    assert settings.get_int(settings.DIFF_EXAMPLES) == 50 and not settings.is_set(settings.DIFF_EXAMPLES)
    monkeypatch.setenv(settings.DIFF_EXAMPLES.name, " 7 ")
    assert settings.get_int(settings.DIFF_EXAMPLES) == 7 and settings.is_set(settings.DIFF_EXAMPLES)
    monkeypatch.setenv(settings.DIFF_EXAMPLES.name, "many")
    with pytest.raises(ValueError, match="STORESWAP_DIFF_EXAMPLES must be an integer"):
        settings.get_int(settings.DIFF_EXAMPLES)
    assert settings.get_list(settings.STORES, {"STORESWAP_STORES": " memory, ,postgres "}) == ["memory", "postgres"]
    assert settings.get(settings.POSTGRES_URL, {"STORESWAP_POSTGRES_URL": "  "}) is None
