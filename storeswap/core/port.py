"""The port: :class:`ItemStore`, the one interface every store adapter implements.

The public methods live here and do every check DynamoDB does before it
touches data — names, keys, values, sizes, expressions, limits — so that
every adapter rejects the same bad input with the same typed error and
leaves the store untouched.  Adapters implement the underscore primitives
on prepared requests (:mod:`storeswap.core.requests`).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

from attrs import define, field

from storeswap.core.errors import TableNotFound, ValidationError
from storeswap.core.expressions import compile_expressions, condition_names, key_condition
from storeswap.core.expressions.ast import Condition, KeyCondition, Projection, UpdateExpr
from storeswap.core.keys import check_item_keys, decode_cursor, encode_cursor, normalize_key
from storeswap.core.requests import (
    CheckRequest,
    DeleteRequest,
    GetRequest,
    Page,
    PutRequest,
    QueryRequest,
    ReturnValues,
    ScanRequest,
    UpdateRequest,
    WriteRequest,
)
from storeswap.core.schema import IndexKeys, TableSpec, validate_table_name
from storeswap.core.streams import StreamMethods
from storeswap.core.values import Item, Key, item_size, normalize_item

__all__ = [
    "ItemStore",
    "QueryResult",
    "TxPut",
    "TxUpdate",
    "TxDelete",
    "TxCheck",
    "TxGet",
    "TxAction",
    "BatchPut",
    "BatchDelete",
    "MAX_BATCH_WRITE",
    "MAX_BATCH_GET",
    "MAX_TRANSACTION_ACTIONS",
    "MAX_TRANSACTION_BYTES",
]

MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_TOKEN_LENGTH = 36

ExprInput = Union[str, Condition, None]
NamesInput = Union[Mapping[str, str], None]
ValuesInput = Union[Mapping[str, Any], None]
ProjectionInput = Union[str, Sequence[str], Projection, None]
_RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")


@define(frozen=True, slots=True)
class QueryResult:
    """What an adapter's ``_query`` / ``_scan`` returns.

    ``last_key`` is the key (table key plus index key attributes) of the last
    item in ``items`` when ``limit`` items were returned, else ``None``.
    """

    items: list[Item]
    last_key: Key | None = None


@define(frozen=True, slots=True)
class TxPut:
    """A put inside ``transact_write``."""

    table: str
    item: Mapping[str, Any]
    condition: ExprInput = None
    names: NamesInput = None
    values: ValuesInput = None
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class TxUpdate:
    """An update inside ``transact_write``."""

    table: str
    key: Mapping[str, Any]
    update: str | UpdateExpr
    condition: ExprInput = None
    names: NamesInput = None
    values: ValuesInput = None
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class TxDelete:
    """A delete inside ``transact_write``."""

    table: str
    key: Mapping[str, Any]
    condition: ExprInput = None
    names: NamesInput = None
    values: ValuesInput = None
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class TxCheck:
    """A condition check inside ``transact_write``."""

    table: str
    key: Mapping[str, Any]
    condition: str | Condition
    names: NamesInput = None
    values: ValuesInput = None
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class TxGet:
    """A read inside ``transact_get``."""

    table: str
    key: Mapping[str, Any]
    projection: ProjectionInput = None
    names: NamesInput = None


TxAction = Union[TxPut, TxUpdate, TxDelete, TxCheck]


@define(frozen=True, slots=True)
class BatchPut:
    """A put inside ``batch_write`` (no condition, T1)."""

    table: str
    item: Mapping[str, Any]


@define(frozen=True, slots=True)
class BatchDelete:
    """A delete inside ``batch_write`` (no condition, T1)."""

    table: str
    key: Mapping[str, Any]


def _check_return_values(value: str, allowed: tuple[str, ...]) -> ReturnValues:
    if value not in allowed:
        raise ValidationError(f"return_values must be one of {', '.join(allowed)}, not {value!r}")
    return value  # type: ignore[return-value]


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive integer, not {limit!r}")
    return limit


def _projection_input(projection: ProjectionInput) -> str | Sequence[str] | Projection | None:
    # A list names attributes literally (no reserved-word check), as boto3 users expect.
    if projection is None or isinstance(projection, (str, Projection)):
        return projection
    if isinstance(projection, Sequence):
        return list(projection) if projection else None
    raise ValidationError(f"a projection is a string or a list of paths, not {type(projection).__name__}")


def _item_identity(table: str, key: Key) -> tuple[Any, ...]:
    return (table, *sorted((name, type(v).__name__, v) for name, v in key.items()))


@define(slots=False)
class _SpecCache:
    specs: dict[str, TableSpec] = field(factory=dict)
    lock: threading.Lock = field(factory=threading.Lock)


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

    def __init__(self) -> None:
        self._spec_cache = _SpecCache()

    # ------------------------------------------------------------------ tables

    def create_table(self, spec: TableSpec) -> TableSpec:
        """Create a table; :class:`TableExists` when the name is taken."""
        if not isinstance(spec, TableSpec):
            raise ValidationError(f"create_table takes a TableSpec, not {type(spec).__name__}")
        self._create_table(spec)
        with self._spec_cache.lock:
            self._spec_cache.specs[spec.name] = spec
        return spec

    def describe_table(self, name: str) -> TableSpec:
        """The table's spec; :class:`TableNotFound` when there is none."""
        validate_table_name(name)
        spec = self._describe_table(name)
        with self._spec_cache.lock:
            self._spec_cache.specs[name] = spec
        return spec

    def delete_table(self, name: str) -> None:
        """Delete a table and all its items; :class:`TableNotFound` when there is none."""
        validate_table_name(name)
        with self._spec_cache.lock:
            self._spec_cache.specs.pop(name, None)
        self._delete_table(name)

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
        spec = self._spec_cache.specs.get(table)
        if spec is not None:
            return spec
        return self.describe_table(table)

    def forget(self, table: str) -> None:
        """Drop a cached spec (after another process changed the table)."""
        with self._spec_cache.lock:
            self._spec_cache.specs.pop(table, None)

    # ------------------------------------------------------------------ items

    def get(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        projection: ProjectionInput = None,
        names: NamesInput = None,
        consistent: bool = False,
    ) -> Item | None:
        """The item with this key, or ``None``."""
        return self._get(self._prepare_get(table, key, projection, names, consistent))

    def put(
        self,
        table: str,
        item: Mapping[str, Any],
        *,
        condition: ExprInput = None,
        names: NamesInput = None,
        values: ValuesInput = None,
        return_values: str = "NONE",
        return_old_on_failure: bool = False,
    ) -> Item | None:
        """Write a whole item; returns the old item for ``return_values="ALL_OLD"`` (C8)."""
        rv = _check_return_values(return_values, ("NONE", "ALL_OLD"))
        return self._put(self._prepare_put(table, item, condition, names, values, rv, return_old_on_failure))

    def update(
        self,
        table: str,
        key: Mapping[str, Any],
        update: str | UpdateExpr,
        *,
        condition: ExprInput = None,
        names: NamesInput = None,
        values: ValuesInput = None,
        return_values: str = "NONE",
        return_old_on_failure: bool = False,
    ) -> Item | None:
        """Apply an update expression (an upsert unless the condition prevents it, C5, C8)."""
        rv = _check_return_values(return_values, _RETURN_VALUES)
        req = self._prepare_update(table, key, update, condition, names, values, rv, return_old_on_failure)
        return self._update(req)

    def delete(
        self,
        table: str,
        key: Mapping[str, Any],
        *,
        condition: ExprInput = None,
        names: NamesInput = None,
        values: ValuesInput = None,
        return_values: str = "NONE",
        return_old_on_failure: bool = False,
    ) -> Item | None:
        """Delete an item; returns the old item for ``return_values="ALL_OLD"`` (C8)."""
        rv = _check_return_values(return_values, ("NONE", "ALL_OLD"))
        return self._delete(self._prepare_delete(table, key, condition, names, values, rv, return_old_on_failure))

    def query(
        self,
        table: str,
        key_condition: str | Condition,
        *,
        index: str | None = None,
        filter: ExprInput = None,
        projection: ProjectionInput = None,
        names: NamesInput = None,
        values: ValuesInput = None,
        limit: int | None = None,
        forward: bool = True,
        cursor: str | None = None,
        consistent: bool = False,
    ) -> Page:
        """One page of the items of one partition, in sort-key order (Q1, Q2, K1-K3)."""
        req = self._prepare_query(
            table, key_condition, index, filter, projection, names, values, limit, forward, cursor, consistent
        )
        result = self._query(req)
        return self._page(req.index, req.spec, result, req.limit, None)

    def scan(
        self,
        table: str,
        *,
        index: str | None = None,
        filter: ExprInput = None,
        projection: ProjectionInput = None,
        names: NamesInput = None,
        values: ValuesInput = None,
        limit: int | None = None,
        cursor: str | None = None,
        segment: int | None = None,
        total_segments: int | None = None,
        consistent: bool = False,
    ) -> Page:
        """One page of every item of a table or index, or of one parallel-scan segment (Q1, Q4)."""
        req = self._prepare_scan(
            table, index, filter, projection, names, values, limit, cursor, segment, total_segments, consistent
        )
        result = self._scan(req)
        seg = (req.segment, req.total_segments) if req.total_segments > 1 else None
        return self._page(req.index, req.spec, result, req.limit, seg)

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
        self,
        requests: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        consistent: bool = False,
    ) -> dict[str, list[Item]]:
        """Read up to 100 items by key across tables; results per table, in any order (T1)."""
        if not isinstance(requests, Mapping):
            raise ValidationError("batch_get takes a mapping of table name to a list of keys")
        total = sum(len(keys) for keys in requests.values())
        if total == 0:
            raise ValidationError("batch_get needs at least one key")
        if total > MAX_BATCH_GET:
            raise ValidationError(f"batch_get takes at most {MAX_BATCH_GET} keys, got {total}")
        prepared: list[GetRequest] = []
        seen: set[tuple[Any, ...]] = set()
        for table, keys in requests.items():
            for key in keys:
                req = self._prepare_get(table, key, None, None, consistent)
                identity = _item_identity(table, req.key)
                if identity in seen:
                    raise ValidationError("batch_get names the same key twice")
                seen.add(identity)
                prepared.append(req)
        found = self._batch_get(prepared)
        out: dict[str, list[Item]] = {table: [] for table in requests}
        for req, item in zip(prepared, found):
            if item is not None:
                out[req.spec.name].append(item)
        return out

    def batch_write(self, requests: Sequence[BatchPut | BatchDelete]) -> None:
        """Put or delete up to 25 items across tables, without conditions (T1).

        Unprocessed items are retried inside the adapter until done.
        """
        if not isinstance(requests, Sequence) or isinstance(requests, (str, bytes)):
            raise ValidationError("batch_write takes a list of BatchPut / BatchDelete")
        if not requests:
            raise ValidationError("batch_write needs at least one request")
        if len(requests) > MAX_BATCH_WRITE:
            raise ValidationError(f"batch_write takes at most {MAX_BATCH_WRITE} requests, got {len(requests)}")
        prepared: list[PutRequest | DeleteRequest] = []
        seen: set[tuple[Any, ...]] = set()
        for r in requests:
            if isinstance(r, BatchPut):
                p: PutRequest | DeleteRequest = self._prepare_put(r.table, r.item, None, None, None, "NONE", False)
            elif isinstance(r, BatchDelete):
                p = self._prepare_delete(r.table, r.key, None, None, None, "NONE", False)
            else:
                raise ValidationError(f"batch_write takes BatchPut / BatchDelete, not {type(r).__name__}")
            identity = _item_identity(p.spec.name, p.key)
            if identity in seen:
                raise ValidationError("batch_write names the same item twice")
            seen.add(identity)
            prepared.append(p)
        self._batch_write(prepared)

    def transact_get(self, gets: Sequence[TxGet]) -> list[Item | None]:
        """Read up to 100 items as one consistent snapshot; results in request order."""
        if not gets:
            raise ValidationError("transact_get needs at least one action")
        if len(gets) > MAX_TRANSACTION_ACTIONS:
            raise ValidationError(f"a transaction has at most {MAX_TRANSACTION_ACTIONS} actions, got {len(gets)}")
        prepared: list[GetRequest] = []
        seen: set[tuple[Any, ...]] = set()
        for g in gets:
            if not isinstance(g, TxGet):
                raise ValidationError(f"transact_get takes TxGet actions, not {type(g).__name__}")
            req = self._prepare_get(g.table, g.key, g.projection, g.names, True)
            identity = _item_identity(g.table, req.key)
            if identity in seen:
                raise ValidationError("a transaction cannot include more than one action on the same item")
            seen.add(identity)
            prepared.append(req)
        return self._transact_get(prepared)

    def transact_write(self, actions: Sequence[TxAction], *, token: str | None = None) -> None:
        """Apply up to 100 writes all-or-nothing (T2-T4).

        A failed condition cancels the whole transaction with
        :class:`TransactionCanceled`, one reason per action in request order.
        ``token`` makes a repeat within 10 minutes a no-op (T3).
        """
        if not actions:
            raise ValidationError("transact_write needs at least one action")
        if len(actions) > MAX_TRANSACTION_ACTIONS:
            raise ValidationError(
                f"a transaction has at most {MAX_TRANSACTION_ACTIONS} actions, got {len(actions)}"
            )
        if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH):
            raise ValidationError(f"an idempotency token is 1 to {MAX_TOKEN_LENGTH} characters")
        prepared: list[WriteRequest] = []
        seen: set[tuple[Any, ...]] = set()
        total = 0
        for a in actions:
            req: WriteRequest
            if isinstance(a, TxPut):
                req = self._prepare_put(a.table, a.item, a.condition, a.names, a.values, "NONE",
                                        a.return_old_on_failure)
                total += item_size(req.item)
            elif isinstance(a, TxUpdate):
                req = self._prepare_update(a.table, a.key, a.update, a.condition, a.names, a.values, "NONE",
                                           a.return_old_on_failure)
            elif isinstance(a, TxDelete):
                req = self._prepare_delete(a.table, a.key, a.condition, a.names, a.values, "NONE",
                                           a.return_old_on_failure)
            elif isinstance(a, TxCheck):
                spec = self.spec(a.table)
                key = normalize_key(spec, a.key)
                compiled = compile_expressions(condition=a.condition, names=a.names, values=a.values)
                assert compiled.condition is not None
                req = CheckRequest(spec, key, compiled.condition, a.return_old_on_failure)
            else:
                raise ValidationError(f"transact_write takes TxPut / TxUpdate / TxDelete / TxCheck, not {type(a).__name__}")
            identity = _item_identity(req.spec.name, req.key)
            if identity in seen:
                raise ValidationError("a transaction cannot include more than one action on the same item")
            seen.add(identity)
            prepared.append(req)
        if total > MAX_TRANSACTION_BYTES:
            raise ValidationError(f"a transaction holds at most 4 MB of items, got {total} bytes")
        self._transact_write(prepared, token)

    def bulk_put(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Write many items unconditionally (the last write of a key wins); returns how many.

        Every item is validated as ``put`` validates it, before anything is
        written.  Meant for loads and migrations: adapters override
        ``_bulk_put`` with their fastest bulk path (PostgreSQL: COPY); the
        default writes batches of 25.
        """
        spec = self.spec(table)
        reqs = [self._prepare_put(table, item, None, None, None, "NONE", False) for item in items]
        if reqs:
            self._bulk_put(spec, reqs)
        return len(reqs)

    def _bulk_put(self, spec: TableSpec, reqs: list[PutRequest]) -> None:
        """Default bulk path: de-duplicated batches of ``MAX_BATCH_WRITE``; adapters may override."""
        latest: dict[tuple[Any, ...], PutRequest] = {}
        for r in reqs:
            identity = _item_identity(spec.name, r.key)
            latest.pop(identity, None)
            latest[identity] = r
        unique = list(latest.values())
        for i in range(0, len(unique), MAX_BATCH_WRITE):
            self._batch_write(list(unique[i : i + MAX_BATCH_WRITE]))

    def close(self) -> None:
        """Release connections and other resources; the store is unusable afterwards."""

    def __enter__(self) -> ItemStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------- preparing

    def _prepare_get(
        self, table: str, key: Mapping[str, Any], projection: ProjectionInput, names: NamesInput, consistent: bool
    ) -> GetRequest:
        spec = self.spec(table)
        nkey = normalize_key(spec, key)
        compiled = compile_expressions(projection=_projection_input(projection), names=names)
        return GetRequest(spec, nkey, compiled.projection, bool(consistent))

    def _prepare_put(
        self,
        table: str,
        item: Mapping[str, Any],
        condition: ExprInput,
        names: NamesInput,
        values: ValuesInput,
        rv: ReturnValues,
        return_old: bool,
    ) -> PutRequest:
        spec = self.spec(table)
        nitem = normalize_item(item)
        key = check_item_keys(spec, nitem)
        if condition is None and names is None and values is None:
            return PutRequest(spec, nitem, key, None, rv, bool(return_old))
        compiled = compile_expressions(condition=condition, names=names, values=values)
        return PutRequest(spec, nitem, key, compiled.condition, rv, bool(return_old))

    def _prepare_update(
        self,
        table: str,
        key: Mapping[str, Any],
        update: str | UpdateExpr,
        condition: ExprInput,
        names: NamesInput,
        values: ValuesInput,
        rv: ReturnValues,
        return_old: bool,
    ) -> UpdateRequest:
        spec = self.spec(table)
        nkey = normalize_key(spec, key)
        if update is None or update == "":
            raise ValidationError("an update needs an update expression")
        compiled = compile_expressions(update=update, condition=condition, names=names, values=values)
        assert compiled.update is not None
        key_names = frozenset(spec.key_names)
        for action in compiled.update.actions():
            if action.path.top in key_names:
                raise ValidationError(
                    f"cannot update attribute {action.path.top}: it is part of the key (C5)"
                )
        return UpdateRequest(spec, nkey, compiled.update, compiled.condition, rv, bool(return_old))

    def _prepare_delete(
        self,
        table: str,
        key: Mapping[str, Any],
        condition: ExprInput,
        names: NamesInput,
        values: ValuesInput,
        rv: ReturnValues,
        return_old: bool,
    ) -> DeleteRequest:
        spec = self.spec(table)
        nkey = normalize_key(spec, key)
        compiled = compile_expressions(condition=condition, names=names, values=values)
        return DeleteRequest(spec, nkey, compiled.condition, rv, bool(return_old))

    def _prepare_query(
        self,
        table: str,
        key_cond: str | Condition,
        index_name: str | None,
        filter: ExprInput,
        projection: ProjectionInput,
        names: NamesInput,
        values: ValuesInput,
        limit: int | None,
        forward: bool,
        cursor: str | None,
        consistent: bool,
    ) -> QueryRequest:
        spec = self.spec(table)
        index = spec.index(index_name)
        if consistent and index.is_global:
            raise ValidationError("consistent reads are not supported on global secondary indexes (Q5)")
        if key_cond is None or key_cond == "":
            raise ValidationError("a query needs a key condition")
        compiled = compile_expressions(
            key_condition=key_cond, filter=filter, projection=_projection_input(projection), names=names, values=values
        )
        assert compiled.key_condition is not None
        kc: KeyCondition = key_condition(
            compiled.key_condition,
            partition=(index.partition_key.name, index.partition_key.type),
            sort=None if index.sort_key is None else (index.sort_key.name, index.sort_key.type),
        )
        if compiled.filter is not None:
            clash = condition_names(compiled.filter) & frozenset(index.key_names)
            if clash:
                raise ValidationError(
                    f"a query filter cannot name key attributes: {', '.join(sorted(clash))} (Q3)"
                )
        start = self._decode_start(spec, index, cursor, None)
        return QueryRequest(
            spec, index, kc, compiled.filter, compiled.projection, _check_limit(limit), bool(forward), start,
            bool(consistent),
        )

    def _prepare_scan(
        self,
        table: str,
        index_name: str | None,
        filter: ExprInput,
        projection: ProjectionInput,
        names: NamesInput,
        values: ValuesInput,
        limit: int | None,
        cursor: str | None,
        segment: int | None,
        total_segments: int | None,
        consistent: bool,
    ) -> ScanRequest:
        spec = self.spec(table)
        index = spec.index(index_name)
        if consistent and index.is_global:
            raise ValidationError("consistent reads are not supported on global secondary indexes (Q5)")
        if (segment is None) != (total_segments is None):
            raise ValidationError("segment and total_segments go together")
        seg, total = (0, 1) if segment is None or total_segments is None else (segment, total_segments)
        if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total <= 1_000_000:
            raise ValidationError("total_segments must be an integer from 1 to 1000000")
        if isinstance(seg, bool) or not isinstance(seg, int) or not 0 <= seg < total:
            raise ValidationError("segment must be an integer from 0 to total_segments - 1")
        compiled = compile_expressions(
            filter=filter, projection=_projection_input(projection), names=names, values=values
        )
        start = self._decode_start(spec, index, cursor, (seg, total) if total > 1 else None)
        return ScanRequest(
            spec, index, compiled.filter, compiled.projection, _check_limit(limit), start, seg, total, bool(consistent)
        )

    def _decode_start(
        self, spec: TableSpec, index: IndexKeys, cursor: str | None, segment: tuple[int, int] | None
    ) -> Key | None:
        if cursor is None:
            return None
        key = decode_cursor(cursor, segment=segment)
        wanted = set(spec.key_names) | set(index.key_names)
        if set(key) != wanted:
            raise ValidationError("the cursor does not belong to this table or index")
        return key

    def _page(
        self, index: IndexKeys, spec: TableSpec, result: QueryResult, limit: int | None, segment: tuple[int, int] | None
    ) -> Page:
        cursor = None
        if limit is not None and len(result.items) >= limit and result.last_key is not None:
            cursor = encode_cursor(result.last_key, segment=segment)
        return Page(result.items, cursor)

    # -------------------------------------------------------------- primitives

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
