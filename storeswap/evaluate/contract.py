"""Running the contract suite from ``storeswap evaluate``: pass / xfail / fail per requirement and store.

The suite runs in this process through ``pytest.main`` with a small
collector plugin (:class:`ResultCollector`) that records, per test, the
requirement ids of its ``req`` marker, the store it ran on and how it ended.
A built-in adapter is selected by name and URL (``--store
postgres=postgresql://...``), so the suite reaches the very server being
evaluated; any other store — a subclass, a wrapper, a third-party adapter,
whatever its ``kind`` says — only through ``--store-factory module:callable``,
so the suite tests the adapter itself and never a built-in one in its place.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from storeswap import settings
from storeswap.evaluate.document import ContractRun, TestResult
from storeswap.evaluate.suite_target import ContractStore, builtin_name, contract_store_for

__all__ = [
    "ContractStore",
    "TestResult",
    "ContractRun",
    "ResultCollector",
    "contract_store_for",
    "builtin_name",
    "run_contract_suite",
    "FRESH_MEMORY",
]

#: The swap tests' name for the fresh memory store they pair a lone store with.
FRESH_MEMORY = "fresh-memory"
_OUTCOME_RANK = {"passed": 0, "skipped": 1, "xfailed": 2, "failed": 3}


def _short(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = getattr(crash, "message", None) or str(getattr(report, "longreprtext", "") or "")
    text = " ".join(text.split())
    return text[:300]


class ResultCollector:
    """A pytest plugin recording every contract test's requirements, store and outcome.

    ``quick`` keeps one parametrisation of each test function per store
    (every requirement still gets checked) and drops the differential test.
    ``progress(done, total)`` is called after each test.
    """

    def __init__(self, quick: bool = False, progress: Callable[[int, int], None] | None = None) -> None:
        self.quick = quick
        self.progress = progress
        self.results: dict[str, TestResult] = {}
        self.total = 0
        self.done = 0
        self.store_names: list[str] = []

    @staticmethod
    def _stores_of(item: Any) -> tuple[tuple[str, ...], tuple[str, str] | None]:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        store = params.get("store_name")
        if isinstance(store, str):
            return (store,), None
        pair = params.get("swap_pair")
        if isinstance(pair, (tuple, list)) and len(pair) == 2:
            a, b = str(pair[0]), str(pair[1])
            # A swap test speaks for both stores of its pair (not for the suite's fresh memory store).
            return tuple(dict.fromkeys(s for s in (a, b) if s != FRESH_MEMORY)), (a, b)
        return (), None

    def pytest_configure(self, config: Any) -> None:
        from storeswap.contract_tests.plugin import selected_stores

        self.store_names = [c.name for c in selected_stores(config)]

    @pytest.hookimpl(trylast=True)  # after -k / -m deselection and the suite's own gap markers
    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        if self.quick:
            keep: list[Any] = []
            dropped: list[Any] = []
            seen: set[tuple[str, str, tuple[str, ...]]] = set()
            for item in items:
                fn = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
                stores, pair = self._stores_of(item)
                ident = (str(item.path), fn, pair if pair is not None else stores)
                if "differential" in fn or ident in seen:
                    dropped.append(item)
                    continue
                seen.add(ident)
                keep.append(item)
            if dropped:
                config.hook.pytest_deselected(items=dropped)
                items[:] = keep
        for item in items:
            reqs = tuple(str(r) for m in item.iter_markers("req") for r in m.args)
            stores, pair = self._stores_of(item)
            self.results[item.nodeid] = TestResult(item.nodeid, item.name, reqs, stores, pair)
        self.total = len(items)
        if self.progress is not None:
            self.progress(0, self.total)

    def pytest_runtest_logreport(self, report: Any) -> None:
        result = self.results.get(report.nodeid)
        if result is None:
            return
        result.seconds += float(getattr(report, "duration", 0.0) or 0.0)
        if report.failed:
            outcome = "failed"
        elif report.skipped and hasattr(report, "wasxfail"):
            outcome = "xfailed"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "passed"
        if _OUTCOME_RANK[outcome] > _OUTCOME_RANK[result.outcome]:
            result.outcome = outcome
            if outcome == "xfailed":
                result.message = str(getattr(report, "wasxfail", ""))[:300]
            elif outcome != "passed":
                prefix = "" if report.when == "call" else f"[{report.when}] "
                result.message = prefix + _short(report)
        if report.when == "teardown":
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    # The CLI logs INFO to stderr; the suite's own INFO lines (servers, tables) would tear the progress bar.
    root = logging.getLogger()
    old = root.level
    root.setLevel(max(old, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(old)


def run_contract_suite(
    stores: Sequence[ContractStore],
    *,
    quick: bool = False,
    extra_args: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    diff_examples: int | None = None,
) -> ContractRun:
    """Run the contract suite once against ``stores`` (deduplicated) and collect every test's outcome.

    ``extra_args`` go to pytest as they are (``-k``, file selections).
    ``diff_examples`` is passed as ``--diff-examples`` unless
    ``STORESWAP_DIFF_EXAMPLES`` is set (nothing travels through os.environ).  Never raises for test failures; a run that
    could not start (usage error, crash) comes back with ``error`` set.
    """
    unique: dict[Any, ContractStore] = {}
    for s in stores:
        unique.setdefault(s.key, s)
    names = [s.builtin for s in unique.values() if s.builtin is not None]
    if len(names) != len(set(names)):
        raise ValueError("two built-in stores of the same name in one run; evaluate them one at a time")
    args: list[str] = []
    for s in unique.values():
        args += s.args()
    # Everything travels as options: no store URL and no test setting goes through os.environ.
    if diff_examples is not None and not settings.is_set(settings.DIFF_EXAMPLES):
        args += ["--diff-examples", str(diff_examples)]
    collector = ResultCollector(quick=quick, progress=progress)
    out = io.StringIO()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeswap-contract-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        # An empty ini of our own: the caller's pytest configuration (addopts, plugins) must not apply.
        ini.write_text("[pytest]\n", encoding="utf-8")
        full_args = [
            "--pyargs",
            "storeswap.contract_tests",
            "-c",
            str(ini),
            "--rootdir",
            tmp,
            "-p",
            "no:cacheprovider",
            "--capture=sys",
            "-q",
            "--tb=short",
            *args,
            *extra_args,
        ]
        with _quiet_root_logger(), contextlib.redirect_stdout(out):
            try:
                code = int(pytest.main(full_args, plugins=[collector]))
            except Exception as e:  # a crash inside pytest is a finding of the run, not of the stores
                code = int(pytest.ExitCode.INTERNAL_ERROR)
                out.write(f"\n{type(e).__name__}: {e}\n")
    seconds = time.perf_counter() - started
    error = None
    if code not in (int(pytest.ExitCode.OK), int(pytest.ExitCode.TESTS_FAILED)):
        error = f"the contract suite did not run to the end (pytest exit code {code})"
    tail = out.getvalue()[-4000:] if error else ""
    from storeswap.connect import redact_url

    def shown(arg: str) -> str:
        if arg.startswith(tmp):
            return "<temporary>"
        name, sep, url = arg.partition("=")
        return f"{name}={redact_url(url)}" if sep and "://" in url else arg

    shown_args = [shown(a) for a in full_args]
    return ContractRun(shown_args, code, seconds, collector.store_names, list(collector.results.values()), error, tail)
