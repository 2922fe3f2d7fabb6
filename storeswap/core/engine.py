"""Write planning and read shaping for adapters that evaluate expressions in Python.

The memory and PostgreSQL adapters both read the current item, then ask
this module what to write and what to return; DynamoDB's rules for
conditions, updates, return values, transactions and index projections
therefore live here once.  Matching items against a key condition lives in
:mod:`storeswap.core.expressions.key_conditions` (re-exported here).  (The DynamoDB adapter renders the same AST into
expression strings instead.)
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import define

from storeswap.core.errors import (
    CancellationReason,
    ConditionFailed,
    ItemTooLarge,
    TransactionCanceled,
    ValidationError,
)
from storeswap.core.expressions import apply_update, evaluate, project
from storeswap.core.expressions.ast import Condition, Path, Projection
from storeswap.core.expressions.key_conditions import key_condition_matches, sort_condition_matches
from storeswap.core.keys import check_item_keys
from storeswap.core.requests import (
    CheckRequest,
    DeleteRequest,
    PutRequest,
    ReturnValues,
    UpdateRequest,
    WriteRequest,
)
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import Item, check_item_size, copy_value

__all__ = [
    "Outcome",
    "plan_write",
    "plan_transaction",
    "check_condition",
    "in_index",
    "index_view",
    "shape",
    "sort_condition_matches",
    "key_condition_matches",
]

@define(frozen=True, slots=True)
class Outcome:
    """What one write does: ``new`` is the item to store (``None`` deletes); ``result`` is returned to the caller.

    ``changed`` is False for condition checks, which write nothing.
    """

    new: Item | None
    result: Item | None
    changed: bool = True


def check_condition(condition: Condition | None, old: Item | None, return_old: bool) -> None:
    """Raise :class:`ConditionFailed` unless ``condition`` holds on ``old`` (C1)."""
    if condition is None:
        return
    if not evaluate(condition, old if old is not None else {}):
        raise ConditionFailed(item=copy_value(old) if (return_old and old is not None) else None)


def _returned(rv: ReturnValues, old: Item | None, new: Item | None, touched: Sequence[Path]) -> Item | None:
    if rv == "NONE":
        return None
    if rv == "ALL_OLD":
        return copy_value(old) if old else None
    if rv == "ALL_NEW":
        return copy_value(new) if new else None
    source = old if rv == "UPDATED_OLD" else new
    if not source or not touched:
        return None
    shaped = project(Projection(tuple(touched)), source)
    return shaped or None


def plan_write(req: WriteRequest, old: Item | None) -> Outcome:
    """Decide one write against the current item ``old``; raises ConditionFailed / ValidationError.

    The caller must hold whatever lock makes ``old`` current until it has
    applied the outcome (a row lock in PostgreSQL, the table lock in memory).
    """
    check_condition(req.condition, old, req.return_old_on_failure)
    if isinstance(req, PutRequest):
        return Outcome(req.item, _returned(req.return_values, old, req.item, ()))
    if isinstance(req, DeleteRequest):
        return Outcome(None, _returned(req.return_values, old, None, ()), changed=old is not None)
    if isinstance(req, CheckRequest):
        return Outcome(old, None, changed=False)
    assert isinstance(req, UpdateRequest)
    base = old if old is not None else dict(req.key)
    new, touched = apply_update(
        req.update, base, key_names=frozenset(req.spec.key_names), item_exists=old is not None
    )
    check_item_keys(req.spec, new)
    check_item_size(new)
    return Outcome(new, _returned(req.return_values, old, new, touched))


def plan_transaction(reqs: Sequence[WriteRequest], olds: Sequence[Item | None]) -> list[Outcome]:
    """Plan every action of a transaction; if any fails, raise :class:`TransactionCanceled` (T2).

    The reasons list one entry per action in request order; an action that
    would have succeeded has code ``"None"``.
    """
    outcomes: list[Outcome] = []
    reasons: list[CancellationReason] = []
    failed = False
    for req, old in zip(reqs, olds):
        try:
            outcomes.append(plan_write(req, old))
            reasons.append(CancellationReason("None"))
        except ConditionFailed as e:
            failed = True
            reasons.append(CancellationReason("ConditionalCheckFailed", str(e), e.item))
        except ItemTooLarge as e:
            failed = True
            reasons.append(CancellationReason("ValidationError", str(e)))
        except ValidationError as e:
            failed = True
            reasons.append(CancellationReason("ValidationError", str(e)))
    if failed:
        raise TransactionCanceled(reasons)
    return outcomes


def in_index(index: IndexKeys, item: Item) -> bool:
    """True when ``item`` appears in ``index``: it has every index key attribute (Q6: indexes are sparse)."""
    return all(name in item for name in index.key_names)


def index_view(index: IndexKeys, spec: TableSpec, item: Item) -> Item:
    """The attributes of ``item`` that ``index`` holds, by its projection."""
    if index.name is None or index.projection.type == "ALL":
        return item
    keep = set(spec.key_names) | set(index.key_names)
    if index.projection.type == "INCLUDE":
        keep.update(index.projection.include)
    return {k: v for k, v in item.items() if k in keep}


def shape(item: Item, projection: Projection | None) -> Item:
    """A copy of ``item`` holding only the projected paths (Q7), or all of it: the caller's own (X4).

    ``project`` keeps the projected values themselves (a whole map or list named by a path is the stored
    one), so its result is copied too: a caller changing a nested map of what a read returned must not
    change the stored item.
    """
    if projection is None:
        return copy_value(item)  # type: ignore[no-any-return]
    return copy_value(project(projection, item))  # type: ignore[no-any-return]
