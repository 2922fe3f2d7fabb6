"""``evaluate``: the readiness check, the contract suite, the migration and the benchmark, then a verdict.

:func:`evaluate` takes stores (or, for the source, any scan source such as a
DynamoDB export) that are already open — so tests can hand it a deliberately
broken store — and returns the :class:`~storeswap.evaluate.document.Evaluation`;
:func:`storeswap.evaluate.report.write_evaluation` writes it as
``results.json`` and the report.  The CLI (:mod:`storeswap.cli.evaluate`)
opens the stores, loads the built-in sample tables when no table is named,
and shows progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs
from attrs import define, field

from storeswap.core.errors import ConfigurationError, TableNotFound
from storeswap.core.port import ItemStore
from storeswap.evaluate.document import (
    RESULTS_SCHEMA,
    AppTestsEvaluation,
    AppTestsRun,
    ContractEvaluation,
    EndpointInfo,
    Evaluation,
    LiveEvaluation,
    Step,
    TableEvaluation,
)
from storeswap.evaluate.live import LiveOptions, live_table_names, run_live
from storeswap.evaluate.profile import Profiler, ProfilingSource, profile_table, requirement_usage
from storeswap.evaluate.suite_target import ContractStore
from storeswap.evaluate.verdict import decide
from storeswap.migrate.sources import ScanSource, as_source

__all__ = ["Endpoint", "Progress", "EvaluateOptions", "evaluate", "RESULTS_SCHEMA", "requirement_titles"]
_CHECK_KINDS = ("memory", "postgres", "dynamodb")
#: Examples of the differential test in a full run (it costs about 15 s per example on moto).
DIFF_EXAMPLES = 5


class Progress(Protocol):
    """Receives progress: a new step (with a total when known), then updates within it."""

    def step(self, description: str, total: int | None = None) -> None:
        """A new step starts."""

    def update(self, completed: int, total: int | None = None) -> None:
        """``completed`` of ``total`` units of the current step are done."""


class _Silent:
    def step(self, description: str, total: int | None = None) -> None:
        pass

    def update(self, completed: int, total: int | None = None) -> None:
        pass


@define
class Endpoint:
    """One side of the evaluation: what is read or written, how the report names it, how the suite reaches it.

    ``store`` is an :class:`ItemStore`, or for the source any
    :class:`~storeswap.migrate.sources.ScanSource` (a DynamoDB export).
    ``contract`` is how the contract suite reaches the store (None: it cannot;
    for the target that makes the verdict UNKNOWN).
    """

    store: ItemStore | ScanSource
    label: str
    contract: ContractStore | None = None
    info: dict[str, Any] = field(factory=dict)

    @property
    def kind(self) -> str:
        """The store's (or source's) kind."""
        return self.store.kind

    def describe(self) -> EndpointInfo:
        """The document's view of this side (no credentials: ``label`` is redacted by the caller)."""
        if not self.info:
            from storeswap.benchmarks.environment import describe_store

            self.info = describe_store(self.label, self.store)
        contract = (
            None if self.contract is None else {"builtin": self.contract.builtin, "factory": self.contract.factory}
        )
        return EndpointInfo(self.label, self.kind, self.info, contract)


@define
class EvaluateOptions:
    """What to run and how much of it."""

    quick: bool = False
    contract: bool = True
    bench: bool = True
    #: Extra pytest arguments for the contract suite (``-k``, file selections).
    contract_args: Sequence[str] = ()
    #: Timed calls per operation and store; default 100, or 30 with ``quick``.
    bench_ops: int | None = None
    #: Items read to profile a table when the readiness check could not (it profiles on its own scan).
    profile_limit: int = 20_000
    #: Delete target tables that already exist instead of refusing to run.
    replace_target: bool = False
    seed: int = 1
    #: The team's own test command (``--app-tests``), run through the gateway; None: not asked for.
    app_tests: str | None = None
    #: Seconds one run of the app tests may take before it counts as not finished (UNKNOWN).
    app_tests_timeout: float | None = 1800.0
    #: ``--live``: migrate under a background writer, follow, catch up, cut-over check; None: not asked for.
    live: LiveOptions | None = None

    def ops(self) -> int:
        """Timed calls per operation and store."""
        return self.bench_ops if self.bench_ops is not None else (30 if self.quick else 100)


def requirement_titles() -> dict[str, str]:
    """Every requirement id with its title (docs/semantics.md), the swap section (M) included."""
    from storeswap.contract_tests.requirements import REQUIREMENTS

    return dict(REQUIREMENTS)


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip()[:500]


def _scratch_name(table: str) -> str:
    return "storeswap_eval_scratch_" + hashlib.sha256(table.encode("utf-8")).hexdigest()[:10]


def _contract_step(
    source: Endpoint, target: Endpoint, options: EvaluateOptions, progress: Progress
) -> ContractEvaluation:
    out = ContractEvaluation(titles=requirement_titles())
    if not options.contract:
        out.step = Step.skipped("--no-contract", by_user=True)
        return out
    if target.contract is None:
        out.step = Step.skipped(
            f"the suite cannot reach the target ({type(target.store).__name__}, kind {target.kind!r}, is not a "
            "built-in adapter): give its factory with --target-factory module:callable"
        )
        return out
    try:
        from storeswap.evaluate.contract import run_contract_suite
    except ImportError as e:
        out.step = Step.skipped(f"pytest is not installed: pip install 'storeswap[test]' ({e})")
        return out
    sides = [s for s in (source, target) if s.contract is not None]
    if source.contract is None:
        out.note = (
            f"the source is a {source.kind}: there is no source adapter to test"
            if not isinstance(source.store, ItemStore)
            else "the suite cannot reach the source store (give --source-factory for it)"
        )
    if (
        source.contract is not None
        and source.contract.key != target.contract.key
        and source.contract.builtin is not None
        and source.contract.builtin == target.contract.builtin
    ):
        # Same built-in name, two servers: one run cannot hold both under one name.  The adapter under
        # test is the same code; check it against the target, where the data is going.
        sides = [target]
        out.note = f"source and target are both {target.contract.builtin} stores: the suite ran against the target only"
    progress.step("contract suite", None)
    try:
        run = run_contract_suite(
            [s.contract for s in sides if s.contract is not None],
            quick=options.quick,
            extra_args=options.contract_args,
            progress=lambda done, total: progress.update(done, total),
            diff_examples=None if options.quick else DIFF_EXAMPLES,
        )
    except Exception as e:
        out.step = Step.error(f"the contract suite could not run: {_error_text(e)}")
        return out
    out.run = run
    if run.error is not None:
        out.step = Step.error(run.error)
        return out
    out.step = Step.ok()
    unique: list[ContractStore] = []
    for side in sides:
        if side.contract is not None and all(side.contract.key != u.key for u in unique):
            unique.append(side.contract)
    builtin_names = [c.builtin for c in unique if c.builtin is not None]
    factory_names = [n for n in run.stores if n not in builtin_names]
    names: dict[Any, str] = {}
    for c in unique:
        if c.builtin is not None:
            names[c.key] = c.builtin
        elif factory_names:
            names[c.key] = factory_names.pop(0)
    for role, side in (("source", source), ("target", target)):
        if side.contract is not None and any(side is s for s in sides):
            setattr(out.roles, role, names.get(side.contract.key))
    if out.roles.target is not None and not any(out.roles.target in t.stores for t in run.results):
        out.step = Step.error(f"no contract test ran on the target ({out.roles.target})")
    return out


def _check_step(
    source: Endpoint, target: Endpoint, entry: TableEvaluation, options: EvaluateOptions, progress: Progress
) -> list[Any]:
    from storeswap.migrate import check_table

    table = entry.name
    progress.step(f"{table}: readiness check", None)
    kind = target.kind if target.kind in _CHECK_KINDS else None
    # The check reads every item anyway: profile the table (and sample benchmark keys) on the way.
    profiler = Profiler(entry.spec)
    try:
        entry.check_report = check_table(
            ProfilingSource(source.store, profiler),
            table,
            target_kind=kind,
            target=target.store if isinstance(target.store, ItemStore) else None,
        )
        entry.check = Step.ok()
        profile, sample = profiler.result()
    except Exception as e:
        entry.check = Step.error(_error_text(e))
        progress.step(f"{table}: reading items", None)
        profile, sample = profile_table(source.store, table, limit=options.profile_limit)
    entry.profile = profile
    entry.requirements = requirement_usage(entry.spec, profile, list(requirement_titles()))
    return sample


def _migrate_step(source: Endpoint, target: Endpoint, entry: TableEvaluation, progress: Progress) -> None:
    from storeswap.migrate import copy_table, verify_tables

    table, target_table = entry.name, entry.target_table
    profile = entry.profile
    total = profile.items_read if profile is not None and profile.complete else None
    progress.step(f"{table}: copying to {target.kind}", total)
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        progress.update(done[0], total)

    assert isinstance(target.store, ItemStore)
    try:
        entry.copy_report = copy_table(source.store, target.store, table, target_table=target_table, progress=advance)
        entry.copy = Step.ok()
    except Exception as e:
        entry.copy = Step.error(_error_text(e))
        entry.copy_traceback = traceback.format_exc(limit=8)
        entry.verify = Step.skipped("the copy failed")
        return
    progress.step(f"{table}: verifying", None)
    try:
        entry.verify_report = verify_tables(source.store, target.store, table, target_table, max_details=20)
        entry.verify = Step.ok()
    except Exception as e:
        entry.verify = Step.error(_error_text(e))


def _bench_step(
    source: Endpoint,
    target: Endpoint,
    entry: TableEvaluation,
    sample: list[Any],
    options: EvaluateOptions,
    progress: Progress,
) -> None:
    from storeswap.benchmarks.access_patterns import AccessPatternWorkload, run_interleaved

    table, target_table = entry.name, entry.target_table
    if not options.bench:
        entry.bench = Step.skipped("--no-bench", by_user=True)
        return
    if not isinstance(source.store, ItemStore):
        entry.bench = Step.skipped(f"the source is a {source.kind}, not a store whose calls can be timed")
        return
    if entry.copy.status != "ok":
        entry.bench = Step.skipped("the copy failed, so the target has nothing to read")
        return
    assert isinstance(target.store, ItemStore)
    try:
        workload = AccessPatternWorkload(entry.spec, sample)
    except ValueError as e:
        entry.bench = Step.error(str(e))
        return
    scratch = _scratch_name(table)
    names = ("source", "target")
    progress.step(f"{table}: benchmark setup", None)
    try:
        workload.bind(source.store, table, scratch)
        workload.bind(target.store, target_table, scratch)
        progress.step(f"{table}: benchmark ({len(workload.ops)} operations x {options.ops()} calls per store)", None)
        result = run_interleaved(
            workload,
            list(zip(names, (source.store, target.store))),
            per_op=options.ops(),
            warmup=5 if options.quick else 10,
            seed=options.seed,
            progress=lambda done, total: progress.update(done, total),
        )
        result["scratch_table"] = scratch
        result["sample_keys"] = workload.key_count()
        entry.bench_result = result
        entry.bench = Step.ok()
    except Exception as e:
        entry.bench = Step.error(_error_text(e))
    finally:
        workload.unbind(source.store)
        workload.unbind(target.store)


def _live_step(
    source: Endpoint, target: Endpoint, entry: TableEvaluation, live: LiveOptions, progress: Progress
) -> None:
    if not isinstance(source.store, ItemStore):
        src_table, dst_table = live_table_names(entry.name, live.on)
        entry.live = LiveEvaluation(live.rate, live.seconds, live.on, src_table, dst_table)
        entry.live.step = Step.skipped(f"the source is a {source.kind}: there is no store to write to and no stream")
        return
    assert isinstance(target.store, ItemStore)
    entry.live = run_live(source.store, target.store, entry, live, progress)


def _app_tests_run(outcome: Any) -> AppTestsRun:
    return AppTestsRun(
        outcome.store_kind, outcome.exit_status, round(outcome.duration_s, 3), outcome.passed, outcome.failed,
        outcome.skipped, outcome.timed_out, outcome.error, outcome.output_tail,
    )  # fmt: skip


def _app_tests_step(
    source: Endpoint, target: Endpoint, options: EvaluateOptions, progress: Progress
) -> AppTestsEvaluation:
    """Run the team's command through a gateway over the target, and against the source where it is reachable.

    The source run goes to a DynamoDB source's own endpoint when it is a
    local one (an emulator); never to AWS itself, where the suite would write
    to a real account.  Another store (memory, PostgreSQL) is served through a
    gateway too; an export cannot be run against.
    """
    assert options.app_tests is not None
    entry = AppTestsEvaluation(options.app_tests)
    try:
        from storeswap.gateway.app_tests import compare_outcomes, run_app_tests

        progress.step("running the app tests against the target", None)
        assert isinstance(target.store, ItemStore)
        on_target = run_app_tests(options.app_tests, target.store, timeout=options.app_tests_timeout)
        entry.target = _app_tests_run(on_target)
        on_source = None
        store = source.store
        if not isinstance(store, ItemStore):
            entry.source_skipped = "the source is an export, not a store the tests can reach"
        elif store.kind == "dynamodb":
            endpoint = getattr(getattr(store, "config", None), "endpoint_url", None)
            if endpoint is None:
                entry.source_skipped = "the source is AWS DynamoDB itself: the tests would write to a real account"
            else:
                progress.step("running the app tests against the source", None)
                placeholders = {
                    "AWS_ACCESS_KEY_ID": "storeswap",
                    "AWS_SECRET_ACCESS_KEY": "storeswap",
                    "AWS_REGION": "us-east-1",
                    "AWS_DEFAULT_REGION": "us-east-1",
                }
                env = {k: os.environ.get(k, v) for k, v in placeholders.items()}
                on_source = run_app_tests(
                    options.app_tests, None, endpoint_url=endpoint, env=env, timeout=options.app_tests_timeout
                )
        else:
            progress.step("running the app tests against the source", None)
            on_source = run_app_tests(options.app_tests, store, timeout=options.app_tests_timeout)
        if on_source is not None:
            entry.source = _app_tests_run(on_source)
        decision = compare_outcomes(on_target, on_source)
        entry.verdict = decision.verdict
        entry.reasons = list(decision.reasons)
        entry.regressions = list(decision.regressions)
        entry.step = Step.ok()
    except Exception as e:
        entry.step = Step.error(_error_text(e))
    return entry


def _prepare_target(target: ItemStore, table: str, replace: bool) -> None:
    if not target.table_exists(table):
        return
    if not replace:
        raise ConfigurationError(
            f"table {table} already exists on the target: evaluate copies into a new table "
            "(name another with --target-table, or delete it)"
        )
    with contextlib.suppress(TableNotFound):
        target.delete_table(table)


def evaluate(
    source: Endpoint,
    target: Endpoint,
    tables: Sequence[str],
    *,
    target_tables: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    options: EvaluateOptions | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Evaluation:
    """Evaluate moving ``tables`` from ``source`` to ``target``; returns the evaluation with its verdict.

    Steps, in order: the readiness check (and a read of the table to profile
    it), the contract suite against the target (and the source where it
    reaches it), the copy into the target with a verify, and the
    access-pattern benchmark of both stores; with ``options.live`` the live
    migration last (:mod:`storeswap.evaluate.live`); then the verdict
    (:func:`storeswap.evaluate.verdict.decide`).  A step that fails is
    recorded and the run goes on, so the report says what broke.
    """
    options = options or EvaluateOptions()
    progress = progress or _Silent()
    if source.store is target.store:
        raise ConfigurationError("the source and the target are the same store")
    if not isinstance(target.store, ItemStore):
        raise ConfigurationError("the target of an evaluation is a store (an export can only be a source)")
    if not tables:
        raise ConfigurationError("name at least one table to evaluate")
    from storeswap.benchmarks.environment import EMULATORS, collect_environment

    started_at = datetime.now(UTC)
    started = clock()
    target_tables = dict(target_tables or {})
    reader = as_source(source.store)
    entries: list[TableEvaluation] = []
    for table in tables:
        spec = reader.describe(table)  # TableNotFound here is the user's typo: let it out
        target_table = target_tables.get(table, table)
        _prepare_target(target.store, target_table, options.replace_target)
        entries.append(TableEvaluation(table, target_table, (descriptions or {}).get(table), spec))
    ev = Evaluation(
        started=started_at.isoformat(timespec="seconds"),
        options={
            "quick": options.quick,
            "contract": options.contract,
            "bench": options.bench,
            "contract_args": list(options.contract_args),
            "bench_ops": options.ops(),
            "profile_limit": options.profile_limit,
            "seed": options.seed,
            "app_tests": options.app_tests,
            "live": None if options.live is None else attrs.asdict(options.live),
        },
        source=source.describe(),
        target=target.describe(),
        tables=entries,
    )
    samples: dict[str, list[Any]] = {}
    t0 = clock()
    for entry in entries:
        samples[entry.name] = _check_step(source, target, entry, options, progress)
    ev.timings["check_s"] = clock() - t0

    t0 = clock()
    ev.contract = _contract_step(source, target, options, progress)
    ev.timings["contract_s"] = clock() - t0

    t0 = clock()
    for entry in entries:
        _migrate_step(source, target, entry, progress)
    ev.timings["migration_s"] = clock() - t0

    if options.app_tests is not None:
        t0 = clock()
        ev.app_tests = _app_tests_step(source, target, options, progress)
        ev.timings["app_tests_s"] = clock() - t0

    t0 = clock()
    for entry in entries:
        _bench_step(source, target, entry, samples[entry.name], options, progress)
    ev.timings["bench_s"] = clock() - t0

    if options.live is not None:
        # Last: the writer changes the (live source) table, and nothing after it reads the table.
        t0 = clock()
        for entry in entries:
            _live_step(source, target, entry, options.live, progress)
        ev.timings["live_s"] = clock() - t0

    ev.emulators = [
        side.label
        for side in (ev.source, ev.target)
        if side.store.get("emulator") or side.store.get("implementation") in EMULATORS
    ]
    ev.environment = collect_environment()
    ev.finished = datetime.now(UTC).isoformat(timespec="seconds")
    ev.seconds = clock() - started
    ev.verdict = decide(ev)
    return ev
