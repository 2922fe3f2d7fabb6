"""The memory store: the executable reference of the port's semantics.

Everything lives in Python dicts guarded by one re-entrant lock, which makes
every operation — conditional writes and transactions included — trivially
atomic and serialisable.  It is meant to be obviously right, not fast; the
other adapters are checked against it by the differential tests.
"""

from __future__ import annotations

import bisect
import hashlib
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs

from storeswap.adapters.memory_log import DEFAULT_SHARDS, TableStreams
from storeswap.core.changes import RETENTION_SECONDS, TTL_IDENTITY, Shard, ShardRead, StreamInfo, is_expired
from storeswap.core.engine import (
    in_index,
    index_view,
    key_condition_matches,
    plan_transaction,
    plan_write,
    shape,
)
from storeswap.core.errors import IdempotencyMismatch, TableExists, TableNotFound
from storeswap.core.expressions import evaluate
from storeswap.core.keys import BUCKETS, extract_key, item_order, order_value, partition_bucket
from storeswap.core.port import ItemStore
from storeswap.core.prepare import make_page, prepare_scan
from storeswap.core.requests import (
    DeleteRequest,
    GetRequest,
    LentItems,
    Page,
    PutRequest,
    QueryRequest,
    QueryResult,
    ScanRequest,
    UpdateRequest,
    WriteRequest,
)
from storeswap.core.schema import IndexKeys, StreamView, TableSpec
from storeswap.core.values import Item, KeyDict, copy_value

__all__ = ["MemoryStore"]

TOKEN_WINDOW_SECONDS = 600.0


def _key_tuple(spec: TableSpec, key: KeyDict) -> tuple[Any, ...]:
    pk = order_value(key[spec.partition_key.name])
    if spec.sort_key is None:
        return (pk,)
    return (pk, order_value(key[spec.sort_key.name]))


class _Table:
    def __init__(self, spec: TableSpec, streams: TableStreams) -> None:
        self.spec = spec
        self.items: dict[tuple[Any, ...], Item] = {}
        self.streams = streams
        if spec.stream is not None:
            streams.enable(spec, spec.stream)
        # Bumped by every write; invalidates the cached scan orders.
        self.version = 0
        self.orders: dict[tuple[str | None, int], tuple[list[tuple[Any, ...]], list[Item]]] = {}
        # Per index (None: the table), per partition key order value, the items of that partition by table key:
        # what a Query reads, kept by every write (the indexes of a table never change after it is created).
        self._index_keys = (spec.table_keys(), *spec.indexes())
        self.partitions: dict[str | None, dict[Any, dict[tuple[Any, ...], Item]]] = {
            index.name: {} for index in self._index_keys
        }

    def put(self, k: tuple[Any, ...], new: Item) -> Item | None:
        """Store ``new`` under table key ``k``; the item it replaced, if any."""
        old = self.items.get(k)
        self.items[k] = new
        self._reindex(k, old, new)
        return old

    def pop(self, k: tuple[Any, ...]) -> Item | None:
        """Remove the item under table key ``k``; it, or None when there was none."""
        old = self.items.pop(k, None)
        if old is not None:
            self._reindex(k, old, None)
        return old

    def _reindex(self, k: tuple[Any, ...], old: Item | None, new: Item | None) -> None:
        # Any write invalidates the cached scan orders: they hold the item objects themselves
        # (an update replaces the object) and an update may move the item in or out of an index.
        self.version += 1
        for index in self._index_keys:
            parts = self.partitions[index.name]
            name = index.partition_key.name
            if old is not None and in_index(index, old):
                pv = order_value(old[name])
                members = parts[pv]
                del members[k]
                if not members:
                    del parts[pv]
            if new is not None and in_index(index, new):
                parts.setdefault(order_value(new[name]), {})[k] = new

    def partition(self, index: IndexKeys, value: Any) -> list[Item]:
        """The items of one partition of ``index`` (unordered)."""
        members = self.partitions[index.name].get(order_value(value))
        return [] if members is None else list(members.values())

    def scan_order(self, index: IndexKeys) -> tuple[list[tuple[Any, ...]], list[Item]]:
        cached = self.orders.get((index.name, self.version))
        if cached is not None:
            return cached
        rows = []
        for item in self.items.values():
            if not in_index(index, item):
                continue
            rows.append((self.scan_tuple(index, item), item))
        rows.sort(key=lambda r: r[0])
        result = ([r[0] for r in rows], [r[1] for r in rows])
        self.orders = {k: v for k, v in self.orders.items() if k[1] == self.version}
        self.orders[(index.name, self.version)] = result
        return result

    def scan_tuple(self, index: IndexKeys, item: Item) -> tuple[Any, ...]:
        pk = item[index.partition_key.name]
        return (partition_bucket(pk), order_value(pk), *item_order(index, self.spec, item))


class MemoryStore(ItemStore):
    """An in-process store with DynamoDB's semantics (``memory://``)."""

    kind = "memory"
    bulk_reads_only = True  # the port's batches: each write stores a copy_value of its item
    lends_scans = True  # scan_shared: the plain scan's items, not copies (a subclass declares it again)

    def __init__(
        self,
        *,
        shard_count: int = DEFAULT_SHARDS,
        retention_s: float = RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._tables: dict[str, _Table] = {}
        self._tokens: dict[str, tuple[str, float]] = {}
        # Stream settings (tests shrink the retention window and drive the clock).
        self._stream_options = (shard_count, retention_s, clock)

    def __repr__(self) -> str:
        return f"MemoryStore(tables={len(self._tables)})"

    # ------------------------------------------------------------------ tables

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            self.forget(name)
            raise TableNotFound(f"table {name} does not exist")
        return table

    def _create_table(self, spec: TableSpec) -> None:
        with self._lock:
            if spec.name in self._tables:
                raise TableExists(f"table {spec.name} already exists")
            self._tables[spec.name] = _Table(spec, TableStreams(*self._stream_options))

    def _describe_table(self, name: str) -> TableSpec:
        with self._lock:
            return self._table(name).spec

    def _delete_table(self, name: str) -> None:
        with self._lock:
            self._table(name)
            del self._tables[name]

    def _list_tables(self) -> list[str]:
        with self._lock:
            return list(self._tables)

    # ------------------------------------------------------------------- items

    def _get(self, req: GetRequest) -> Item | None:
        with self._lock:
            item = self._table(req.spec.name).items.get(_key_tuple(req.spec, req.key))
            return None if item is None else shape(item, req.projection)

    def _apply(self, table: _Table, req: WriteRequest, new: Item | None, changed: bool) -> None:
        if not changed:
            return
        k = _key_tuple(table.spec, req.key)
        old = table.pop(k) if new is None else table.put(k, copy_value(new))
        table.streams.record(table.spec, old, new)

    def _write(self, req: PutRequest | UpdateRequest | DeleteRequest) -> Item | None:
        with self._lock:
            table = self._table(req.spec.name)
            old = table.items.get(_key_tuple(req.spec, req.key))
            outcome = plan_write(req, old)
            self._apply(table, req, outcome.new, outcome.changed)
            return outcome.result

    _put = _write
    _update = _write
    _delete = _write

    def _planned_table(self, spec: TableSpec) -> _Table:
        """The table a read was planned for: TableNotFound when it was deleted and created again with other keys
        or indexes after the request was planned on the spec cached before (a concurrent re-creation)."""
        table = self._table(spec.name)
        now = table.spec
        if (now.partition_key, now.sort_key, now.global_indexes, now.local_indexes) != (
            spec.partition_key, spec.sort_key, spec.global_indexes, spec.local_indexes
        ):
            self.forget(spec.name)
            raise TableNotFound(f"table {spec.name} was deleted and created again with other keys or indexes")
        return table

    def _query(self, req: QueryRequest) -> QueryResult:
        with self._lock:
            table = self._planned_table(req.spec)
            index = req.index
            kc = req.key_condition
            candidates = [
                item for item in table.partition(index, kc.partition_value) if key_condition_matches(kc, index, item)
            ]

            def order(item: Item) -> tuple[Any, ...]:
                return item_order(index, req.spec, item)

            candidates.sort(key=order, reverse=not req.forward)
            if req.start_key is not None:
                start = order(req.start_key)
                if req.forward:
                    candidates = [c for c in candidates if order(c) > start]
                else:
                    candidates = [c for c in candidates if order(c) < start]
            return self._collect(req.spec, index, candidates, req.filter, req.projection, req.limit)

    def _scan(self, req: ScanRequest) -> QueryResult:
        return self._scan_items(req, share=False)

    def scan_shared(
        self,
        table: str,
        *,
        limit: int,
        cursor: str | None = None,
        segment: int | None = None,
        total_segments: int | None = None,
    ) -> Page:
        """A page of a plain scan (no filter, projection or index) holding the store's own item objects, not copies
        (a :class:`~storeswap.core.requests.LentItems`).

        For a reader that only reads the items and keeps none: ``copy_table`` into a target whose
        ``bulk_reads_only`` is True.  The store never changes a stored item in place (a write stores a new
        object), so a page read here keeps what it held; its reader must not change an item either.  Arguments,
        validation, cursors and segments are :meth:`scan`'s.
        """
        req = prepare_scan(
            self.spec(table), limit=limit, cursor=cursor, segment=segment, total_segments=total_segments,
            consistent=True,
        )
        seg = (req.segment, req.total_segments) if req.total_segments > 1 else None
        return make_page(self._scan_items(req, share=True), limit=req.limit, segment=seg)

    def _scan_items(self, req: ScanRequest, *, share: bool) -> QueryResult:
        with self._lock:
            table = self._planned_table(req.spec)
            index = req.index
            orders, items = table.scan_order(index)
            start = 0
            if req.start_key is not None:
                start = bisect.bisect_right(orders, table.scan_tuple(index, req.start_key))
            total = req.total_segments
            stop = len(items)
            if total > 1:
                # Segments are contiguous bucket ranges and the order starts with the bucket: bisect to the range.
                lo = -(-req.segment * BUCKETS // total)
                hi = -(-(req.segment + 1) * BUCKETS // total)
                start = max(start, bisect.bisect_left(orders, (lo,)))
                stop = bisect.bisect_left(orders, (hi,))
            if req.filter is None and req.projection is None and index.name is None:
                # The plain read (a copy's scan): whole items, each the caller's own copy (unless shared), in one slice.
                end = stop if req.limit is None else min(stop, start + req.limit)
                out = LentItems(items[start:end]) if share else list(map(copy_value, items[start:end]))
                last_key = extract_key(req.spec, out[-1]) if req.limit is not None and len(out) >= req.limit else None
                return QueryResult(out, last_key)
            candidates = (items[i] for i in range(start, stop))
            return self._collect(req.spec, index, candidates, req.filter, req.projection, req.limit)

    def _collect(
        self,
        spec: TableSpec,
        index: IndexKeys,
        candidates: Any,
        filter: Any,
        projection: Any,
        limit: int | None,
    ) -> QueryResult:
        out: list[Item] = []
        last: Item | None = None
        for item in candidates:
            view = index_view(index, spec, item)
            if filter is not None and not evaluate(filter, view):
                continue
            out.append(shape(view, projection))
            last = item
            if limit is not None and len(out) >= limit:
                break
        last_key = None
        if limit is not None and len(out) >= limit and last is not None:
            last_key = {**extract_key(spec, last), **{n: last[n] for n in index.key_names}}
        return QueryResult(out, last_key)

    def _batch_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        with self._lock:
            return [self._get(r) for r in reqs]

    def _batch_write(self, reqs: list[PutRequest | DeleteRequest]) -> None:
        with self._lock:
            for r in reqs:
                self._table(r.spec.name)
            for r in reqs:
                self._write(r)

    def _transact_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        return self._batch_get(reqs)

    def _transact_write(self, reqs: list[WriteRequest], token: str | None) -> None:
        with self._lock:
            fingerprint = _fingerprint(reqs) if token is not None else ""
            if token is not None and self._token_seen(token, fingerprint):
                return
            tables = [self._table(r.spec.name) for r in reqs]
            olds = [t.items.get(_key_tuple(r.spec, r.key)) for t, r in zip(tables, reqs)]
            outcomes = plan_transaction(reqs, olds)
            for table, req, outcome in zip(tables, reqs, outcomes):
                self._apply(table, req, outcome.new, outcome.changed)
            if token is not None:
                self._tokens[token] = (fingerprint, time.monotonic())

    def _token_seen(self, token: str, fingerprint: str, now: Callable[[], float] = time.monotonic) -> bool:
        t = now()
        self._tokens = {k: v for k, v in self._tokens.items() if t - v[1] < TOKEN_WINDOW_SECONDS}
        seen = self._tokens.get(token)
        if seen is None:
            return False
        if seen[0] != fingerprint:
            raise IdempotencyMismatch("the idempotency token was used with a different transaction (T3)")
        return True


    # ---------------------------------------------------------- streams, TTL

    def _stream_info(self, spec: TableSpec, stream_id: str | None) -> StreamInfo:
        with self._lock:
            return self._table(spec.name).streams.info(spec.name, stream_id)

    def _read_shard(self, spec: TableSpec, info: StreamInfo, shard: Shard, after: str | None, limit: int) -> ShardRead:
        with self._lock:
            return self._table(spec.name).streams.read(spec.name, info, shard, after, limit)

    def _shard_end(self, spec: TableSpec, info: StreamInfo, shard: Shard) -> str | None:
        with self._lock:
            return self._table(spec.name).streams.end_of(spec.name, info, shard)

    def _trim_changes(self, spec: TableSpec, retention_s: float | None) -> int:
        with self._lock:
            return self._table(spec.name).streams.trim(retention_s)

    def _set_stream(self, spec: TableSpec, view: StreamView | None) -> None:
        with self._lock:
            table = self._table(spec.name)
            if view is None:
                table.streams.disable()
            else:
                table.streams.enable(spec, view)
            table.spec = attrs.evolve(table.spec, stream=view)

    def _set_ttl(self, spec: TableSpec, attribute: str | None) -> None:
        with self._lock:
            table = self._table(spec.name)
            table.spec = attrs.evolve(table.spec, ttl_attribute=attribute)

    def _expire(self, spec: TableSpec, now: Decimal) -> int:
        # Under the store lock the check and the delete are one step: the delete is trivially conditional.
        with self._lock:
            table = self._table(spec.name)
            attr = table.spec.ttl_attribute
            doomed = [k for k, item in table.items.items() if is_expired(item, attr, now)]
            for k in doomed:
                table.streams.record(table.spec, table.pop(k), None, TTL_IDENTITY)
            return len(doomed)


def _fingerprint(reqs: list[WriteRequest]) -> str:
    """A digest of a transaction's content, to tell a true repeat from a reused token."""
    return hashlib.sha256(repr(reqs).encode("utf-8", "surrogatepass")).hexdigest()
