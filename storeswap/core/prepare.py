"""Preparing requests: every check the port makes before an adapter sees a call.

Each function takes the caller's arguments (keyword-only, so a call names
what it passes) and returns a prepared request of
:mod:`storeswap.core.requests`, or raises :class:`ValidationError`.  The
checks run in the order a caller would read them: argument types first, so
a wrong type is a clear ValidationError rather than a TypeError from deep
inside, then names, keys, values, sizes, expressions and limits.  Nothing
here touches a store, so bad input leaves every store untouched (E1).

Functions that prepare several items at once take ``spec_of``, the port's
cached table look-up, because each item may name another table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.expressions import compile_expressions
from storeswap.core.expressions.ast import Condition, KeyCondition, Projection, UpdateExpr
from storeswap.core.expressions.key_conditions import check_filter_names, key_condition_for
from storeswap.core.keys import check_item_keys, decode_cursor, encode_cursor, normalize_key
from storeswap.core.requests import (
    BatchDelete,
    BatchPut,
    BulkPutRequest,
    CheckRequest,
    DeleteRequest,
    ExprInput,
    GetRequest,
    LentItems,
    NamesInput,
    Page,
    ProjectionInput,
    PutRequest,
    QueryRequest,
    QueryResult,
    ReturnValues,
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
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import (
    COMPILED,
    MAX_PARTITION_KEY_SIZE,
    MAX_SORT_KEY_SIZE,
    Item,
    KeyDict,
    item_size,
    normalize_item,
    normalize_item_python,
    normalize_value,
    type_tag,
    value_size,
)

__all__ = [
    "MAX_BATCH_WRITE",
    "MAX_BATCH_GET",
    "MAX_TRANSACTION_ACTIONS",
    "MAX_TRANSACTION_BYTES",
    "MAX_TOKEN_LENGTH",
    "SpecOf",
    "DistinctKeys",
    "check_flag",
    "check_sequence",
    "check_iterable",
    "prepare_get",
    "prepare_put",
    "prepare_bulk_puts",
    "bulk_items",
    "bulk_items_python",
    "COMPILED_BULK_ITEMS",
    "prepare_update",
    "prepare_delete",
    "prepare_check",
    "prepare_query",
    "prepare_scan",
    "prepare_batch_get",
    "prepare_batch_write",
    "prepare_transact_get",
    "prepare_transact_write",
    "make_page",
]

MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_TOKEN_LENGTH = 36

#: The port's table look-up: a name to its (cached) spec; TableNotFound / ValidationError otherwise.
SpecOf = Callable[[str], TableSpec]

_ALL_RETURN_VALUES = ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
_OLD_RETURN_VALUES = ("NONE", "ALL_OLD")
_SAME_ITEM_IN_TX = "a transaction cannot include more than one action on the same item"


# ------------------------------------------------------------------ arguments


def check_flag(value: object, name: str) -> bool:
    """``value`` when it is a bool; a flag of another type is a caller's mistake, not a truthy value."""
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be True or False, not {type(value).__name__}")
    return value


def check_sequence(value: object, what: str) -> Sequence[Any]:
    """``value`` when it is a list or tuple (not a string, a mapping or a one-shot iterator)."""
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes, bytearray)):
        raise ValidationError(f"{what}, not {type(value).__name__}")
    return value


def check_iterable(value: object, what: str) -> Iterable[Any]:
    """``value`` when it can be iterated (a string or a mapping is still refused: they iterate as names)."""
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, bytearray, Mapping)):
        raise ValidationError(f"{what}, not {type(value).__name__}")
    return value


def _return_values(value: object, allowed: tuple[str, ...]) -> ReturnValues:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(f"return_values must be one of {', '.join(allowed)}, not {value!r}")
    return value  # type: ignore[return-value]


def _limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(f"limit must be a positive integer, not {limit!r}")
    return limit


def _index_name(index: object) -> str | None:
    if index is not None and not isinstance(index, str):
        raise ValidationError(f"an index name is a string, not {type(index).__name__}")
    return index


def _projection(projection: ProjectionInput) -> str | Sequence[str] | Projection | None:
    # A list names attributes literally (no reserved-word check), as boto3 users expect.
    if projection is None or isinstance(projection, (str, Projection)):
        return projection
    if isinstance(projection, Sequence):
        return list(projection) if projection else None
    raise ValidationError(f"a projection is a string or a list of paths, not {type(projection).__name__}")


def _exact(value: Any) -> Any:
    """A key value as its exact built-in type (the same characters, bytes or number)."""
    t = type(value)
    if t is str or t is bytes or t is Decimal:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(memoryview(value))
    if isinstance(value, Decimal):
        return Decimal(value)
    return value


class DistinctKeys:
    """The one rule "a request may not name the same item twice" (T1, T2), for batches and transactions."""

    def __init__(self, message: str) -> None:
        self._message = message
        self._seen: set[tuple[Any, ...]] = set()

    @staticmethod
    def identity(table: str, key: KeyDict) -> tuple[Any, ...]:
        """A hashable identity of one item: equal for equal keys of one table, whatever their order.

        By DynamoDB type and value, the value as its exact built-in type: a ``str`` subclass (``StrEnum``,
        ``numpy.str_``) names the same item as the plain string (stores write the same bytes), and its own
        ``__hash__`` (an enum member hashes its name) must not make the two look apart.
        """
        return (table, *sorted((name, type_tag(v), _exact(v)) for name, v in key.items()))

    def add(self, table: str, key: KeyDict) -> None:
        """Remember ``table`` + ``key``; ValidationError when it was seen before."""
        identity = self.identity(table, key)
        if identity in self._seen:
            raise ValidationError(self._message)
        self._seen.add(identity)


# ---------------------------------------------------------------- single items


def prepare_get(
    spec: TableSpec,
    *,
    key: Mapping[str, Any],
    projection: ProjectionInput = None,
    names: NamesInput = None,
    consistent: bool = False,
) -> GetRequest:
    """A validated GetItem."""
    consistent = check_flag(consistent, "consistent")
    nkey = normalize_key(spec, key)
    compiled = compile_expressions(projection=_projection(projection), names=names)
    return GetRequest(spec, nkey, compiled.projection, consistent)


def prepare_put(
    spec: TableSpec,
    *,
    item: Mapping[str, Any],
    condition: ExprInput = None,
    names: NamesInput = None,
    values: ValuesInput = None,
    return_values: object = "NONE",
    return_old_on_failure: bool = False,
) -> PutRequest:
    """A validated PutItem (``return_values`` NONE or ALL_OLD, C8)."""
    rv = _return_values(return_values, _OLD_RETURN_VALUES)
    return_old = check_flag(return_old_on_failure, "return_old_on_failure")
    nitem = normalize_item(item)
    key = check_item_keys(spec, nitem)
    if condition is None and names is None and values is None:
        # The plain put (loads, migrations) skips the expression compiler entirely.
        return PutRequest(spec, nitem, key, None, rv, return_old)
    compiled = compile_expressions(condition=condition, names=names, values=values)
    return PutRequest(spec, nitem, key, compiled.condition, rv, return_old)


def prepare_bulk_puts(spec: TableSpec, items: Iterable[Any]) -> BulkPutRequest:
    """Validated plain puts of many items (``bulk_put``): what :func:`prepare_put` checks for each, as one request."""
    return BulkPutRequest(spec, bulk_items(spec, items))


def bulk_items(spec: TableSpec, items: Iterable[Any]) -> list[Item]:
    """Each item normalised and its key attributes checked, in order; the first bad item raises its error.

    Runs the compiled loop (:mod:`storeswap.core.cvalues`) when it is built: its fast paths decide only
    what they can (exact dicts of plain values; short string keys) and hand everything else to
    ``normalize_item_python`` and ``check_item_keys``, so the rules and the errors are those of
    :func:`bulk_items_python`, the reference.  When ``items`` is a :class:`~storeswap.core.requests.LentItems`
    (a store's own objects, lent to a copy) whose every item is already canonical, the result holds those
    dicts themselves rather than equal copies: one C pass that runs no Python code decides it for the whole
    list (decision 0033).  Any other list is copied as it is validated: the caller may still change its dicts.
    """
    if _compiled_items is None:
        return bulk_items_python(spec, items)
    return _compiled_items(
        items,
        normalize_value,
        value_size,
        normalize_item_python,
        _fast_key_checks(spec),
        lambda item: check_item_keys(spec, item),
        type(items) is LentItems,
    )


def bulk_items_python(spec: TableSpec, items: Iterable[Any]) -> list[Item]:
    """The pure-Python :func:`bulk_items`: ``normalize_item`` then ``check_item_keys`` for each item."""
    out: list[Item] = []
    append = out.append
    for item in items:
        nitem = normalize_item(item)
        check_item_keys(spec, nitem)
        append(nitem)
    return out


def _fast_key_checks(spec: TableSpec) -> tuple[tuple[str, str, int, bool], ...]:
    """``(name, type, byte limit, required)`` of every key attribute ``check_item_keys`` checks, for the C loop."""
    table = [(spec.partition_key, MAX_PARTITION_KEY_SIZE)]
    if spec.sort_key is not None:
        table.append((spec.sort_key, MAX_SORT_KEY_SIZE))
    names = {a.name for a, _ in table}
    out = [(a.name, a.type, limit, True) for a, limit in table]
    for index in spec.indexes():
        for attr, limit in ((index.partition_key, MAX_PARTITION_KEY_SIZE), (index.sort_key, MAX_SORT_KEY_SIZE)):
            if attr is not None and attr.name not in names:
                out.append((attr.name, attr.type, limit, False))
    return tuple(out)


_compiled_items: Callable[..., list[Item]] | None
try:
    from storeswap.core.cvalues import normalize_items as _compiled_items
except ImportError:  # no compiler at install time, or STORESWAP_PURE=1: the pure-Python loop
    _compiled_items = None
if not COMPILED:
    _compiled_items = None

#: True when :func:`bulk_items` runs the compiled loop.
COMPILED_BULK_ITEMS = _compiled_items is not None


def prepare_update(
    spec: TableSpec,
    *,
    key: Mapping[str, Any],
    update: str | UpdateExpr,
    condition: ExprInput = None,
    names: NamesInput = None,
    values: ValuesInput = None,
    return_values: object = "NONE",
    return_old_on_failure: bool = False,
) -> UpdateRequest:
    """A validated UpdateItem; key attributes cannot be updated (C5)."""
    rv = _return_values(return_values, _ALL_RETURN_VALUES)
    return_old = check_flag(return_old_on_failure, "return_old_on_failure")
    nkey = normalize_key(spec, key)
    if update is None or (isinstance(update, str) and update == ""):
        raise ValidationError("an update needs an update expression")
    compiled = compile_expressions(update=update, condition=condition, names=names, values=values)
    if compiled.update is None:  # pragma: no cover - compile_expressions returns what it was given
        raise ValidationError("an update needs an update expression")
    key_names = frozenset(spec.key_names)
    for action in compiled.update.actions():
        if action.path.top in key_names:
            raise ValidationError(f"cannot update attribute {action.path.top}: it is part of the key (C5)")
    return UpdateRequest(spec, nkey, compiled.update, compiled.condition, rv, return_old)


def prepare_delete(
    spec: TableSpec,
    *,
    key: Mapping[str, Any],
    condition: ExprInput = None,
    names: NamesInput = None,
    values: ValuesInput = None,
    return_values: object = "NONE",
    return_old_on_failure: bool = False,
) -> DeleteRequest:
    """A validated DeleteItem (``return_values`` NONE or ALL_OLD, C8)."""
    rv = _return_values(return_values, _OLD_RETURN_VALUES)
    return_old = check_flag(return_old_on_failure, "return_old_on_failure")
    nkey = normalize_key(spec, key)
    compiled = compile_expressions(condition=condition, names=names, values=values)
    return DeleteRequest(spec, nkey, compiled.condition, rv, return_old)


def prepare_check(
    spec: TableSpec,
    *,
    key: Mapping[str, Any],
    condition: str | Condition,
    names: NamesInput = None,
    values: ValuesInput = None,
    return_old_on_failure: bool = False,
) -> CheckRequest:
    """A validated ConditionCheck of a transaction; it must have a condition."""
    return_old = check_flag(return_old_on_failure, "return_old_on_failure")
    nkey = normalize_key(spec, key)
    if condition is None or (isinstance(condition, str) and condition == ""):
        raise ValidationError("a condition check needs a condition expression")
    compiled = compile_expressions(condition=condition, names=names, values=values)
    if compiled.condition is None:  # pragma: no cover - compile_expressions returns what it was given
        raise ValidationError("a condition check needs a condition expression")
    return CheckRequest(spec, nkey, compiled.condition, return_old)


# --------------------------------------------------------------- query / scan


def _consistent_index(spec: TableSpec, index_name: object, consistent: object) -> tuple[IndexKeys, bool]:
    index = spec.index(_index_name(index_name))
    flag = check_flag(consistent, "consistent")
    if flag and index.is_global:
        raise ValidationError("consistent reads are not supported on global secondary indexes (Q5)")
    return index, flag


def _start_key(
    spec: TableSpec, index: IndexKeys, cursor: str | None, segment: tuple[int, int] | None
) -> KeyDict | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor, segment=segment)
    if set(key) != set(spec.key_names) | set(index.key_names):
        raise ValidationError("the cursor does not belong to this table or index")
    try:
        check_item_keys(spec, key)  # the key values of the declared types (a store compares them with its own)
    except ValidationError:
        raise ValidationError("the cursor does not belong to this table or index (its key types differ)") from None
    return key


def prepare_query(
    spec: TableSpec,
    *,
    key_condition_expr: str | Condition,
    index: str | None = None,
    filter: ExprInput = None,
    projection: ProjectionInput = None,
    names: NamesInput = None,
    values: ValuesInput = None,
    limit: int | None = None,
    forward: bool = True,
    cursor: str | None = None,
    consistent: bool = False,
) -> QueryRequest:
    """A validated Query: key condition (K1-K3), filter without key attributes (Q3), cursor, limit."""
    keys, flag = _consistent_index(spec, index, consistent)
    forward = check_flag(forward, "forward")
    if key_condition_expr is None or (isinstance(key_condition_expr, str) and key_condition_expr == ""):
        raise ValidationError("a query needs a key condition")
    compiled = compile_expressions(
        key_condition=key_condition_expr,
        filter=filter,
        projection=_projection(projection),
        names=names,
        values=values,
    )
    if compiled.key_condition is None:  # pragma: no cover - compile_expressions returns what it was given
        raise ValidationError("a query needs a key condition")
    kc: KeyCondition = key_condition_for(compiled.key_condition, keys)
    if compiled.filter is not None:
        check_filter_names(compiled.filter, keys)
    start = _start_key(spec, keys, cursor, None)
    if start is not None and start[keys.partition_key.name] != kc.partition_value:
        # P4: a cursor of another partition's query would start this one mid-way and skip items; DynamoDB's words
        raise ValidationError("The provided starting key is outside query boundaries based on provided conditions")
    return QueryRequest(
        spec, keys, kc, compiled.filter, compiled.projection, _limit(limit), forward, start, flag
    )


def prepare_scan(
    spec: TableSpec,
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
) -> ScanRequest:
    """A validated Scan, whole or one parallel segment (Q4)."""
    keys, flag = _consistent_index(spec, index, consistent)
    if (segment is None) != (total_segments is None):
        raise ValidationError("segment and total_segments go together")
    seg, total = (0, 1) if segment is None or total_segments is None else (segment, total_segments)
    if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total <= 1_000_000:
        raise ValidationError("total_segments must be an integer from 1 to 1000000")
    if isinstance(seg, bool) or not isinstance(seg, int) or not 0 <= seg < total:
        raise ValidationError("segment must be an integer from 0 to total_segments - 1")
    compiled = compile_expressions(filter=filter, projection=_projection(projection), names=names, values=values)
    start = _start_key(spec, keys, cursor, (seg, total) if total > 1 else None)
    return ScanRequest(spec, keys, compiled.filter, compiled.projection, _limit(limit), start, seg, total, flag)


def make_page(result: QueryResult, *, limit: int | None, segment: tuple[int, int] | None) -> Page:
    """The caller's page: the items, and a cursor when ``limit`` items came back (P1-P4)."""
    cursor = None
    if limit is not None and len(result.items) >= limit and result.last_key is not None:
        cursor = encode_cursor(result.last_key, segment=segment)
    return Page(result.items, cursor)


# ----------------------------------------------------------- batches, transactions


def prepare_batch_get(spec_of: SpecOf, *, requests: object, consistent: bool = False) -> list[GetRequest]:
    """Validated reads of a BatchGetItem: at most 100 distinct keys across tables (T1)."""
    if not isinstance(requests, Mapping):
        raise ValidationError("batch_get takes a mapping of table name to a list of keys")
    consistent = check_flag(consistent, "consistent")
    lists = [
        (table, check_sequence(keys, "batch_get takes a list of keys per table")) for table, keys in requests.items()
    ]
    total = sum(len(keys) for _, keys in lists)
    if total == 0:
        raise ValidationError("batch_get needs at least one key")
    if total > MAX_BATCH_GET:
        raise ValidationError(f"batch_get takes at most {MAX_BATCH_GET} keys, got {total}")
    prepared: list[GetRequest] = []
    distinct = DistinctKeys("batch_get names the same key twice")
    for table, keys in lists:
        if not keys:
            continue  # a table with no keys is answered with an empty list, never looked up
        spec = spec_of(table)
        for key in keys:
            req = prepare_get(spec, key=key, consistent=consistent)
            distinct.add(spec.name, req.key)
            prepared.append(req)
    return prepared


def prepare_batch_write(spec_of: SpecOf, *, requests: object) -> list[PutRequest | DeleteRequest]:
    """Validated writes of a BatchWriteItem: at most 25 distinct items, no conditions (T1)."""
    reqs = check_sequence(requests, "batch_write takes a list of BatchPut / BatchDelete")
    if not reqs:
        raise ValidationError("batch_write needs at least one request")
    if len(reqs) > MAX_BATCH_WRITE:
        raise ValidationError(f"batch_write takes at most {MAX_BATCH_WRITE} requests, got {len(reqs)}")
    prepared: list[PutRequest | DeleteRequest] = []
    distinct = DistinctKeys("batch_write names the same item twice")
    for r in reqs:
        p: PutRequest | DeleteRequest
        if isinstance(r, BatchPut):
            p = prepare_put(spec_of(r.table), item=r.item)
        elif isinstance(r, BatchDelete):
            p = prepare_delete(spec_of(r.table), key=r.key)
        else:
            raise ValidationError(f"batch_write takes BatchPut / BatchDelete, not {type(r).__name__}")
        distinct.add(p.spec.name, p.key)
        prepared.append(p)
    return prepared


def _transaction_size(actions: Sequence[Any], what: str) -> None:
    if not actions:
        raise ValidationError(f"{what} needs at least one action")
    if len(actions) > MAX_TRANSACTION_ACTIONS:
        raise ValidationError(f"a transaction has at most {MAX_TRANSACTION_ACTIONS} actions, got {len(actions)}")


def prepare_transact_get(spec_of: SpecOf, *, gets: object) -> list[GetRequest]:
    """Validated reads of a TransactGetItems: at most 100 distinct items."""
    actions = check_sequence(gets, "transact_get takes a list of TxGet actions")
    _transaction_size(actions, "transact_get")
    prepared: list[GetRequest] = []
    distinct = DistinctKeys(_SAME_ITEM_IN_TX)
    for g in actions:
        if not isinstance(g, TxGet):
            raise ValidationError(f"transact_get takes TxGet actions, not {type(g).__name__}")
        req = prepare_get(spec_of(g.table), key=g.key, projection=g.projection, names=g.names, consistent=True)
        distinct.add(req.spec.name, req.key)
        prepared.append(req)
    return prepared


def _write_action(spec_of: SpecOf, a: TxAction) -> WriteRequest:
    if isinstance(a, TxPut):
        return prepare_put(
            spec_of(a.table), item=a.item, condition=a.condition, names=a.names, values=a.values,
            return_old_on_failure=a.return_old_on_failure,
        )
    if isinstance(a, TxUpdate):
        return prepare_update(
            spec_of(a.table), key=a.key, update=a.update, condition=a.condition, names=a.names, values=a.values,
            return_old_on_failure=a.return_old_on_failure,
        )
    if isinstance(a, TxDelete):
        return prepare_delete(
            spec_of(a.table), key=a.key, condition=a.condition, names=a.names, values=a.values,
            return_old_on_failure=a.return_old_on_failure,
        )
    if isinstance(a, TxCheck):
        return prepare_check(
            spec_of(a.table), key=a.key, condition=a.condition, names=a.names, values=a.values,
            return_old_on_failure=a.return_old_on_failure,
        )
    raise ValidationError(f"transact_write takes TxPut / TxUpdate / TxDelete / TxCheck, not {type(a).__name__}")


def prepare_transact_write(
    spec_of: SpecOf, *, actions: object, token: str | None = None
) -> tuple[list[WriteRequest], str | None]:
    """Validated actions of a TransactWriteItems (T2-T4) and its idempotency token (T3)."""
    acts = check_sequence(actions, "transact_write takes a list of TxPut / TxUpdate / TxDelete / TxCheck")
    _transaction_size(acts, "transact_write")
    if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN_LENGTH):
        raise ValidationError(f"an idempotency token is 1 to {MAX_TOKEN_LENGTH} characters")
    prepared: list[WriteRequest] = []
    distinct = DistinctKeys(_SAME_ITEM_IN_TX)
    total = 0
    for a in acts:
        req = _write_action(spec_of, a)
        if isinstance(req, PutRequest):
            total += item_size(req.item)
        distinct.add(req.spec.name, req.key)
        prepared.append(req)
    if total > MAX_TRANSACTION_BYTES:
        raise ValidationError(f"a transaction holds at most 4 MB of items, got {total} bytes")
    return prepared, token
