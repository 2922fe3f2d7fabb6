"""Follow a copy with the source's change stream: record positions before the copy, replay after it.

``migrate --follow`` is two calls around :func:`~storeswap.migrate.copy.copy_table`:

1. :func:`start_follow`, before the copy: refuses a source table without a
   stream, and records ``latest_position`` (every shard) in the copy's own
   state (``CopyState.follow``).  A resumed copy keeps the position it
   recorded on its first run; a copy that was started without one is refused,
   since the changes made since it began are not known.
2. :func:`follow_changes`, after the copy: reads pages of change records from
   the recorded position, applies them to the target and checkpoints the new
   position in the same state only after the target acknowledged the writes.

Replay is idempotent: each record becomes a full-image upsert of its item
(the new image of a NEW_IMAGE / NEW_AND_OLD_IMAGES stream; for KEYS_ONLY /
OLD_IMAGE the item re-read from the source, consistently) or a delete by key.
Record order is kept per item: within a page only the last record of each
key is applied (the images are whole, so the result equals applying them all
in order), a page's keys are split over ``workers`` threads by key (so one
key's write goes to one worker), and pages are applied one after another in
stream order.  A rerun after a kill resumes at the last checkpoint and re-applies at
most one page, which changes nothing.  A position behind the stream's
retention window raises :class:`FollowPositionExpired`: records were trimmed,
so the only safe way on is a new copy (``--restart``); nothing is skipped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from attrs import define

from storeswap.core.changes import END, MAX_CHANGES_LIMIT, ChangeRecord, decode_position
from storeswap.core.errors import ConfigurationError, StoreError, StreamPositionExpired
from storeswap.core.port import ItemStore
from storeswap.core.requests import BatchDelete
from storeswap.core.schema import TableSpec
from storeswap.core.values import Item, Key
from storeswap.migrate.copy import copy_identity, state_backend
from storeswap.migrate.sources import StoreSource
from storeswap.migrate.state import CopyState

__all__ = [
    "FollowPositionExpired",
    "FollowReport",
    "check_followable",
    "follow_source",
    "start_follow",
    "follow_changes",
    "STATUS_INTERVAL_S",
]

_BATCH_WRITE_MAX = 25
#: How often the follower's status (lag, records/s) in its checkpoint is refreshed, in seconds.
STATUS_INTERVAL_S = 1.0


class FollowPositionExpired(StreamPositionExpired):
    """The follower's checkpointed position lies behind the source stream's retention window.

    Records after it were trimmed, so the target cannot be brought up to date
    from the stream: recopy with ``--restart`` (onto an empty target table).
    """


@define(frozen=True)
class FollowReport:
    """What one run of the follower did, and where it stands."""

    table: str
    target_table: str
    #: Change records read and applied by this run.
    records: int
    #: Records applied by every run so far (this one included).
    records_total: int
    puts: int
    deletes: int
    seconds: float
    #: True when the run ended on an empty page (nothing left to replay at that moment).
    caught_up: bool
    #: Per shard, records behind the source's end when the run ended (None where sequences are not dense).
    lag_records: dict[str, int | None]
    #: Seconds between the creation of the last applied record and the run's end (None: no record, or no time).
    lag_seconds: float | None
    position: str

    @property
    def records_per_second(self) -> float:
        """Records applied per second in this run."""
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for the CLI."""
        lag = ", ".join(f"{k}: {'?' if v is None else v}" for k, v in sorted(self.lag_records.items()))
        state = "caught up" if self.caught_up else "stopped"
        return (
            f"followed {self.table}: {self.records} change records this run ({self.puts} puts, {self.deletes} "
            f"deletes) in {self.seconds:.1f}s, {self.records_per_second:,.0f} records/s, {self.records_total} "
            f"since the copy started; {state}; lag in records per shard: {lag or 'none'}"
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "table": self.table,
            "target_table": self.target_table,
            "records": self.records,
            "records_total": self.records_total,
            "puts": self.puts,
            "deletes": self.deletes,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "caught_up": self.caught_up,
            "lag_records": self.lag_records,
            "lag_seconds": self.lag_seconds,
        }


def check_followable(source: ItemStore, table: str) -> TableSpec:
    """The source table's spec; a ConfigurationError (one line) when it has no change stream to follow."""
    if not source.supports_change_streams:
        raise ConfigurationError(f"--follow needs a source with change streams; {source.kind} has none")
    spec = source.describe_table(table)
    if spec.stream is None:
        raise ConfigurationError(
            f"table {table} has no change stream to follow; enable one (NEW_AND_OLD_IMAGES or NEW_IMAGE) "
            "before the copy starts"
        )
    return spec


def follow_source(source: object, table: str, *, transformed: bool, incremental: bool, distributed: bool) -> ItemStore:
    """The store behind a ``migrate`` source, for ``--follow``; one ConfigurationError line for what cannot follow.

    Checks the table's stream too (:func:`check_followable`), so a table without one is refused before the copy.
    """
    if transformed or incremental or distributed:
        raise ConfigurationError("--follow works with --engine threads, without --transform or --apply-incremental")
    if not isinstance(source, StoreSource):
        raise ConfigurationError("--follow needs a store as the source (an export has no change stream)")
    check_followable(source.store, table)
    return source.store


def _load_state(
    source: ItemStore,
    target: ItemStore,
    table: str,
    target_table: str,
    segments: int,
    batch: int,
    state_path: Path | str | None,
    state_in_target: bool,
) -> CopyState:
    identity = copy_identity(source, target, table, target_table=target_table, segments=segments, batch=batch)
    backend = state_backend(target, table, target_table, state_path, state_in_target)
    if backend is None:
        raise ConfigurationError("--follow needs a checkpoint (a state file or --state-in-target)")
    return CopyState.load_or_new(backend, identity)


def start_follow(
    source: ItemStore,
    target: ItemStore,
    table: str,
    *,
    target_table: str | None = None,
    segments: int = 4,
    batch: int = 500,
    state_path: Path | str | None = None,
    state_in_target: bool = False,
) -> str:
    """Before the copy: record the source stream's position (every shard) in the copy's state; returns it.

    Call it with the arguments the copy gets.  A state that already holds a
    follow position (a resume) keeps it; a copy that made progress without
    one is refused (rerun with ``--restart``).
    """
    check_followable(source, table)
    target_table = target_table or table
    state = _load_state(source, target, table, target_table, segments, batch, state_path, state_in_target)
    if state.follow is not None:
        return str(state.follow["position"])
    if state.resumed:
        raise ConfigurationError(
            "this copy was started without --follow, so the changes made since it began were not recorded; "
            "rerun with --restart (onto an empty target table) to copy and follow"
        )
    position = source.latest_position(table)
    state.record_follow({"start": position, "position": position, "records": 0})
    return position


def _key_tuple(spec: TableSpec, keys: Key) -> tuple[Any, ...]:
    return tuple(keys[n] for n in spec.key_names)


def _images(source: ItemStore, table: str, records: list[ChangeRecord]) -> list[tuple[Key, Item | None]]:
    """The last record of each key, as (key, full image or None for a delete), in the order keys last changed."""
    spec = source.spec(table)
    last: dict[tuple[Any, ...], ChangeRecord] = {}
    for r in records:
        k = _key_tuple(spec, r.keys)
        last.pop(k, None)  # re-insert: dict order is then the order of each key's last change
        last[k] = r
    out: list[tuple[Key, Item | None]] = []
    for r in last.values():
        if r.kind == "REMOVE":
            out.append((r.keys, None))
        elif r.new_image is not None:
            out.append((r.keys, r.new_image))
        else:  # KEYS_ONLY / OLD_IMAGE: the stream does not carry the new item; the source holds its latest state
            out.append((r.keys, source.get(table, r.keys, consistent=True)))
    return out


def _apply_parallel(
    pool: ThreadPoolExecutor | None,
    workers: int,
    target: ItemStore,
    target_table: str,
    images: list[tuple[Key, Item | None]],
) -> tuple[int, int]:
    """Apply one page's images, split by key over the pool's workers; returns once every worker acknowledged.

    Each key appears once in ``images``, so workers never touch the same item and per-item order holds.
    """
    if pool is None or len(images) < 2:
        return _apply(target, target_table, images)
    groups: list[list[tuple[Key, Item | None]]] = [[] for _ in range(workers)]
    for entry in images:
        groups[hash(tuple(sorted(entry[0].items()))) % workers].append(entry)
    futures = [pool.submit(_apply, target, target_table, g) for g in groups if g]
    results = [f.result() for f in futures]  # re-raises the first failure: nothing is checkpointed then
    return sum(p for p, _ in results), sum(d for _, d in results)


def _apply(target: ItemStore, target_table: str, images: list[tuple[Key, Item | None]]) -> tuple[int, int]:
    puts = [img for _, img in images if img is not None]
    deletes = [key for key, img in images if img is None]
    # Each key appears once, so the puts and the deletes touch disjoint items and may go in any order.
    if puts:
        target.bulk_load(target_table, puts)
    for i in range(0, len(deletes), _BATCH_WRITE_MAX):
        target.batch_write([BatchDelete(target_table, k) for k in deletes[i : i + _BATCH_WRITE_MAX]])
    return len(puts), len(deletes)


def _lag_records(source: ItemStore, table: str, position: str) -> dict[str, int | None]:
    """Per shard, how many records lie between ``position`` and the shard's end (dense sequences only).

    Memory and PostgreSQL number each shard's records 1, 2, 3, ...; DynamoDB's
    sequence numbers only increase, so there the count is unknown.  What is known is asked with one read on
    from ``position`` (at most one record): nothing there means every shard is at its end (0); otherwise a
    shard read to its end (closed) is 0 and the others unknown (None).  Not through ``latest_position``: DynamoDB
    has no call for a shard's end, so finding it reads every shard from its trim horizon, the whole retained
    stream (up to 24 hours); one read per shard instead would cost a DescribeStream per shard.
    """
    dense = source.kind in ("memory", "postgres")
    mine = decode_position(position, table)
    if not dense:
        page = source.changes(table, after=position, limit=1)
        ahead = decode_position(page.position, table).shards
        return {shard: 0 if not page.records or at == END else None for shard, at in ahead.items()}
    end = decode_position(source.latest_position(table), table).shards
    out: dict[str, int | None] = {}
    for shard, last in end.items():
        have = mine.shards.get(shard)
        if last is None or not last.isdigit():
            out[shard] = 0 if have == last else None
        elif have is None or have.isdigit():
            out[shard] = max(0, int(last) - int(have or 0))
        else:
            out[shard] = None
    return out


def _lag_seconds_by_shard(source: ItemStore, table: str, position: str, lag: dict[str, int | None]) -> dict[str, float | None]:
    """Per shard, the age of its oldest record not yet replayed (0 for a shard at its end; None: unknown).

    One read of one record per shard that is behind (``lag`` > 0); a shard
    whose backlog is unknown (DynamoDB) is left unknown rather than read on.
    """
    now = time.time()
    out: dict[str, float | None] = {}
    for shard, behind in lag.items():
        if behind == 0:
            out[shard] = 0.0
        elif behind is None:
            out[shard] = None
        else:
            page = source.changes(table, shard=shard, after=position, limit=1)
            if not page.records:
                out[shard] = 0.0
                continue
            created = page.records[0].created
            # A record with no creation time (a store that does not keep one) leaves the shard's age unknown.
            out[shard] = None if created is None else round(max(0.0, now - created.timestamp()), 3)
    return out


def _status(
    source: ItemStore,
    table: str,
    position: str,
    records: int,
    seconds: float,
    last_created: Any,
    *,
    caught_up: bool,
) -> dict[str, Any]:
    """The follower's status as stored in its checkpoint (``follow.status``), for a reader in another terminal.

    Reading the lag asks the source for its stream's end; when that read fails
    the status says so (``lag_error``, lag unknown) and the replay goes on: a
    status is a measurement, and the next page read reports a real failure.
    """
    lag_error: str | None = None
    by_shard: dict[str, float | None] = {}
    try:
        lag = _lag_records(source, table, position)
        by_shard = _lag_seconds_by_shard(source, table, position, lag)
    except StoreError as e:
        lag, lag_error = {}, f"{type(e).__name__}: {e}"[:300]
    lag_s: float | None
    if caught_up or (lag_error is None and all(v == 0 for v in lag.values())):
        lag_s = 0.0
    else:
        lag_s = None if last_created is None else round(max(0.0, time.time() - last_created.timestamp()), 3)
    return {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "records_this_run": records,
        "records_per_second": round(records / seconds, 1) if seconds > 0 else 0.0,
        "lag_records": lag,
        "lag_seconds": lag_s,
        "lag_seconds_by_shard": by_shard,
        "caught_up": caught_up,
        **({"lag_error": lag_error} if lag_error is not None else {}),
    }


def follow_changes(
    source: ItemStore,
    target: ItemStore,
    table: str,
    *,
    target_table: str | None = None,
    segments: int = 4,
    batch: int = 500,
    state_path: Path | str | None = None,
    state_in_target: bool = False,
    until_caught_up: bool = False,
    stop: threading.Event | None = None,
    max_records: int | None = None,
    poll_s: float = 0.5,
    page_size: int = MAX_CHANGES_LIMIT,
    workers: int = 4,
    progress: Callable[[int], None] | None = None,
    on_status: Callable[[dict[str, Any]], None] | None = None,
) -> FollowReport:
    """After the copy: replay the source's changes from the checkpointed position into the target.

    Runs until ``stop`` is set, until a page comes back empty
    (``until_caught_up``), or until ``max_records`` were applied (a bounded
    run; also how tests stop a follower mid-replay).  KeyboardInterrupt
    between pages leaves the last acknowledged page checkpointed.  The
    copy's state must record a finished copy and a follow position
    (:func:`start_follow`).  ``on_status`` receives each status written to
    the checkpoint (about once a second, and the final one), after it was saved.
    """
    if max_records is not None and max_records < 1:
        raise ConfigurationError("max_records must be at least 1")
    if workers < 1:
        raise ConfigurationError("workers must be at least 1")
    check_followable(source, table)
    target_table = target_table or table
    state = _load_state(source, target, table, target_table, segments, batch, state_path, state_in_target)
    where = state.backend.where if state.backend is not None else "the state"
    if state.follow is None:
        raise ConfigurationError(f"{where} holds no follow position; the copy was not started with --follow")
    if not state.done:
        raise ConfigurationError(f"{where} records an unfinished copy; finish the copy before following")
    checkpoint = dict(state.follow)
    position = str(checkpoint["position"])
    total = int(checkpoint.get("records", 0))
    records = puts = deletes = 0
    caught_up = False
    last_created = None
    started = time.perf_counter()
    status_at = float("-inf")
    # Pages go one after another; within a page, keys are split over the workers (each key once, so
    # no two workers touch one item) and the checkpoint waits for all of them.
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="storeswap-follow") if workers > 1 else None
    try:
        while stop is None or not stop.is_set():
            limit = page_size if max_records is None else min(page_size, max_records - records)
            if limit < 1:
                break
            try:
                page = source.changes(table, after=position, limit=limit)
            except StreamPositionExpired as e:
                raise FollowPositionExpired(
                    f"the follower's stream position on table {table} has expired ({e}); records after it were "
                    "trimmed, so the target cannot catch up from the stream: recopy with --restart onto an empty "
                    "target table"
                ) from None
            if page.records:
                p, d = _apply_parallel(pool, workers, target, target_table, _images(source, table, page.records))
                records += len(page.records)
                total += len(page.records)
                puts += p
                deletes += d
                last_created = page.records[-1].created
            position = page.position
            # Only now, with the writes acknowledged, does the checkpoint move past them.
            checkpoint.update(position=position, records=total)
            now = time.perf_counter()
            if now - status_at >= STATUS_INTERVAL_S:
                # Lag asks the source for its end: refreshed about once a second, not on every page.
                status_at = now
                checkpoint["status"] = _status(source, table, position, records, now - started, last_created,
                                               caught_up=not page.records)  # fmt: skip
                refreshed = True
            else:
                refreshed = False
            state.record_follow(checkpoint)
            if refreshed and on_status is not None:
                on_status({**checkpoint["status"], "records": total})
            if page.records:
                if progress is not None:
                    progress(len(page.records))
                continue
            if until_caught_up:
                caught_up = True
                break
            if stop is not None:
                stop.wait(poll_s)
            else:
                time.sleep(poll_s)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    seconds = time.perf_counter() - started
    final = _status(source, table, position, records, seconds, last_created, caught_up=caught_up)
    checkpoint["status"] = final
    state.record_follow(checkpoint)
    if on_status is not None:
        on_status({**final, "records": total})
    return FollowReport(
        table=table,
        target_table=target_table,
        records=records,
        records_total=total,
        puts=puts,
        deletes=deletes,
        seconds=seconds,
        caught_up=caught_up,
        lag_records=final["lag_records"],
        lag_seconds=final["lag_seconds"],
        position=position,
    )
