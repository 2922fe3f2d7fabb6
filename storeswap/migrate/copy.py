"""``copy_table``: a resumable, streaming, parallel copy of one table between any two stores.

Each parallel-scan segment is read page by page (``batch`` items); a page is
written with ``target.bulk_load`` (each adapter's fastest path; a load, so no
change records where the store can skip them) and only then is the segment's cursor checkpointed (:mod:`storeswap.migrate.state`).  A
pool of ``workers`` threads works through the ``segments``; memory is bounded
by ``workers`` pages in flight, whatever the table's size.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Protocol, runtime_checkable

import attrs
from attrs import define

from storeswap.core.errors import ConfigurationError, TableExists
from storeswap.core.port import ItemStore
from storeswap.core.schema import TableSpec
from storeswap.migrate.export_source import ExportSource
from storeswap.migrate.incremental import IncrementalExport, ReplayReport, prepare_chain, replay_incrementals
from storeswap.migrate.sources import ScanSource, StoreSource, as_source
from storeswap.migrate.state import (
    CopyIdentity,
    CopyState,
    FileState,
    Side,
    StateBackend,
    TargetState,
    spec_fingerprint,
)
from storeswap.migrate.transform import TransformedSource

__all__ = [
    "target_holds_items",
    "copy_table",
    "CopyReport",
    "CopyProgress",
    "ensure_target_table",
    "describe_endpoint",
    "copy_identity",
    "state_backend",
    "check_incremental_source",
    "replay_after_copy",
]


@runtime_checkable
class CopyProgress(Protocol):
    """Receives progress of a copy (the CLI's progress bar implements it)."""

    def start(self, total: int | None, done: int) -> None:
        """Called once: the estimated item count (None when unknown) and items already copied by earlier runs."""

    def advance(self, items: int) -> None:
        """Called after each page is written and checkpointed."""


@define(frozen=True)
class CopyReport:
    """What a copy did."""

    table: str
    target_table: str
    source_kind: str
    target_kind: str
    items: int
    items_this_run: int
    seconds: float
    segments: int
    workers: int
    batch: int
    created_table: bool
    resumed: bool
    complete: bool
    state_path: Path | None
    estimated_total: int | None
    #: Where the checkpoint lives (a file or the target's state table), None without one.
    state_where: str | None = None

    @property
    def items_per_second(self) -> float:
        """Items written per second in this run."""
        return self.items_this_run / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, object]:
        """A JSON-able form."""
        out = attrs.asdict(self)
        out["state_path"] = None if self.state_path is None else str(self.state_path)
        out["items_per_second"] = round(self.items_per_second, 1)
        return out


def describe_endpoint(obj: ItemStore | ScanSource) -> str:
    """Which store or source this is, without credentials: the adapter's own (redacted) ``repr``.

    A memory store is ``memory://`` whatever it holds: it lives only in its
    process, so a state that names it is checked against the target table's
    content instead (see :func:`copy_table`).
    """
    src = obj.store if isinstance(obj, StoreSource) else obj
    if getattr(src, "kind", None) == "memory":
        return "memory://"
    return repr(src)


def copy_identity(
    source: ItemStore | ScanSource,
    target: ItemStore,
    table: str,
    *,
    target_table: str | None = None,
    segments: int = 4,
    batch: int = 500,
    spec: TableSpec | None = None,
) -> CopyIdentity:
    """The identity a copy's checkpoint is bound to (reads the source spec unless given).

    For a :class:`TransformedSource` the source side is the source under the
    transform, and the transform's identity is bound too.
    """
    src = as_source(source)
    transform = None
    if isinstance(src, TransformedSource):
        transform, src, spec = src.identity, src.source, None
    spec = spec or src.describe(table)
    return CopyIdentity(
        Side(src.kind, describe_endpoint(src), table, spec_fingerprint(spec)),
        Side(target.kind, describe_endpoint(target), target_table or table),
        segments,
        batch,
        transform,
    )


def state_backend(
    target: ItemStore, table: str, target_table: str, state_path: Path | str | None, in_target: bool
) -> StateBackend | None:
    """Where the checkpoint lives: in the target (``in_target``), in ``state_path``, or nowhere."""
    if in_target:
        if state_path is not None:
            raise ConfigurationError("give either a state file or --state-in-target, not both")
        return TargetState(target, table, target_table)
    return None if state_path is None else FileState(state_path)


def target_holds_items(target: ItemStore, target_table: str) -> bool:
    """True when ``target_table`` exists on ``target`` and holds at least one item."""
    if not target.table_exists(target_table):
        return False
    page = target.scan(target_table, limit=1, consistent=True)
    while not page.items and page.cursor is not None:  # an empty page with a cursor is allowed (Q2)
        page = target.scan(target_table, limit=1, cursor=page.cursor, consistent=True)
    return bool(page.items)


def _same_keys(a: TableSpec, b: TableSpec) -> bool:
    return (a.partition_key, a.sort_key) == (b.partition_key, b.sort_key)


def ensure_target_table(spec: TableSpec, target: ItemStore, target_table: str) -> bool:
    """Create ``target_table`` with ``spec`` renamed, unless it exists with the same keys; True when created."""
    wanted = attrs.evolve(spec, name=target_table)
    if target.table_exists(target_table):
        existing = target.describe_table(target_table)
        if not _same_keys(existing, wanted):
            raise ConfigurationError(
                f"target table {target_table} exists with another key schema "
                f"({existing.partition_key}, {existing.sort_key}) than the source's "
                f"({wanted.partition_key}, {wanted.sort_key})"
            )
        return False
    try:
        target.create_table(wanted)
    except TableExists:  # created concurrently by another run: fine when the keys agree
        return ensure_target_table(spec, target, target_table)
    return True


def copy_table(
    source: ItemStore | ScanSource,
    target: ItemStore,
    table: str,
    *,
    target_table: str | None = None,
    segments: int = 4,
    workers: int = 4,
    batch: int = 500,
    state_path: Path | str | None = None,
    state_in_target: bool = False,
    restart: bool = False,
    progress: CopyProgress | Callable[[int], None] | None = None,
) -> CopyReport:
    """Copy every item of ``table`` from ``source`` into ``target`` (table ``target_table``, default the same name).

    Creates the target table when absent (same spec, renamed).  With
    ``state_path`` the copy checkpoints each segment after every written page
    and a later call with the same arguments resumes where a killed run
    stopped: no item is lost, and none is duplicated since re-writing a page
    replaces each item under its own key.  With ``state_in_target`` the
    checkpoint is an item of the target's ``storeswap_migrate_state`` table
    instead of a file.  A stored state must belong to this very copy (source,
    target, tables, source spec, ``segments``, ``batch``), and one that
    records progress while the target table is missing or empty is refused:
    its items are not there.  ``restart`` forgets the stored state first.
    Does not run ``check``; the CLI does that first.
    """
    if segments < 1 or workers < 1 or batch < 1:
        raise ConfigurationError("segments, workers and batch must be at least 1")
    src = as_source(source)
    target_table = target_table or table
    inner = src.source if isinstance(src, TransformedSource) else src
    if isinstance(inner, StoreSource) and inner.store is target and target_table == table:
        raise ConfigurationError("the source and target are the same table")
    spec = src.describe(table)
    identity = copy_identity(src, target, table, target_table=target_table, segments=segments, batch=batch, spec=spec)
    backend = state_backend(target, table, target_table, state_path, state_in_target)
    if restart and backend is not None:
        backend.clear()
    state = CopyState.load_or_new(backend, identity)
    if state.count > 0 and backend is not None and not target_holds_items(target, target_table):
        # The checkpoint says items were written, the target says otherwise: another (or a new) store.
        where = "does not exist" if not target.table_exists(target_table) else "is empty"
        raise ConfigurationError(
            f"{backend.where} records {state.count} items copied, but table {target_table} on the target {where}; "
            "rerun with --restart to copy again"
        )
    created = ensure_target_table(spec, target, target_table)
    path = None if state_path is None else Path(state_path)
    resumed = state.resumed
    before = state.count
    estimate = src.estimate_count(table)
    if isinstance(progress, CopyProgress):
        progress.start(estimate, before)
        advance: Callable[[int], None] | None = progress.advance
    else:
        advance = progress
    state.save()

    stop = threading.Event()
    # The items of a store's pages go straight into the target's bulk_load and nowhere else: when the target
    # only reads them (bulk_reads_only), the source need not copy them (decision 0033).  A transform is user
    # code that may change its items, so a TransformedSource reads copies.
    shared = src if isinstance(src, StoreSource) and target.bulk_reads_only else None

    def run_segment(seg: int) -> None:
        st = state.segments[seg]
        if st.done:
            return
        if shared is not None:
            pages = shared.pages(table, seg, segments, st.cursor, batch, shared=True)
        else:
            pages = src.pages(table, seg, segments, st.cursor, batch)
        for page in pages:
            if stop.is_set():
                return
            if page.items:
                target.bulk_load(target_table, page.items)
            state.advance(seg, page.cursor, len(page.items))
            if advance is not None and page.items:
                advance(len(page.items))

    started = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=min(workers, segments), thread_name_prefix="storeswap-copy")
    futures: list[Future[None]] = []
    try:
        futures = [pool.submit(run_segment, s) for s in sorted(state.segments)]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = [f for f in done if f.exception() is not None]
        if failed:
            stop.set()
            wait(futures)
            raise failed[0].exception()  # type: ignore[misc]
    except BaseException:
        # Ctrl-C or a failure: let running pages finish so every checkpoint matches what was written.
        stop.set()
        for f in futures:
            f.cancel()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
    seconds = time.perf_counter() - started
    return CopyReport(
        table=table,
        target_table=target_table,
        source_kind=src.kind,
        target_kind=target.kind,
        items=state.count,
        items_this_run=state.count - before,
        seconds=seconds,
        segments=segments,
        workers=min(workers, segments),
        batch=batch,
        created_table=created,
        resumed=resumed,
        complete=state.done,
        state_path=path,
        estimated_total=estimate,
        state_where=None if backend is None else backend.where,
    )


def check_incremental_source(
    source: ScanSource, incrementals: Sequence[Path | str], *, checksums: bool = True
) -> list[IncrementalExport]:
    """Before a copy with ``--apply-incremental``: the source is a full export and the chain is whole.

    Raises :class:`ConfigurationError` (an :class:`ExportWindowGap` for a
    gap) or :class:`ChecksumMismatch` (unless ``checksums=False``), so a bad
    chain is refused before the full copy starts rather than after it.
    """
    if not isinstance(source, ExportSource):
        raise ConfigurationError("--apply-incremental needs --source dynamodb-export:FULL (a full export)")
    chain, _ = prepare_chain(list(incrementals), full_export=source, checksums=checksums)
    return chain


def replay_after_copy(
    source: ExportSource,
    target: ItemStore,
    table: str,
    incrementals: Sequence[IncrementalExport] | Sequence[Path | str],
    *,
    target_table: str | None = None,
    segments: int = 4,
    batch: int = 500,
    state_path: Path | str | None = None,
    state_in_target: bool = False,
    checksums: bool = True,
) -> ReplayReport:
    """Replay incremental exports onto the copy of ``source`` (a full export), checkpointing in the copy's state.

    The copy's state (the same ``state_path`` / ``state_in_target`` and
    parameters as the :func:`copy_table` call) must record a finished copy;
    the replay's :class:`~storeswap.migrate.incremental.ReplayCheckpoint`
    is stored in it after each acknowledged batch, so a rerun resumes the
    replay where it stopped (and does not copy the full export again).
    """
    target_table = target_table or table
    identity = copy_identity(source, target, table, target_table=target_table, segments=segments, batch=batch)
    backend = state_backend(target, table, target_table, state_path, state_in_target)
    state = CopyState.load_or_new(backend, identity)
    if backend is not None and not state.done:
        raise ConfigurationError(f"{backend.where} records an unfinished copy; finish the copy before the replay")
    return replay_incrementals(
        target,
        target_table,
        list(incrementals),  # type: ignore[arg-type]
        full_export=source,
        checksums=checksums,
        checkpoint=state.incremental,
        on_checkpoint=lambda cp: state.record_incremental(cp.to_dict()),
    )
