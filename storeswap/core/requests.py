"""Prepared requests: what the port hands an adapter after validating the caller's input.

Every field is validated and normalised: keys checked against the schema,
expressions parsed and bound, limits checked.  Adapters implement the
operations on these objects and never re-validate.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from attrs import define

from storeswap.core.expressions.ast import Condition, KeyCondition, Projection, UpdateExpr
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import Item, Key

__all__ = [
    "ReturnValues",
    "GetRequest",
    "PutRequest",
    "UpdateRequest",
    "DeleteRequest",
    "CheckRequest",
    "WriteRequest",
    "QueryRequest",
    "ScanRequest",
    "Page",
]

ReturnValues = Literal["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]


@define(frozen=True, slots=True)
class GetRequest:
    """Read one item by key."""

    spec: TableSpec
    key: Key
    projection: Projection | None = None
    consistent: bool = False


@define(frozen=True, slots=True)
class PutRequest:
    """Write a whole item, optionally under a condition."""

    spec: TableSpec
    item: Item
    key: Key
    condition: Condition | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class UpdateRequest:
    """Apply an update expression to one item (an upsert unless the condition prevents it, C5)."""

    spec: TableSpec
    key: Key
    update: UpdateExpr
    condition: Condition | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class DeleteRequest:
    """Delete one item, optionally under a condition."""

    spec: TableSpec
    key: Key
    condition: Condition | None = None
    return_values: ReturnValues = "NONE"
    return_old_on_failure: bool = False


@define(frozen=True, slots=True)
class CheckRequest:
    """A transaction's condition check on one item (writes nothing)."""

    spec: TableSpec
    key: Key
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
    start_key: Key | None = None
    consistent: bool = False


@define(frozen=True, slots=True)
class ScanRequest:
    """Every item of a table or index, or of one parallel-scan segment of it."""

    spec: TableSpec
    index: IndexKeys
    filter: Condition | None = None
    projection: Projection | None = None
    limit: int | None = None
    start_key: Key | None = None
    segment: int = 0
    total_segments: int = 1
    consistent: bool = False


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
