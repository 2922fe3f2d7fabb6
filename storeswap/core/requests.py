"""The port's request types: what callers pass in, and what adapters receive.

*Inputs* (:class:`TxPut`, :class:`TxUpdate`, :class:`TxDelete`,
:class:`TxCheck`, :class:`TxGet`, :class:`BatchPut`, :class:`BatchDelete`)
are plain records of what a caller asked for; nothing in them is checked
until a port method prepares them (:mod:`storeswap.core.prepare`).

*Prepared requests* (:class:`GetRequest`, :class:`PutRequest`, ...) are what
the port hands an adapter after validating the caller's input: keys checked
against the schema, expressions parsed and bound, limits checked.  Adapters
implement the operations on these objects and never re-validate; they
answer reads with a :class:`QueryResult`, which the port turns into a
:class:`Page`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from attrs import define

from storeswap.core.expressions.ast import Condition, KeyCondition, Projection, UpdateExpr
from storeswap.core.keys import extract_key
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import Item, KeyDict

__all__ = [
    "LentItems",
    "ExprInput",
    "NamesInput",
    "ValuesInput",
    "ProjectionInput",
    "TxPut",
    "TxUpdate",
    "TxDelete",
    "TxCheck",
    "TxGet",
    "TxAction",
    "BatchPut",
    "BatchDelete",
    "QueryResult",
    "ReturnValues",
    "GetRequest",
    "PutRequest",
    "BulkPutRequest",
    "UpdateRequest",
    "DeleteRequest",
    "CheckRequest",
    "WriteRequest",
    "QueryRequest",
    "ScanRequest",
    "Page",
]

ReturnValues = Literal["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]

ExprInput = Union[str, Condition, None]
NamesInput = Union[Mapping[str, str], None]
ValuesInput = Union[Mapping[str, Any], None]
ProjectionInput = Union[str, Sequence[str], Projection, None]


# ------------------------------------------------------------------- inputs


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


# -------------------------------------------------------- prepared requests


@define(frozen=True, slots=True)
class GetRequest:
    """Read one item by key."""

    spec: TableSpec
    key: KeyDict
    projection: Projection | None = None
    consistent: bool = False


@define(frozen=True, slots=True)
class PutRequest:
    """Write a whole item, optionally under a condition."""

    spec: TableSpec
    item: Item
    key: KeyDict
    condition: Condition | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class BulkPutRequest:
    """Unconditional puts of many items (``bulk_put`` / ``bulk_load``): one request for the whole bulk.

    ``items`` are normalised and their key attributes checked (:func:`~storeswap.core.prepare.prepare_bulk_puts`),
    in the caller's order, duplicates kept (the last write of a key wins).  There is no :class:`PutRequest` per
    item: building one each was a large part of a bulk load's CPU (decision 0031); :meth:`puts` builds them for
    an adapter that writes one request at a time.  An item may be a store's own object (the
    canonical items of a :class:`LentItems` are taken as they are, decision 0033): an adapter reads the items,
    and one that keeps an item after ``_bulk_put`` returns keeps a copy (the memory store copies what it stores).
    """

    spec: TableSpec
    items: list[Item]

    def __len__(self) -> int:
        return len(self.items)

    def keys(self) -> list[KeyDict]:
        """Each item's table key, in order."""
        spec = self.spec
        return [extract_key(spec, item) for item in self.items]

    def puts(self) -> list[PutRequest]:
        """One plain :class:`PutRequest` per item, in order."""
        spec = self.spec
        return [PutRequest(spec, item, extract_key(spec, item)) for item in self.items]


@define(frozen=True, slots=True)
class UpdateRequest:
    """Apply an update expression to one item (an upsert unless the condition prevents it, C5)."""

    spec: TableSpec
    key: KeyDict
    update: UpdateExpr
    condition: Condition | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class DeleteRequest:
    """Delete one item, optionally under a condition."""

    spec: TableSpec
    key: KeyDict
    condition: Condition | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class CheckRequest:
    """A transaction's condition check on one item (writes nothing)."""

    spec: TableSpec
    key: KeyDict
    condition: Condition
    return_old_on_failure: bool = False


WriteRequest = Union[PutRequest, UpdateRequest, DeleteRequest, CheckRequest]


@define(frozen=True, slots=True)
class QueryRequest:
    """Items of one partition of a table or index, in sort-key order.

    ``start_key`` is the decoded cursor: the key attributes (table key plus
    index key) of the last item of the previous page.
    """

    spec: TableSpec
    index: IndexKeys
    key_condition: KeyCondition
    filter: Condition | None = None
    projection: Projection | None = None
    limit: int | None = None
    forward: bool = True
    start_key: KeyDict | None = None
    consistent: bool = False


@define(frozen=True, slots=True)
class ScanRequest:
    """Every item of a table or index, or of one parallel-scan segment of it."""

    spec: TableSpec
    index: IndexKeys
    filter: Condition | None = None
    projection: Projection | None = None
    limit: int | None = None
    start_key: KeyDict | None = None
    segment: int = 0
    total_segments: int = 1
    consistent: bool = False


# ------------------------------------------------------------------ results


@define(frozen=True, slots=True)
class QueryResult:
    """What an adapter's ``_query`` / ``_scan`` returns.

    ``last_key`` is the key (table key plus index key attributes) of the last
    item in ``items`` when ``limit`` items were returned, else ``None``.
    """

    items: list[Item]
    last_key: KeyDict | None = None


class LentItems(list):  # type: ignore[type-arg]
    """Items a store lends instead of copying (:meth:`MemoryStore.scan_shared`): its own objects, which it never
    changes in place, for a reader that changes and keeps none of them either.

    Only a list of this exact type may pass through :func:`~storeswap.core.prepare.bulk_items` as it is
    (every item still validated): a caller's plain list is copied while it is validated, so that a thread of
    the caller changing an item after its check cannot change what is written (decision 0033).
    """

    __slots__ = ()


@define(frozen=True, slots=True)
class Page:
    """One page of a query or scan (the page contract, semantics P1-P4).

    ``items`` holds at most ``limit`` matching items, in order.  ``cursor`` is
    ``None`` when the store returned fewer than ``limit`` items or no limit was
    given; otherwise it resumes after the last item, and the next page may be
    empty (Q2).
    """

    items: list[Item]
    cursor: str | None = None

    def __iter__(self) -> Any:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
