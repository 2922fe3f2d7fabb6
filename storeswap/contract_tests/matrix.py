"""The support matrix: requirement id x store → pass / notimpl / notyet / never.

Built from the gap markers by collecting the contract suite (nothing runs),
so it always says what the suite declares.  ``python -m
storeswap.contract_tests.matrix [--store NAME ...]`` prints Markdown for the
README; it lists every built-in store by default.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections import defaultdict
from collections.abc import Sequence

import pytest

from storeswap.contract_tests.plugin import BUILTIN_STORES, GAPS_KEY, selected_stores
from storeswap.contract_tests.requirements import REQUIREMENTS

__all__ = ["Cell", "collect_matrix", "render_markdown", "main"]

_RANK = {"pass": 0, "never": 1, "notyet": 2, "notimpl": 3}


class Cell:
    """What one store does for one requirement: the number of tests, and the gaps with reasons."""

    def __init__(self) -> None:
        self.tests = 0
        self.gaps: list[tuple[str, str, str]] = []  # (kind, reason, test name)

    @property
    def status(self) -> str:
        """``pass`` when no test has a gap, else the most serious gap kind."""
        if not self.gaps:
            return "pass"
        return max((g[0] for g in self.gaps), key=lambda k: _RANK[k])


class _Collector:
    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
        self.stores: list[str] = []
        self.selected: set[str] = set()

    def pytest_configure(self, config: pytest.Config) -> None:
        self.selected = {c.name for c in selected_stores(config)}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            params = callspec.params if callspec is not None else {}
            store = params.get("store_name")
            # A swap test runs on an ordered pair of stores: it counts for both of them.
            pair = params.get("swap_pair")
            involved = [store] if isinstance(store, str) else [s for s in (pair or ()) if isinstance(s, str)]
            gaps = item.stash.get(GAPS_KEY, [])
            name = item.name
            for store in dict.fromkeys(involved):
                if store not in self.stores and store in self.selected:
                    self.stores.append(store)
                if store not in self.selected:
                    continue
                for mark in item.iter_markers("req"):
                    for req in mark.args:
                        cell = self.cells[(str(req), store)]
                        cell.tests += 1
                        cell.gaps.extend((kind, reason, name) for kind, reason in gaps)


def collect_matrix(pytest_args: Sequence[str] = ()) -> tuple[list[str], dict[tuple[str, str], Cell]]:
    """Collect the suite with ``pytest_args`` (e.g. ``--store`` options); return (stores, cells)."""
    collector = _Collector()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = pytest.main(
            ["--pyargs", "storeswap.contract_tests", "--collect-only", "-q", "-p", "no:cacheprovider", *pytest_args],
            plugins=[collector],
        )
    if code not in (0, pytest.ExitCode.NO_TESTS_COLLECTED):
        raise RuntimeError(f"collecting the contract suite failed ({code}):\n{out.getvalue()}")
    return collector.stores, dict(collector.cells)


def _cell_text(cell: Cell | None) -> str:
    if cell is None or cell.tests == 0:
        return "—"
    if not cell.gaps:
        return f"✅ ({cell.tests})"
    reasons = sorted({f"{kind}: {reason}" for kind, reason, _ in cell.gaps})
    icon = {"never": "⛔", "notyet": "⏳", "notimpl": "🚧"}[cell.status]
    return f"{icon} {len(cell.gaps)}/{cell.tests} — " + "; ".join(r.replace("|", "\\|") for r in reasons)


def render_markdown(stores: Sequence[str], cells: dict[tuple[str, str], Cell]) -> str:
    """The matrix as a Markdown table, one row per requirement id of docs/semantics.md."""
    lines = [
        "| Requirement | " + " | ".join(stores) + " |",
        "|---|" + "---|" * len(stores),
    ]
    for req, title in REQUIREMENTS.items():
        row = [_cell_text(cells.get((req, s))) for s in stores]
        lines.append(f"| **{req}** {title} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append(
        "✅ every test passes (number of tests) · 🚧 notimpl (adapter work) · ⏳ notyet (backend or emulator) · "
        "⛔ never (by design) · — no test yet"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the support matrix as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", action="append", default=[], help="store to include (default: all built-in)")
    parser.add_argument("--store-factory", action="append", default=[], help="third-party factory module:callable")
    args = parser.parse_args(argv)
    stores = args.store or ([] if args.store_factory else list(BUILTIN_STORES))
    pytest_args: list[str] = []
    for s in stores:
        pytest_args += ["--store", s]
    for f in args.store_factory:
        pytest_args += ["--store-factory", f]
    names, cells = collect_matrix(pytest_args)
    sys.stdout.write(render_markdown(names, cells) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
