"""The memory store's change streams: an in-process log per table, one list of records per shard.

The memory store appends to it under its own lock, in the same step that
changes the item, so a record exists exactly when its change does.  Sequence
numbers are dense per shard (1, 2, 3, ...), which lets a reader behind the
trim point be told so (:class:`StreamPositionExpired`, S8).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime

from storeswap.core.changes import (
    LATEST,
    RETENTION_SECONDS,
    ChangeRecord,
    Shard,
    ShardRead,
    StreamInfo,
    UserIdentity,
    change_kind,
    make_record,
    shard_of,
)
from storeswap.core.errors import StreamPositionExpired, ValidationError
from storeswap.core.schema import StreamView, TableSpec
from storeswap.core.values import Item, copy_value, item_size

__all__ = ["TableStreams", "DEFAULT_SHARDS"]

#: Shards per stream (records of one partition key always go to one of them).
DEFAULT_SHARDS = 4
_stream_ids = itertools.count(1)


class _ShardLog:
    def __init__(self) -> None:
        self.records: list[tuple[float, ChangeRecord]] = []
        #: Sequence number of ``records[0]`` minus one: everything up to it was trimmed.
        self.trimmed = 0

    @property
    def last(self) -> int:
        return self.trimmed + len(self.records)


class _Stream:
    def __init__(self, table: str, view: StreamView, shard_count: int, now: float) -> None:
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        self.id = f"{table}/stream/{stamp}-{next(_stream_ids)}"
        self.view = view
        self.enabled = True
        self.disabled_at: float | None = None
        self.shards = [_ShardLog() for _ in range(shard_count)]

    def shard_ids(self) -> list[str]:
        return [f"shard-{i:04d}" for i in range(len(self.shards))]


class TableStreams:
    """Every stream of one table (the current one last), with retention and TTL identity."""

    def __init__(
        self,
        shard_count: int = DEFAULT_SHARDS,
        retention_s: float = RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.shard_count = shard_count
        self.retention_s = retention_s
        self.clock = clock
        self.streams: list[_Stream] = []

    def enable(self, spec: TableSpec, view: StreamView) -> None:
        """Start a new stream (S9)."""
        self.disable()
        self.streams.append(_Stream(spec.name, view, self.shard_count, self.clock()))

    def disable(self) -> None:
        """Stop recording; the stream's records stay readable until trimmed."""
        if self.streams and self.streams[-1].enabled:
            self.streams[-1].enabled = False
            self.streams[-1].disabled_at = self.clock()

    def record(
        self, spec: TableSpec, old: Item | None, new: Item | None, identity: UserIdentity | None = None
    ) -> None:
        """Append the record of one change (none when nothing changed, S4, or when no stream is enabled)."""
        if not self.streams or not self.streams[-1].enabled:
            return
        kind = change_kind(old, new)
        if kind is None:
            return
        stream = self.streams[-1]
        source = new if new is not None else old
        assert source is not None
        index = shard_of(source[spec.partition_key.name], len(stream.shards))
        log = stream.shards[index]
        now = self.clock()
        record = make_record(
            spec,
            stream.view,
            kind,
            copy_value(old),
            copy_value(new),
            sequence=str(log.last + 1),
            shard=stream.shard_ids()[index],
            created=datetime.fromtimestamp(now, UTC),
            user_identity=identity,
            size_bytes=item_size(source),
        )
        log.records.append((now, record))

    def trim(self, retention_s: float | None = None) -> int:
        """Drop records older than the retention window, and streams disabled longer ago than it; returns records dropped."""
        horizon = self.clock() - (self.retention_s if retention_s is None else retention_s)
        dropped = 0
        for stream in self.streams:
            for log in stream.shards:
                drop = 0
                while drop < len(log.records) and log.records[drop][0] <= horizon:
                    drop += 1
                if drop:
                    del log.records[:drop]
                    log.trimmed += drop
                    dropped += drop
        # A disabled stream goes once its last record could be gone; the latest one stays describable.
        self.streams = [
            s for i, s in enumerate(self.streams)
            if i == len(self.streams) - 1 or s.enabled or s.disabled_at is None or s.disabled_at > horizon
        ]
        return dropped

    def info(self, table: str, stream_id: str | None) -> StreamInfo:
        """The stream ``stream_id`` (or the latest one) as the port describes it."""
        self.trim()
        stream = self._find(table, stream_id)
        shards = tuple(Shard(sid, None, not stream.enabled) for sid in stream.shard_ids())
        return StreamInfo(stream.id, stream.view, shards, stream.enabled)

    def read(self, table: str, info: StreamInfo, shard: Shard, after: str | None, limit: int) -> ShardRead:
        """Records of one shard after ``after`` (S7, S8)."""
        self.trim()
        stream = self._find(table, info.id)
        log = stream.shards[stream.shard_ids().index(shard.id)]
        if after is None:
            start = log.trimmed
        elif after == LATEST:
            start = log.last
        else:
            try:
                start = int(after)
            except ValueError:
                raise ValidationError("malformed stream position") from None
            if start < log.trimmed:
                raise StreamPositionExpired(
                    f"records of {shard.id} after sequence {start} were trimmed (retention {self.retention_s:.0f} s)"
                )
        first = start - log.trimmed
        chosen = [r for _, r in log.records[first : first + limit]]
        end = start + len(chosen)
        exhausted = not stream.enabled and end >= log.last
        return ShardRead(chosen, str(end), exhausted)

    def end_of(self, table: str, info: StreamInfo, shard: Shard) -> str:
        """The sequence number of the last record of a shard (a durable 'latest' position)."""
        stream = self._find(table, info.id)
        return str(stream.shards[stream.shard_ids().index(shard.id)].last)

    def _find(self, table: str, stream_id: str | None) -> _Stream:
        if stream_id is None:
            if not self.streams:
                raise ValidationError(f"table {table} has no stream (enable one with set_stream)")
            return self.streams[-1]
        for s in self.streams:
            if s.id == stream_id:
                return s
        raise StreamPositionExpired(f"stream {stream_id} of table {table} no longer exists (trimmed or deleted)")

