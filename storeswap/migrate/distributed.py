"""A copy whose segments are tasks on an :class:`~storeswap.migrate.engine.Engine` (Dask, or threads).

Every scan segment is one :class:`SegmentTask`: the worker that runs it opens
the source and target itself (by URL, or a picklable source such as the
throughput tool's generated one), reads its segment's checkpoint from the
shared state (:class:`~storeswap.migrate.shared_state.SharedCopyState`),
and writes page by page, moving the checkpoint after each written page.  A
task whose worker dies is re-run by the scheduler on another worker and
resumes from that checkpoint.  Progress is the sum of the checkpoint rows,
polled by the process that started the copy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from attrs import define

from storeswap.connect import open_store, redact_url
from storeswap.core.errors import ConfigurationError
from storeswap.core.port import ItemStore
from storeswap.core.schema import TableSpec
from storeswap.migrate.copy import CopyProgress, CopyReport, copy_identity, ensure_target_table, target_holds_items
from storeswap.migrate.engine import Engine
from storeswap.migrate.read_capacity import attach_read_meter, limit_read_capacity, per_worker_rcu
from storeswap.migrate.shared_state import SharedCopyState
from storeswap.migrate.sources import ScanSource, open_source
from storeswap.migrate.verify import DigestRunner, combine_digests, segment_digests

__all__ = [
    "SegmentTask",
    "run_segment_task",
    "copy_table_on",
    "DigestTask",
    "run_digest_task",
    "digests_on",
    "read_capacity_stats",
]

Endpoint = str | ScanSource

# Stores a worker process opened, by URL: tasks of the same copy share one connection pool per worker.
_opened: dict[str, Any] = {}
_opened_lock = threading.Lock()
#: The ``--max-rcu`` limiter each opened source is paced by now (None: unpaced).
_attached: dict[str, Any] = {}


def _cached(kind: str, url: str, opener: Callable[[str], Any]) -> Any:
    with _opened_lock:
        key = f"{kind}\x00{url}"
        obj = _opened.get(key)
        if obj is None:
            obj = _opened[key] = opener(url)
        return obj


def _open_source(source: Endpoint, checksums: bool = True, max_rcu: float | None = None) -> ScanSource:
    """The worker's source: opened once per URL (and checksum setting), paced once per rate (``--max-rcu``)."""
    if not isinstance(source, str):
        return source
    src: ScanSource = _cached(f"source:{checksums}", source, lambda url: open_source(url, checksums=checksums))
    # One limiter per worker process, source and rate, shared by the worker's threads (this worker's share);
    # attached on every task, so a later copy with another rate, or none, is paced by its own setting only.
    # (Two copies from one source at once on one worker share the source's meter: the last task's wins.)
    limiter = None
    if max_rcu is not None:
        limiter = _cached(f"rcu:{checksums}:{max_rcu!r}", source, lambda _url: limit_read_capacity(src, max_rcu))
    attach_read_meter(src, limiter)
    with _opened_lock:
        _attached[f"{checksums}\x00{source}"] = limiter
    return src


def read_capacity_stats() -> list[dict[str, Any]]:
    """This process's ``--max-rcu`` limiters (one per paced source it opened): rate and what each charged.

    Run it on every worker with ``client.run(read_capacity_stats)`` to see each worker's share at work.
    """
    with _opened_lock:
        limiters = [lim for lim in _attached.values() if lim is not None]
    return [{"max_rcu": lim.max_rcu, **lim.stats.to_json()} for lim in limiters]


def _open_target(url: str) -> ItemStore:
    store: ItemStore = _cached("target", url, open_store)
    return store


def _check_reachable(endpoint: Endpoint, what: str) -> None:
    if isinstance(endpoint, str) and "://" not in endpoint and not endpoint.startswith("dynamodb-export:"):
        raise ConfigurationError(
            f"a distributed engine needs a {what} URL every worker can open, not the bare name {endpoint!r} "
            "(each worker would provision a server of its own)"
        )
    if isinstance(endpoint, str) and endpoint.startswith("memory"):
        raise ConfigurationError(f"a memory:// {what} lives in one process; a distributed engine cannot share it")


@define(frozen=True)
class SegmentTask:
    """One segment of one copy, as sent to a worker."""

    source: Endpoint
    target: str
    table: str
    target_table: str
    segment: int
    total_segments: int
    batch: int
    state: SharedCopyState
    #: this worker's share of --max-rcu (None: unpaced)
    max_rcu: float | None = None
    checksums: bool = True


def run_segment_task(task: SegmentTask) -> int:
    """Copy one segment from its checkpoint on; returns the items written by this run of the task."""
    st = task.state.load(task.segment)
    if st.done:
        return 0
    src = _open_source(task.source, task.checksums, task.max_rcu)
    dst = _open_target(task.target)
    written = 0
    for page in src.pages(task.table, task.segment, task.total_segments, st.cursor, task.batch):
        if page.items:
            dst.bulk_load(task.target_table, page.items)
        task.state.advance(task.segment, page.cursor, len(page.items))
        written += len(page.items)
    return written


def copy_table_on(
    engine: Engine,
    source: Endpoint,
    target: str,
    table: str,
    *,
    state_url: str,
    target_table: str | None = None,
    segments: int = 4,
    batch: int = 500,
    progress: CopyProgress | Callable[[int], None] | None = None,
    restart: bool = False,
    max_rcu: float | None = None,
    checksums: bool = True,
) -> CopyReport:
    """Copy ``table`` with every segment a task on ``engine``; checkpoints in ``state_url`` (PostgreSQL).

    ``source`` is a URL each worker opens (``postgresql://``, ``dynamodb://``,
    ``dynamodb-export:``) or a picklable :class:`ScanSource`; ``target`` a URL.
    A later call with the same arguments resumes from the checkpoints;
    ``restart`` forgets them.  Checkpoints that record items while the target
    table is absent or empty are refused, as for a file checkpoint.
    ``max_rcu`` caps the read capacity taken from a DynamoDB source: each
    worker process gets ``max_rcu / workers`` (:func:`per_worker_rcu`).
    ``checksums=False`` reads export files whose MD5 differs from the manifest.
    """
    if segments < 1 or batch < 1:
        raise ConfigurationError("segments and batch must be at least 1")
    _check_reachable(source, "source")
    _check_reachable(target, "target")
    target_table = target_table or table
    if isinstance(source, str) and source == target and target_table == table:
        raise ConfigurationError("the source and target are the same table")
    src = open_source(source, checksums=checksums) if isinstance(source, str) else source
    dst = open_store(target)
    try:
        share = None
        if max_rcu is not None:
            limit_read_capacity(src, max_rcu)  # refuses a source that is not DynamoDB, before anything runs
            share = per_worker_rcu(max_rcu, engine.processes)
        spec = src.describe(table)
        # The same identity as a file or in-target checkpoint (source, target, spec, segments, batch).
        copy_id = copy_identity(
            src, dst, table, target_table=target_table, segments=segments, batch=batch, spec=spec
        ).digest()
        state = SharedCopyState(state_url, copy_id)
        if restart:
            state.clear()
        segs = state.init(segments)
        recorded = sum(s.count for s in segs.values())
        if recorded > 0 and not target_holds_items(dst, target_table):
            state.close()
            where = "does not exist" if not dst.table_exists(target_table) else "is empty"
            raise ConfigurationError(
                f"the checkpoints at {redact_url(state_url)} record {recorded} items copied, but table "
                f"{target_table} on the target {where}; rerun with --restart to copy again"
            )
        created = ensure_target_table(spec, dst, target_table)
        estimate = src.estimate_count(table)
        target_kind = dst.kind
    finally:
        if isinstance(source, str):
            src.close()
        dst.close()
    try:
        before = sum(s.count for s in segs.values())
        resumed = any(s.done or s.cursor is not None or s.count for s in segs.values())
        if isinstance(progress, CopyProgress):
            progress.start(estimate, before)
            advance: Callable[[int], None] | None = progress.advance
        else:
            advance = progress
        seen = [before]

        def tick() -> None:
            if advance is None:
                return
            total, _ = state.totals()
            if total > seen[0]:
                advance(total - seen[0])
                seen[0] = total

        tasks = [
            SegmentTask(source, target, table, target_table, s, segments, batch, state, share, checksums)
            for s in sorted(segs)
            if not segs[s].done
        ]
        started = time.perf_counter()
        engine.run(run_segment_task, tasks, tick=tick)
        seconds = time.perf_counter() - started
        total, done = state.totals()
    finally:
        state.close()
    return CopyReport(
        table=table,
        target_table=target_table,
        source_kind=src.kind,
        target_kind=target_kind,
        items=total,
        items_this_run=total - before,
        seconds=seconds,
        segments=segments,
        workers=engine.workers,
        batch=batch,
        created_table=created,
        resumed=resumed,
        complete=done,
        state_path=None,
        estimated_total=estimate,
    )


@define(frozen=True)
class DigestTask:
    """One segment of one side of a verify, as sent to a worker."""

    endpoint: Endpoint
    table: str
    spec: TableSpec
    buckets: int
    segment: int
    total_segments: int
    batch: int
    #: this worker's share of --max-rcu (None: unpaced)
    max_rcu: float | None = None


def run_digest_task(task: DigestTask) -> tuple[list[int], list[int]]:
    """Bucket counts and digest sums of one segment, read by the worker itself."""
    src = _open_source(task.endpoint, max_rcu=task.max_rcu)
    return segment_digests(
        src, task.table, task.spec, task.buckets, task.segment, task.total_segments, task.batch
    )


def digests_on(
    engine: Engine, source: Endpoint, target: Endpoint, *, max_rcu: float | None = None
) -> DigestRunner:
    """A ``verify_tables(digests=...)`` runner: every segment of each side is a task on ``engine``.

    ``max_rcu`` caps the source side's reads (a DynamoDB source), ``max_rcu / workers`` per worker process.
    """
    _check_reachable(source, "source")
    _check_reachable(target, "target")
    share = None if max_rcu is None else per_worker_rcu(max_rcu, engine.processes)

    def run(side: str, table: str, spec: TableSpec, buckets: int, segments: int, batch: int) -> Any:
        endpoint = source if side == "source" else target
        rate = share if side == "source" else None
        tasks = [DigestTask(endpoint, table, spec, buckets, s, segments, batch, rate) for s in range(segments)]
        return combine_digests(engine.run(run_digest_task, tasks), buckets)

    return run
