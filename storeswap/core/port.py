"""The port: :class:`ItemStore`, the one interface every store adapter implements.

This module is the contract and nothing else: the public methods callers
use, and the 14 underscore primitives an adapter writes (plus an optional
``_close``, which :meth:`ItemStore.close` calls).  Each public
method first prepares its request (:mod:`storeswap.core.prepare`: argument
types, names, keys, values, sizes, expressions, limits — every check
DynamoDB makes before it touches data), so every adapter rejects the same
bad input with the same typed error and leaves the store untouched; then it
calls one primitive with the prepared request (:mod:`storeswap.core.requests`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from attrs import define, field

from storeswap.core import prepare as p
from storeswap.core.errors import TableNotFound, ValidationError
from storeswap.core.expressions.ast import Condition, UpdateExpr
from storeswap.core.prepare import MAX_BATCH_GET, MAX_BATCH_WRITE, MAX_TRANSACTION_ACTIONS, MAX_TRANSACTION_BYTES
from storeswap.core.requests import (
    BatchDelete,
    BatchPut,
    BulkPutRequest,
    DeleteRequest,
    ExprInput,
    GetRequest,
    NamesInput,
    Page,
    ProjectionInput,
    PutRequest,
    QueryRequest,
    QueryResult,
    ScanRequest,
    TxAction,
    TxCheck,
    TxDelete,
    TxGet,
    TxPut,
    TxUpdate,
    UpdateRequest,
    ValuesInput,
    WriteRequest,
)
from storeswap.core.schema import TableSpec, validate_table_name
from storeswap.core.streams import StreamMethods
from storeswap.core.values import Item

# The input types and limits are re-exported: ``storeswap.core.port`` is where users have imported them from.
__all__ = [
    "ItemStore", "QueryResult", "TxPut", "TxUpdate", "TxDelete", "TxCheck", "TxGet", "TxAction", "BatchPut",
    "BatchDelete", "MAX_BATCH_WRITE", "MAX_BATCH_GET", "MAX_TRANSACTION_ACTIONS", "MAX_TRANSACTION_BYTES",
]


@define(slots=False)
class _SpecCache:
    """The cached specs, and a generation that every :meth:`ItemStore.forget` (and table deletion) advances.

    A look-up caches what it read only if no forget happened while it read: otherwise a describe that read the
    catalog just before another process's DDL could put the old spec back after the notification dropped it,
    and it would stay until the next change of that table.
    """

    specs: dict[str, TableSpec] = field(factory=dict)
    lock: threading.Lock = field(factory=threading.Lock)
    generation: int = 0

    def put(self, spec: TableSpec, read_at: int) -> None:
        """Cache ``spec``, read when the generation was ``read_at``, unless a forget has happened since."""
        with self.lock:
            if self.generation == read_at:
                self.specs[spec.name] = spec

    def drop(self, name: str | None) -> None:
        with self.lock:
            self.generation += 1
            if name is None:
                self.specs.clear()
            else:
                self.specs.pop(name, None)


def _table_name(name: object) -> str:
    # Cheap on the hot path (a type check); the full name rule runs when the name is not cached yet.
    if type(name) is not str:
        return validate_table_name(name)
    return name


#: Class attributes of :class:`ItemStore` that a subclass does not inherit: each is False unless the subclass
#: sets it itself (a promise about code the subclass may have overridden, decision 0033).
PER_CLASS_FLAGS = ("bulk_reads_only", "lends_scans", "loop_calls")


class ItemStore(StreamMethods, ABC):
    """A store of DynamoDB-shaped tables (the port).

    Open one with :func:`storeswap.open_store`.  Methods take plain Python
    items (see :mod:`storeswap.core.values`) and expressions either as
    DynamoDB expression strings with ``#name`` / ``:value`` placeholders or as
    builder objects (:class:`storeswap.Key`, :class:`storeswap.Attr`).
    Errors are always :class:`storeswap.StoreError` subclasses.
    """

    #: Short name of the store kind: ``memory``, ``postgres``, ``dynamodb``.
    kind: str = "abstract"
    #: True when this adapter's ``_bulk_put`` only reads the items it is given and keeps none of them (it
    #: encodes or copies each, and changes none): ``copy_table`` may then hand it a source's own item objects
    #: instead of copies (:meth:`storeswap.adapters.memory.MemoryStore.scan_shared`, decision 0033).
    #: Declared by each class for itself (:data:`PER_CLASS_FLAGS`): a subclass may override the bulk path.
    bulk_reads_only: bool = False
    #: True when this class's ``scan_shared`` lends its own item objects for a copy and its ``scan`` is the one
    #: that method bypasses (the memory store).  Declared by each class for itself, like ``bulk_reads_only``:
    #: a subclass that overrides ``scan`` (redaction, tracing, faults) must not be bypassed unawares.
    lends_scans: bool = False
    #: True when every wait of this class's item operations for its server (and for a pooled connection) is
    #: awaited by the event loop when the call runs inside ``storeswap.loop_calls.run``, so that the gateway may
    #: serve them on its loop's own thread (the PostgreSQL adapter, decision 0038).  Declared by each class for
    #: itself: a subclass that overrides a method with code that blocks must not inherit the promise.
    loop_calls: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for flag in PER_CLASS_FLAGS:
            if flag not in cls.__dict__:
                setattr(cls, flag, False)
    #: Set by :meth:`close` (a class default: an adapter need not call ``super().__init__`` for it).
    _closed: bool = False

    def __init__(self) -> None:
        self._spec_cache = _SpecCache()

    # ------------------------------------------------------------------ tables

    def create_table(self, spec: TableSpec) -> TableSpec:
        """Create a table; :class:`TableExists` when the name is taken."""
        if not isinstance(spec, TableSpec):
            raise ValidationError(f"create_table takes a TableSpec, not {type(spec).__name__}")
        read_at = self._spec_cache.generation
        self._create_table(spec)
        self._spec_cache.put(spec, read_at)
        return spec

    def describe_table(self, name: str) -> TableSpec:
        """The table's spec; :class:`TableNotFound` when there is none."""
        validate_table_name(name)
        read_at = self._spec_cache.generation
        spec = self._describe_table(name)
        self._spec_cache.put(spec, read_at)
        return spec

    def delete_table(self, name: str) -> None:
        """Delete a table and all its items; :class:`TableNotFound` when there is none."""
        validate_table_name(name)
        self._spec_cache.drop(name)
        try:
            self._delete_table(name)
        finally:
            # Again once the table is gone: a look-up that read the catalog while it was being deleted (after
            # the first drop) must not keep the spec of a table that no longer exists.
            self._spec_cache.drop(name)

    def list_tables(self) -> list[str]:
        """Names of all tables, sorted."""
        return sorted(self._list_tables())

    def table_exists(self, name: str) -> bool:
        """True when the table exists."""
        try:
            self.spec(name)
        except TableNotFound:
            return False
        return True

    def spec(self, table: str) -> TableSpec:
        """The table's spec, cached after the first look-up."""
        spec = self._spec_cache.specs.get(_table_name(table))
        if spec is not None:
            return spec
        return self.describe_table(table)

    def forget(self, table: str | None = None) -> None:
        """Drop a cached spec (after another process changed the table); with no table, every cached spec."""
        self._spec_cache.drop(None if table is None else _table_name(table))

    # ------------------------------------------------------------------ items

    def get(self, table: str, key: Mapping[str, Any], *, projection: ProjectionInput = None, names: NamesInput = None,
            consistent: bool = False) -> Item | None:
        """The item with this key, or ``None``."""
        spec = self.spec(table)
        return self._get(p.prepare_get(spec, key=key, projection=projection, names=names, consistent=consistent))

    def put(self, table: str, item: Mapping[str, Any], *, condition: ExprInput = None, names: NamesInput = None,
            values: ValuesInput = None, return_values: str = "NONE", return_old_on_failure: bool = False) -> Item | None:
        """Write a whole item; returns the old item for ``return_values="ALL_OLD"`` (C8)."""
        return self._put(p.prepare_put(
            self.spec(table), item=item, condition=condition, names=names, values=values,
            return_values=return_values, return_old_on_failure=return_old_on_failure,
        ))

    def update(self, table: str, key: Mapping[str, Any], update: str | UpdateExpr, *, condition: ExprInput = None,
               names: NamesInput = None, values: ValuesInput = None, return_values: str = "NONE",
               return_old_on_failure: bool = False) -> Item | None:
        """Apply an update expression (an upsert unless the condition prevents it, C5, C8)."""
        return self._update(p.prepare_update(
            self.spec(table), key=key, update=update, condition=condition, names=names, values=values,
            return_values=return_values, return_old_on_failure=return_old_on_failure,
        ))

    def delete(self, table: str, key: Mapping[str, Any], *, condition: ExprInput = None, names: NamesInput = None,
               values: ValuesInput = None, return_values: str = "NONE", return_old_on_failure: bool = False) -> Item | None:
        """Delete an item; returns the old item for ``return_values="ALL_OLD"`` (C8)."""
        return self._delete(p.prepare_delete(
            self.spec(table), key=key, condition=condition, names=names, values=values,
            return_values=return_values, return_old_on_failure=return_old_on_failure,
        ))

    def query(self, table: str, key_condition: str | Condition, *, index: str | None = None, filter: ExprInput = None,
              projection: ProjectionInput = None, names: NamesInput = None, values: ValuesInput = None,
              limit: int | None = None, forward: bool = True, cursor: str | None = None, consistent: bool = False) -> Page:
        """One page of the items of one partition, in sort-key order (Q1, Q2, K1-K3)."""
        req = p.prepare_query(
            self.spec(table), key_condition_expr=key_condition, index=index, filter=filter, projection=projection,
            names=names, values=values, limit=limit, forward=forward, cursor=cursor, consistent=consistent,
        )
        return p.make_page(self._query(req), limit=req.limit, segment=None)

    def scan(self, table: str, *, index: str | None = None, filter: ExprInput = None,
             projection: ProjectionInput = None, names: NamesInput = None, values: ValuesInput = None,
             limit: int | None = None, cursor: str | None = None, segment: int | None = None,
             total_segments: int | None = None, consistent: bool = False) -> Page:
        """One page of every item of a table or index, or of one parallel-scan segment (Q1, Q4)."""
        req = p.prepare_scan(
            self.spec(table), index=index, filter=filter, projection=projection, names=names, values=values,
            limit=limit, cursor=cursor, segment=segment, total_segments=total_segments, consistent=consistent,
        )
        seg = (req.segment, req.total_segments) if req.total_segments > 1 else None
        return p.make_page(self._scan(req), limit=req.limit, segment=seg)

    def query_all(self, table: str, key_condition: str | Condition, **kwargs: Any) -> Iterator[Item]:
        """Iterate every matching item of a query, following cursors page by page."""
        cursor = kwargs.pop("cursor", None)
        kwargs.setdefault("limit", 1000)
        while True:
            page = self.query(table, key_condition, cursor=cursor, **kwargs)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    def scan_all(self, table: str, **kwargs: Any) -> Iterator[Item]:
        """Iterate every matching item of a scan (or one segment), following cursors page by page."""
        cursor = kwargs.pop("cursor", None)
        kwargs.setdefault("limit", 1000)
        while True:
            page = self.scan(table, cursor=cursor, **kwargs)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    def batch_get(
        self, requests: Mapping[str, Sequence[Mapping[str, Any]]], *, consistent: bool = False
    ) -> dict[str, list[Item]]:
        """Read up to 100 items by key across tables; results per table, in any order (T1)."""
        prepared = p.prepare_batch_get(self.spec, requests=requests, consistent=consistent)
        out: dict[str, list[Item]] = {table: [] for table in requests}
        for req, item in zip(prepared, self._batch_get(prepared)):
            if item is not None:
                out[req.spec.name].append(item)
        return out

    def batch_write(self, requests: Sequence[BatchPut | BatchDelete]) -> None:
        """Put or delete up to 25 items across tables, without conditions (T1).

        Unprocessed items are retried inside the adapter until done.
        """
        self._batch_write(p.prepare_batch_write(self.spec, requests=requests))

    def transact_get(self, gets: Sequence[TxGet]) -> list[Item | None]:
        """Read up to 100 items as one consistent snapshot; results in request order."""
        return self._transact_get(p.prepare_transact_get(self.spec, gets=gets))

    def transact_write(self, actions: Sequence[TxAction], *, token: str | None = None) -> None:
        """Apply up to 100 writes all-or-nothing (T2-T4).

        A failed condition cancels the whole transaction with
        :class:`TransactionCanceled`, one reason per action in request order.
        ``token`` makes a repeat within 10 minutes a no-op (T3).
        """
        self._transact_write(*p.prepare_transact_write(self.spec, actions=actions, token=token))

    def bulk_put(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Write many items unconditionally (the last write of a key wins); returns how many.

        Every item is validated as ``put`` validates it, before anything is
        written.  Meant for loads and migrations: adapters override
        ``_bulk_put`` with their fastest bulk path (PostgreSQL: COPY); the
        default writes batches of 25.
        """
        return self._bulk(table, items, "bulk_put", changes=True)

    def bulk_load(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        """A migration's or a fixture's load: ``bulk_put`` that stores able to may leave out of the change stream.

        Same validation, same result as :meth:`bulk_put`; the difference is
        only in the table's change stream (S5): ``bulk_put`` is an
        application write and records one change per item it changes on
        every store, while a load is not an application change, so stores
        that can skip its records do (PostgreSQL: its COPY path writes no
        change-log rows). DynamoDB streams every write, and the memory store
        records loads like any batch.  The migration's copies (threads,
        Dask tasks, the transform copy) and the follower's replayed puts
        write with this; the follower's deletes and the incremental-export
        replay go through ``batch_write`` (recorded like application writes).
        """
        return self._bulk(table, items, "bulk_load", changes=False)

    def _bulk(self, table: str, items: Iterable[Mapping[str, Any]], name: str, *, changes: bool) -> int:
        spec = self.spec(table)
        rows = p.check_iterable(items, f"{name} takes an iterable of items")
        req = p.prepare_bulk_puts(spec, rows)
        if req.items:
            self._bulk_put(req, changes=changes)
        return len(req)

    def _bulk_put(self, req: BulkPutRequest, *, changes: bool = True) -> None:
        """Default bulk path: de-duplicated batches of ``MAX_BATCH_WRITE``; adapters may override.

        ``changes`` False: a load (:meth:`bulk_load`) an adapter may keep out of its change stream; this default
        writes batches, which record their changes either way.
        """
        latest: dict[tuple[Any, ...], PutRequest] = {}
        for r in req.puts():
            identity = p.DistinctKeys.identity(req.spec.name, r.key)
            latest.pop(identity, None)
            latest[identity] = r
        unique = list(latest.values())
        for i in range(0, len(unique), MAX_BATCH_WRITE):
            self._batch_write(list(unique[i : i + MAX_BATCH_WRITE]))

    def close(self) -> None:
        """Stop the background TTL sweeper, then release connections and other resources (idempotent).

        The store is unusable afterwards.  This is the port's one close
        protocol: adapters release their resources in :meth:`_close` (and do
        not override ``close``), so every store stops its sweeper the same way,
        before its connections go.
        """
        if self._closed:
            return
        self._closed = True
        sweeper = self.ttl_sweeper
        if sweeper is not None:
            sweeper.stop()
        self._close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    def __enter__(self) -> ItemStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- primitives
    # What an adapter writes: each takes a prepared, validated request.

    def _close(self) -> None:
        """Release the adapter's connections and other resources (called once, by :meth:`close`)."""

    @abstractmethod
    def _create_table(self, spec: TableSpec) -> None: ...

    @abstractmethod
    def _describe_table(self, name: str) -> TableSpec: ...

    @abstractmethod
    def _delete_table(self, name: str) -> None: ...

    @abstractmethod
    def _list_tables(self) -> list[str]: ...

    @abstractmethod
    def _get(self, req: GetRequest) -> Item | None: ...

    @abstractmethod
    def _put(self, req: PutRequest) -> Item | None: ...

    @abstractmethod
    def _update(self, req: UpdateRequest) -> Item | None: ...

    @abstractmethod
    def _delete(self, req: DeleteRequest) -> Item | None: ...

    @abstractmethod
    def _query(self, req: QueryRequest) -> QueryResult: ...

    @abstractmethod
    def _scan(self, req: ScanRequest) -> QueryResult: ...

    @abstractmethod
    def _batch_get(self, reqs: list[GetRequest]) -> list[Item | None]: ...

    @abstractmethod
    def _batch_write(self, reqs: list[PutRequest | DeleteRequest]) -> None: ...

    @abstractmethod
    def _transact_get(self, reqs: list[GetRequest]) -> list[Item | None]: ...

    @abstractmethod
    def _transact_write(self, reqs: list[WriteRequest], token: str | None) -> None: ...
