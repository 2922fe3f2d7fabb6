"""The port's change-stream and TTL methods (section S of docs/semantics.md).

:class:`StreamMethods` is a base of :class:`~storeswap.core.port.ItemStore`:
its public methods validate input, decode and encode positions, follow shard
lineage (parents before children) and run the background TTL sweeper; the
adapters implement the primitives (``_stream_info``, ``_read_shard``,
``_set_stream``, ``_set_ttl``, ``_expire``).  A store that has no change
stream keeps the defaults, which raise :class:`NotSupported`; ``_expire``
has a working default built on scan and conditional delete.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, TypeGuard

import attrs

from storeswap.core.changes import (
    END,
    MAX_CHANGES_LIMIT,
    ChangePage,
    ChangeRecord,
    Position,
    Shard,
    ShardRead,
    StreamInfo,
    decode_position,
    encode_position,
    is_expired,
    sequence_order,
)
from storeswap.core.errors import ConditionFailed, NotSupported, StoreCorrupted, StoreError, ValidationError
from storeswap.core.schema import StreamView, TableSpec

if TYPE_CHECKING:
    from storeswap.core.port import ItemStore

__all__ = ["StreamMethods", "TtlSweeper", "STREAM_VIEWS"]

STREAM_VIEWS: tuple[StreamView, ...] = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
_log = logging.getLogger(__name__)


def _check_changes_limit(limit: int | None) -> int:
    if limit is None:
        return MAX_CHANGES_LIMIT
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_CHANGES_LIMIT:
        raise ValidationError(f"limit must be an integer from 1 to {MAX_CHANGES_LIMIT}, not {limit!r}")
    return limit


def _epoch(now: object) -> Decimal:
    if now is None:
        return Decimal(int(time.time()))
    if isinstance(now, bool) or not isinstance(now, (int, float, Decimal)):
        raise ValidationError(f"now is epoch seconds (a number), not {type(now).__name__}")
    # Whole seconds: DynamoDB's TTL granularity, and floats never reach a comparison.
    return Decimal(int(now))


class StreamMethods:
    """Change streams and TTL on the port (mixed into :class:`~storeswap.core.port.ItemStore`)."""

    #: The running background sweeper, once :meth:`start_ttl_sweeper` started one.
    ttl_sweeper: TtlSweeper | None = None

    @property
    def native_ttl_sweeper(self) -> bool:
        """True when the store removes expired items by itself (DynamoDB on AWS); no background sweeper is needed."""
        return False

    if TYPE_CHECKING:

        def spec(self, table: str) -> TableSpec: ...

        def forget(self, table: str | None = None) -> None: ...

        def describe_table(self, name: str) -> TableSpec: ...

    # ------------------------------------------------------------------ public

    @property
    def supports_change_streams(self) -> bool:
        """True when the adapter implements change streams (not the defaults that raise NotSupported)."""
        cls = type(self)
        return all(
            getattr(cls, name) is not getattr(StreamMethods, name) for name in ("_stream_info", "_read_shard", "_set_stream")
        )

    @property
    def supports_ttl_settings(self) -> bool:
        """True when the adapter can enable and disable TTL on an existing table (every store can sweep)."""
        return type(self)._set_ttl is not StreamMethods._set_ttl

    def stream_info(self, table: str, stream: str | None = None) -> StreamInfo:
        """The table's current (or last) stream, or its stream ``stream``: id, view, shards, enabled.

        A ValidationError when the table never had a stream; a stream that no
        longer exists raises :class:`StreamPositionExpired`.
        """
        return self._stream_info(self.spec(table), stream)

    def shards(self, table: str) -> list[Shard]:
        """The shards of the table's stream, every parent before its children (S6)."""
        return self._stream_info(self.spec(table), None).ordered_shards()

    def changes(
        self,
        table: str,
        *,
        shard: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> ChangePage:
        """One page of change records (S3-S8) and the position to resume from.

        ``after=None`` starts at the trim horizon of the table's current (or
        last) stream; a position from an earlier page resumes right after it.
        With ``shard`` only that shard is read; without, every shard is read,
        a parent shard to its end before its children.  A position behind
        the retention window raises :class:`StreamPositionExpired`.
        """
        spec = self.spec(table)
        n = _check_changes_limit(limit)
        if after is None:
            info = self._stream_info(spec, None)
            progress: dict[str, str | None] = {s.id: None for s in info.shards}
        else:
            pos = decode_position(after, table)
            info = self._stream_info(spec, pos.stream)
            progress = dict(pos.shards)
            for s in info.shards:
                progress.setdefault(s.id, None)
        known = {s.id: s for s in info.shards}
        if shard is not None and shard not in known:
            raise ValidationError(f"stream {info.id} of table {table} has no shard {shard!r}")
        records: list[ChangeRecord] = []
        order = [known[shard]] if shard is not None else info.ordered_shards()
        for s in order:
            if len(records) >= n:
                break
            if progress.get(s.id) == END:
                continue
            if shard is None and s.parent is not None and s.parent in known and progress.get(s.parent) != END:
                continue  # S6: a child waits until its parent is read to its end
            read: ShardRead = self._read_shard(spec, info, s, progress.get(s.id), n - len(records))
            for r in read.records:
                progress[s.id] = r.sequence
                records.append(attrs.evolve(r, position=encode_position(Position(table, info.id, progress))))
            progress[s.id] = END if read.exhausted else read.after
        return ChangePage(records, encode_position(Position(table, info.id, progress)))

    def iter_changes(
        self,
        table: str,
        *,
        after: str | None = None,
        follow: bool = False,
        poll_s: float = 1.0,
        stop: threading.Event | None = None,
        until: str | None = None,
    ) -> Iterator[ChangeRecord]:
        """Every record from ``after`` on, across all shards (parents first); ``follow`` waits for more.

        Each record's ``position`` resumes right after it, so a consumer that
        checkpoints it with its own work neither loses nor repeats a record.
        Without ``follow`` the iterator ends when a page comes back empty,
        which on a table whose writes never pause is never; ``until`` (a
        position of this table's stream, such as a :meth:`latest_position`
        taken first) ends it there instead: each shard is read up to it,
        shard by shard, and what was written after it is left for a read from
        the last record's position.  A shard that returns nothing more before
        ``until`` (DynamoDB may return empty pages inside a shard) ends early,
        and its children are not read (S6); what is left is for that read
        too, never skipped.  ``stop`` ends it between pages.  ``until`` and
        ``follow`` do not go together.
        """
        if until is not None:
            if follow:
                raise ValidationError("iter_changes: until= ends the iteration, follow= waits for more; give one")
            yield from self._changes_until(table, after, decode_position(until, table), stop)
            return
        position = after
        while stop is None or not stop.is_set():
            page = self.changes(table, after=position)
            yield from page.records
            position = page.position
            if not page.records:
                if not follow:
                    return
                if stop is not None:
                    stop.wait(poll_s)
                else:
                    time.sleep(poll_s)

    def _changes_until(
        self, table: str, after: str | None, end: Position, stop: threading.Event | None
    ) -> Iterator[ChangeRecord]:
        store: ItemStore = self  # type: ignore[assignment]
        limits = {shard: _until_limit(shard, value) for shard, value in end.shards.items() if value is not None}
        if after is None:  # the trim horizon of `until`'s stream, not of whichever stream is the table's now
            position = encode_position(Position(table, end.stream, {}))
        elif decode_position(after, table).stream != end.stream:
            raise ValidationError("iter_changes: after= and until= are positions of two different streams")
        else:
            position = after
        short: set[str] = set()  # shards that ended before `until` (below), and so their descendants
        for shard in store.stream_info(table, end.stream).ordered_shards():
            if shard.parent is not None and shard.parent in short:
                short.add(shard.id)  # S6: a child waits until its parent is read to its end
                continue
            if shard.id not in limits:
                continue  # the shard did not exist, or held nothing, at `until`: all of it came later
            limit = limits[shard.id]  # None: read the shard to its end (it had closed by `until`)
            while stop is None or not stop.is_set():
                before = decode_position(position, table).shards.get(shard.id)
                page = store.changes(table, shard=shard.id, after=position)
                past = False
                for record in page.records:
                    if limit is not None and sequence_order(record.sequence) > limit:
                        past = True  # written after `until`: left for a read from the position
                        break
                    yield record
                    position = record.position
                if past:
                    break
                position = page.position
                progress = decode_position(position, table).shards.get(shard.id)
                if progress == END or (limit is not None and _is_sequence(progress) and sequence_order(progress) >= limit):
                    break  # the shard is read up to `until`
                if not page.records and progress == before:
                    # Nothing more comes from here now, though `until` lies further on (DynamoDB may return
                    # empty pages inside a shard): what is left stays for a read from the position, never skipped.
                    short.add(shard.id)
                    break
            if stop is not None and stop.is_set():
                return

    def latest_position(self, table: str) -> str:
        """A position at the current end of every shard: reading from it returns only later changes."""
        spec = self.spec(table)
        info = self._stream_info(spec, None)
        return encode_position(Position(table, info.id, {s.id: self._shard_end(spec, info, s) for s in info.shards}))

    def expire(self, table: str, *, now: int | Decimal | float | None = None) -> int:
        """Run one TTL sweep at ``now`` (epoch seconds, default the clock); returns how many items it removed.

        An item is removed only if it is still expired when it is deleted (a
        conditional delete), so a concurrent update that extends its TTL
        wins (S1, S2).
        """
        spec = self.spec(table)
        if spec.ttl_attribute is None:
            raise ValidationError(f"table {table} has no TTL attribute (enable it with set_ttl)")
        return self._expire(spec, _epoch(now))

    def trim_changes(self, table: str, *, retention_s: float | None = None) -> int:
        """Run the retention trimmer once: drop records older than ``retention_s`` (default: the store's window).

        Returns how many records went.  Readers whose position lies in the
        trimmed part then get :class:`StreamPositionExpired` (S8).  DynamoDB
        trims by itself after 24 hours and raises :class:`NotSupported` here.
        """
        spec = self.spec(table)
        if retention_s is not None and (
            isinstance(retention_s, bool) or not isinstance(retention_s, (int, float)) or retention_s < 0
        ):
            raise ValidationError("retention_s is a number of seconds >= 0")
        return self._trim_changes(spec, None if retention_s is None else float(retention_s))

    def set_stream(self, table: str, view: StreamView | None) -> TableSpec:
        """Enable a stream of ``view`` type on an existing table, or disable it with ``None`` (S9).

        As on DynamoDB, enabling starts a new stream (records of earlier
        streams stay readable through their positions until trimmed), and a
        table with an enabled stream must disable it before changing the view.
        """
        spec = self.spec(table)
        if view is not None and view not in STREAM_VIEWS:
            raise ValidationError(f"unknown stream view type {view!r}; use one of {', '.join(STREAM_VIEWS)}")
        if view is not None and spec.stream is not None:
            raise ValidationError(f"table {table} already has an enabled stream ({spec.stream}); disable it first")
        if view is None and spec.stream is None:
            raise ValidationError(f"table {table} has no enabled stream")
        self._set_stream(spec, view)
        self.forget(table)
        return self.describe_table(table)

    def set_ttl(self, table: str, attribute: str | None) -> TableSpec:
        """Enable TTL on ``attribute`` of an existing table, or disable it with ``None`` (S1, S9)."""
        spec = self.spec(table)
        if attribute is not None:
            if not isinstance(attribute, str) or not attribute or len(attribute.encode("utf-8", "surrogatepass")) > 255:
                raise ValidationError("the TTL attribute is a non-empty name of at most 255 bytes")
            if attribute in spec.key_names:
                raise ValidationError("the TTL attribute cannot be a key attribute")
            if spec.ttl_attribute is not None:
                raise ValidationError(f"TTL is already enabled on table {table} (attribute {spec.ttl_attribute})")
        elif spec.ttl_attribute is None:
            raise ValidationError(f"TTL is not enabled on table {table}")
        self._set_ttl(spec, attribute)
        self.forget(table)
        return self.describe_table(table)

    def start_ttl_sweeper(self, interval_s: float) -> TtlSweeper | None:
        """Sweep every TTL table each ``interval_s`` seconds in a daemon thread (stores without a native sweeper).

        Returns the running sweeper (``None`` when the store expires items by itself).
        """
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or interval_s <= 0:
            raise ValidationError("the TTL sweep interval is a positive number of seconds")
        store: ItemStore = self  # type: ignore[assignment]
        if store.closed:
            raise StoreError("the store is closed: no TTL sweeper can start on it")
        if self.native_ttl_sweeper:
            return None
        if self.ttl_sweeper is not None:
            self.ttl_sweeper.stop()
        sweeper = TtlSweeper(store, float(interval_s))
        sweeper.start()
        self.ttl_sweeper = sweeper
        return sweeper

    # -------------------------------------------------------------- primitives

    def _stream_info(self, spec: TableSpec, stream_id: str | None) -> StreamInfo:
        """The table's current (or last) stream, or the stream ``stream_id``; ValidationError when none."""
        raise NotSupported(f"this store ({type(self).__name__}) has no change streams")

    def _read_shard(
        self, spec: TableSpec, info: StreamInfo, shard: Shard, after: str | None, limit: int
    ) -> ShardRead:
        """Up to ``limit`` records of ``shard`` after ``after`` (None: trim horizon; "latest": the end)."""
        raise NotSupported(f"this store ({type(self).__name__}) has no change streams")

    def _shard_end(self, spec: TableSpec, info: StreamInfo, shard: Shard) -> str | None:
        """A durable position at the current end of ``shard`` (for :meth:`latest_position`)."""
        raise NotSupported(f"this store ({type(self).__name__}) has no change streams")

    def _trim_changes(self, spec: TableSpec, retention_s: float | None) -> int:
        raise NotSupported(f"this store ({type(self).__name__}) has no change-stream trimmer")

    def _set_stream(self, spec: TableSpec, view: StreamView | None) -> None:
        raise NotSupported(f"this store ({type(self).__name__}) has no change streams")

    def _set_ttl(self, spec: TableSpec, attribute: str | None) -> None:
        raise NotSupported(f"this store ({type(self).__name__}) cannot change a table's TTL setting")

    def _expire(self, spec: TableSpec, now: Decimal) -> int:
        """Default sweep over the port: scan, then delete each expired item only if its TTL is unchanged.

        The expiry test runs here (:func:`~storeswap.core.changes.is_expired`),
        not in a filter expression, so the S1 type rules are applied once; the
        delete's condition (the TTL value is still the one seen) makes it
        conditional on the item still being expired at ``now``.
        """
        store: ItemStore = self  # type: ignore[assignment]
        attr = spec.ttl_attribute
        assert attr is not None
        projection = [*spec.key_names, attr]
        found = [
            item
            for item in store.scan_all(spec.name, projection=projection, consistent=True)
            if is_expired(item, attr, now)
        ]
        removed = 0
        for item in found:
            key = {n: item[n] for n in spec.key_names}
            try:
                store.delete(spec.name, key, condition="#t = :seen", names={"#t": attr}, values={":seen": item[attr]})
            except ConditionFailed:
                continue  # updated (or removed) since the scan: not ours to remove
            removed += 1
        return removed


class TtlSweeper:
    """A daemon thread running ``expire`` on every TTL table of a store, every ``interval_s`` seconds.

    It also runs the retention trimmer (``trim_changes``) on tables with a
    stream, where the store has one (S8).  It ends when :meth:`stop` is
    called, which the store's ``close`` does before releasing its connections
    (between two tables of a sweep, or before the next sweep), or when the
    store has been garbage-collected (the sweeper holds it weakly).
    """

    def __init__(self, store: ItemStore, interval_s: float) -> None:
        self._store = weakref.ref(store)
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storeswap-ttl-sweeper", daemon=True)
        #: Items removed so far, and sweeps run.
        self.removed = 0
        self.sweeps = 0

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the sweeper's thread runs."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (at most ``timeout`` seconds); True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop after the current sweep (waiting at most ``timeout`` seconds for it)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def sweep_once(self) -> int:
        """Sweep every table with a TTL attribute now; returns the items removed."""
        store = self._store()
        if store is None:
            self._stop.set()
            return 0
        removed = 0
        for name in store.list_tables():
            if self._stop.is_set():
                break  # stopped mid-sweep (the store is closing): leave the rest to nobody
            # The expiry and the trim fail apart: a damaged row that stops one (StoreCorrupted) must not stop the
            # other. A table deleted mid-sweep or a transient error is tried again next round.
            try:
                spec = store.spec(name)
            except StoreError as e:
                _log.warning("TTL sweep of %s: %s: %s", name, type(e).__name__, e)
                continue
            if spec.ttl_attribute is not None:
                try:
                    removed += store.expire(name)
                except StoreError as e:
                    if isinstance(e, StoreCorrupted):
                        removed += e.removed  # it removed what it could read before it named the rest
                    _log.warning("TTL sweep of %s: %s: %s", name, type(e).__name__, e)
            if spec.stream is not None:
                try:
                    with contextlib.suppress(NotSupported):  # DynamoDB trims by itself
                        store.trim_changes(name)
                except StoreError as e:
                    _log.warning("change-log trim of %s: %s: %s", name, type(e).__name__, e)
        self.removed += removed
        self.sweeps += 1
        return removed

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self.interval_s):
            store = self._store()
            if store is None or store.closed:
                return
            del store
            try:
                self.sweep_once()
                failures = 0
            except Exception as e:  # a closed store's pool, a lost server: three in a row end the thread
                failures += 1
                _log.warning("TTL sweep failed (%d in a row): %s: %s", failures, type(e).__name__, e)
                if failures >= 3:
                    return


def _until_limit(shard: str, value: str) -> int | None:
    """The last sequence number ``iter_changes(until=)`` reads in ``shard`` (``None``: to the shard's end)."""
    if value == END:
        return None
    if not _is_sequence(value):
        raise ValidationError(f"iter_changes: until= holds {value!r} for shard {shard!r}, not a position to stop at")
    return sequence_order(value)


def _is_sequence(value: object) -> TypeGuard[str]:
    """True for a sequence number (ASCII digits), False for a shard marker (END, LATEST) or anything else."""
    return isinstance(value, str) and value.isascii() and value.isdigit()
