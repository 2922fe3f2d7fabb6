"""``evaluate``: the readiness check, the contract suite, the migration and the benchmark, then a verdict.

:func:`evaluate` takes stores that are already open (so tests can hand it a
deliberately broken store) and returns the evaluation document, the content
of ``results.json``; :func:`storeswap.evaluate.report.write_evaluation`
turns it into the report.  The CLI (:mod:`storeswap.evaluate.commands`)
opens the stores, loads the built-in sample tables when no table is named,
and shows progress.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from attrs import define, field

from storeswap.core.errors import ConfigurationError, TableNotFound
from storeswap.core.port import ItemStore
from storeswap.evaluate.profile import Profiler, ProfilingSource, profile_table, requirement_usage
from storeswap.evaluate.verdict import decide

__all__ = ["Endpoint", "Progress", "EvaluateOptions", "evaluate", "RESULTS_SCHEMA", "requirement_titles"]

RESULTS_SCHEMA = "storeswap-evaluate/1"
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
    """One side of the evaluation: an open store, how the report names it, and how the contract suite reaches it."""

    store: ItemStore
    label: str
    contract: Any = None  # a storeswap.evaluate.contract.ContractStore, or None when the suite cannot reach it
    info: dict[str, Any] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form (no credentials: ``label`` is redacted by the caller)."""
        if not self.info:
            from storeswap.benchmarks.environment import describe_store

            self.info = describe_store(self.label, self.store)
        return {
            "label": self.label,
            "kind": self.store.kind,
            "store": self.info,
            "contract": None
            if self.contract is None
            else {"builtin": self.contract.builtin, "factory": self.contract.factory},
        }


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

    def ops(self) -> int:
        """Timed calls per operation and store."""
        return self.bench_ops if self.bench_ops is not None else (30 if self.quick else 100)


def requirement_titles() -> dict[str, str]:
    """Every requirement id with its title, the swap section (M) included."""
    from storeswap.contract_tests.requirements import REQUIREMENTS

    with contextlib.suppress(ImportError):
        # Importing the swap tests registers section M of docs/semantics.md.
        import storeswap.contract_tests.test_swap  # noqa: F401
    return dict(REQUIREMENTS)


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip()[:500]


def _scratch_name(table: str) -> str:
    return "storeswap_eval_scratch_" + hashlib.sha256(table.encode("utf-8")).hexdigest()[:10]


def _contract_step(
    source: Endpoint, target: Endpoint, options: EvaluateOptions, progress: Progress, doc: dict[str, Any]
) -> None:
    titles = requirement_titles()
    doc["contract"] = {"titles": titles, "roles": {"source": None, "target": None}, "tests": []}
    if not options.contract:
        doc["contract"]["skipped"] = "--no-contract"
        return
    try:
        from storeswap.evaluate.contract import run_contract_suite
    except ImportError as e:
        doc["contract"]["skipped"] = f"pytest is not installed: pip install 'storeswap[test]' ({e})"
        return
    sides = [s for s in (source, target) if s.contract is not None]
    if not sides:
        doc["contract"]["skipped"] = "the suite reaches neither store (pass a --store-factory for them)"
        return
    if (
        source.contract is not None
        and target.contract is not None
        and source.contract.key != target.contract.key
        and source.contract.builtin is not None
        and source.contract.builtin == target.contract.builtin
    ):
        # Same built-in name, two servers: the suite would run one of them twice.  The adapter under
        # test is the same code; check it against the target, where the data is going.
        sides = [target]
        doc["contract"]["note"] = (
            f"source and target are both {target.contract.builtin} stores: the suite ran against the target only"
        )
    progress.step("contract suite", None)
    try:
        run = run_contract_suite(
            [s.contract for s in sides],
            quick=options.quick,
            extra_args=options.contract_args,
            progress=lambda done, total: progress.update(done, total),
            diff_examples=None if options.quick else DIFF_EXAMPLES,
        )
    except Exception as e:
        doc["contract"]["error"] = f"the contract suite could not run: {_error_text(e)}"
        return
    doc["contract"].update(run.to_json())
    doc["contract"]["titles"] = requirement_titles()
    unique: list[Any] = []
    for s in sides:
        if all(s.contract.key != u.key for u in unique):
            unique.append(s.contract)
    builtin_names = [c.builtin for c in unique if c.builtin is not None]
    factory_names = [n for n in run.stores if n not in builtin_names]
    names: dict[Any, str] = {}
    for c in unique:
        if c.builtin is not None:
            names[c.key] = c.builtin
        elif factory_names:
            names[c.key] = factory_names.pop(0)
    for role, side in (("source", source), ("target", target)):
        if side.contract is not None:
            doc["contract"]["roles"][role] = names.get(side.contract.key)


def _check_step(
    source: Endpoint, target: Endpoint, entry: dict[str, Any], options: EvaluateOptions, progress: Progress
) -> list[Any]:
    from storeswap.migrate import check_table

    table = entry["name"]
    progress.step(f"{table}: readiness check", None)
    kind = target.store.kind if target.store.kind in _CHECK_KINDS else None
    spec = source.store.spec(table)
    # The check reads every item anyway: profile the table (and sample benchmark keys) on the way.
    profiler = Profiler(spec)
    try:
        entry["check"] = check_table(ProfilingSource(source.store, profiler), table, target_kind=kind).to_json()
        profile, sample = profiler.result()
    except Exception as e:
        entry["check_error"] = _error_text(e)
        progress.step(f"{table}: reading items", None)
        profile, sample = profile_table(source.store, table, limit=options.profile_limit)
    entry["profile"] = profile.to_json()
    entry["requirements"] = requirement_usage(spec, profile, list(requirement_titles()))
    return sample


def _migrate_step(source: Endpoint, target: Endpoint, entry: dict[str, Any], progress: Progress) -> None:
    from storeswap.migrate import copy_table, verify_tables

    table, target_table = entry["name"], entry["target_table"]
    total = (entry.get("profile") or {}).get("items_read") if (entry.get("profile") or {}).get("complete") else None
    progress.step(f"{table}: copying to {target.store.kind}", total)
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        progress.update(done[0], total)

    try:
        report = copy_table(source.store, target.store, table, target_table=target_table, progress=advance)
        entry["copy"] = report.to_json()
    except Exception as e:
        entry["copy_error"] = _error_text(e)
        entry["copy_traceback"] = traceback.format_exc(limit=8)
        return
    progress.step(f"{table}: verifying", None)
    try:
        entry["verify"] = verify_tables(source.store, target.store, table, target_table, max_details=20).to_json()
    except Exception as e:
        entry["verify_error"] = _error_text(e)


def _bench_step(
    source: Endpoint,
    target: Endpoint,
    entry: dict[str, Any],
    sample: list[Any],
    options: EvaluateOptions,
    progress: Progress,
) -> None:
    from storeswap.benchmarks.access_patterns import AccessPatternWorkload, run_interleaved

    table, target_table = entry["name"], entry["target_table"]
    if entry.get("copy_error"):
        entry["bench"] = {"error": "the copy failed, so the target has nothing to read"}
        return
    try:
        workload = AccessPatternWorkload(source.store.spec(table), sample)
    except ValueError as e:
        entry["bench"] = {"error": str(e)}
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
        entry["bench"] = result
    except Exception as e:
        entry["bench"] = {"error": _error_text(e)}
    finally:
        workload.unbind(source.store)
        workload.unbind(target.store)


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
) -> dict[str, Any]:
    """Evaluate moving ``tables`` from ``source`` to ``target``; returns the evaluation document.

    Steps, in order: the readiness check (and a read of the table to profile
    it), the contract suite against both stores, the copy into the target
    with a verify, and the access-pattern benchmark of both stores; then the
    verdict (:func:`storeswap.evaluate.verdict.decide`).  A step that fails
    is recorded and the run goes on, so the report says what broke.
    """
    options = options or EvaluateOptions()
    progress = progress or _Silent()
    if source.store is target.store:
        raise ConfigurationError("the source and the target are the same store")
    if not tables:
        raise ConfigurationError("name at least one table to evaluate")
    from storeswap.benchmarks.environment import collect_environment

    started_at = datetime.now(UTC)
    started = clock()
    target_tables = dict(target_tables or {})
    entries: list[dict[str, Any]] = []
    for table in tables:
        spec = source.store.describe_table(table)  # TableNotFound here is the user's typo: let it out
        target_table = target_tables.get(table, table)
        _prepare_target(target.store, target_table, options.replace_target)
        entries.append(
            {
                "name": table,
                "target_table": target_table,
                "description": (descriptions or {}).get(table),
                "spec": spec.to_dict(),
            }
        )
    doc: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "started": started_at.isoformat(timespec="seconds"),
        "options": {
            "quick": options.quick,
            "contract": options.contract,
            "bench": options.bench,
            "contract_args": list(options.contract_args),
            "bench_ops": options.ops(),
            "profile_limit": options.profile_limit,
            "seed": options.seed,
        },
        "source": source.to_json(),
        "target": target.to_json(),
        "tables": entries,
        "skipped_steps": [],
        "timings": {},
    }
    samples: dict[str, list[Any]] = {}
    t0 = clock()
    for entry in entries:
        samples[entry["name"]] = _check_step(source, target, entry, options, progress)
    doc["timings"]["check_s"] = clock() - t0

    t0 = clock()
    _contract_step(source, target, options, progress, doc)
    doc["timings"]["contract_s"] = clock() - t0

    t0 = clock()
    for entry in entries:
        _migrate_step(source, target, entry, progress)
    doc["timings"]["migration_s"] = clock() - t0

    t0 = clock()
    if options.bench:
        for entry in entries:
            _bench_step(source, target, entry, samples[entry["name"]], options, progress)
    else:
        doc["skipped_steps"].append("the benchmark (--no-bench)")
    doc["timings"]["bench_s"] = clock() - t0

    from storeswap.benchmarks.environment import EMULATORS

    doc["emulators"] = [
        side["label"]
        for side in (doc["source"], doc["target"])
        if side["store"].get("emulator") or side["store"].get("implementation") in EMULATORS
    ]
    doc["environment"] = collect_environment()
    doc["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    doc["seconds"] = clock() - started
    doc["verdict"] = decide(doc).to_json()
    return doc
