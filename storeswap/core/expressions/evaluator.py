"""Evaluate bound expression trees against normalised items, in Python.

The memory and PostgreSQL adapters use these functions; they implement
DynamoDB's semantics (C2-C7, Q7) exactly once; key conditions (K1-K3, Q3)
live in :mod:`storeswap.core.expressions.key_conditions`.  Every function
expects a *bound* tree (see :mod:`storeswap.core.expressions.binding`) and
an item whose values are normalised (:func:`storeswap.core.values.normalize_value`):
numbers are ``Decimal``, binary is ``bytes``, sets are the typed set classes.

Items are never mutated.  :func:`apply_update` returns a new item that
shares unchanged sub-values with the input (copy-on-write along the updated
paths only); :func:`project` returns a new structure that shares leaf values
with the item.  Treat both as read-only or copy them (``copy_value``)
before handing them to a caller.
"""

from __future__ import annotations

import decimal
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from storeswap.core.errors import ValidationError
from storeswap.core.expressions.ast import (
    And,
    Arith,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Contains,
    IfNotExists,
    In,
    ListAppend,
    Literal,
    Not,
    Operand,
    Or,
    Path,
    Projection,
    Size,
    UpdateExpr,
)
from storeswap.core.values import BinarySet, NumberSet, StringSet, copy_value, normalize_number, type_tag

__all__ = [
    "MISSING",
    "resolve",
    "values_equal",
    "evaluate",
    "apply_update",
    "project",
]


class _Missing:
    """The type of :data:`MISSING`: what :func:`resolve` returns for an absent path."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: Returned by :func:`resolve` when the path does not exist in the item
#: (distinct from ``None``, which is a present NULL value, V9).
MISSING: Final = _Missing()


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


# size() of a number, bool, null or a missing attribute: any comparison with
# it is false, ``<>`` included.
_INVALID: Final = _Invalid()

# Wide enough that adding or subtracting two legal numbers is exact; the
# result is then checked against the 38-digit limit by normalize_number (V1).
_ARITH_CTX: Final = decimal.Context(prec=400, Emax=999_999, Emin=-999_999, traps=[decimal.InvalidOperation])

_ORDER_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_BAD_PATH: Final = "The document path provided in the update expression is invalid for update"
_MISSING_OPERAND: Final = "The provided expression refers to an attribute that does not exist in the item"


# -- paths and values --------------------------------------------------------


def resolve(item: Mapping[str, Any], path: Path) -> Any:
    """The value at ``path`` in ``item``, or :data:`MISSING` when any step is absent or of the wrong type."""
    elements = path.elements
    cur: Any = item.get(elements[0], MISSING)  # type: ignore[arg-type]  # a str in bound trees
    if len(elements) == 1 or cur is MISSING:
        return cur
    for i in range(1, len(elements)):
        e = elements[i]
        if type(e) is int:
            if type(cur) is not list or e >= len(cur):
                return MISSING
            cur = cur[e]
        else:
            if type(cur) is not dict:
                return MISSING
            cur = cur.get(e, MISSING)
            if cur is MISSING:
                return MISSING
    return cur


def values_equal(a: Any, b: Any) -> bool:
    """DynamoDB equality: values of different types are never equal (C2), recursively.

    ``Decimal(1)`` never equals ``True`` here, although Python says ``1 == True``;
    sets are equal when they have the same type and elements; lists and maps
    compare element by element with the same strictness.
    """
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, bool):
        return isinstance(b, bool) and a == b
    if isinstance(a, Decimal):
        return isinstance(b, Decimal) and a == b
    if isinstance(a, bytes):
        return isinstance(b, bytes) and a == b
    if a is None:
        return b is None
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(values_equal, a, b))
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for k, v in a.items():
            w = b.get(k, MISSING)
            if w is MISSING or not values_equal(v, w):
                return False
        return True
    if isinstance(a, frozenset):
        # The typed set classes keep SS, NS and BS apart.
        return type(a) is type(b) and a == b
    return False


def _size(value: Any) -> Any:
    """size(): UTF-16 code units of a string (C3), bytes of binary, elements of a set, list or map."""
    if isinstance(value, str):
        if value.isascii():
            return Decimal(len(value))
        # Characters outside the BMP count twice, as surrogate pairs.
        return Decimal(len(value.encode("utf-16-le", "surrogatepass")) // 2)
    if isinstance(value, (bytes, list, dict, frozenset)):
        return Decimal(len(value))
    return _INVALID


def _ordered(op: str, left: Any, right: Any) -> bool:
    # Only same-type S, N and B are ordered (C2).  Python's str order is by
    # code point, which is exactly the order of the UTF-8 bytes (K1); bytes
    # compare unsigned; Decimal numerically.
    if isinstance(left, str):
        if not isinstance(right, str):
            return False
    elif isinstance(left, Decimal):
        if not isinstance(right, Decimal):
            return False
    elif isinstance(left, bytes):
        if not isinstance(right, bytes):
            return False
    else:
        return False
    return _ORDER_OPS[op](left, right)


# -- conditions ----------------------------------------------------------------


def _value(op: Operand, item: Mapping[str, Any]) -> Any:
    if isinstance(op, Path):
        return resolve(item, op)
    if isinstance(op, Literal):
        return op.value
    if isinstance(op, Size):
        return _size(resolve(item, op.path))
    raise ValidationError(f"{type(op).__name__} cannot be evaluated in a condition (unbound or update-only operand)")


def _compare(op: str, left: Any, right: Any) -> bool:
    if left is _INVALID or right is _INVALID:
        return False
    if left is MISSING or right is MISSING:
        # A missing attribute is unequal to everything, even another missing
        # one: only <> holds (verified against DynamoDB; see module docs of the tests).
        return op == "<>"
    if op == "=":
        return values_equal(left, right)
    if op == "<>":
        return not values_equal(left, right)
    return _ordered(op, left, right)


def _contains(container: Any, operand: Any) -> bool:
    if operand is MISSING or operand is _INVALID:
        return False
    if isinstance(container, str):
        return isinstance(operand, str) and operand in container
    if isinstance(container, bytes):
        return isinstance(operand, bytes) and operand in container
    if isinstance(container, StringSet):
        return isinstance(operand, str) and operand in container
    if isinstance(container, NumberSet):
        # isinstance(True, Decimal) is False, so True never matches Decimal(1).
        return isinstance(operand, Decimal) and operand in container
    if isinstance(container, BinarySet):
        return isinstance(operand, bytes) and operand in container
    if isinstance(container, list):
        return any(values_equal(e, operand) for e in container)
    return False


def evaluate(cond: Condition, item: Mapping[str, Any]) -> bool:
    """Evaluate a bound condition (or filter) on a normalised item; a missing item is ``{}``.

    Semantics (C2-C4): different types never compare equal; ``<``, ``<=``,
    ``>``, ``>=`` and ``BETWEEN`` hold only between values of the same type
    S, N or B; a missing operand makes every comparison false except ``<>``,
    which is true; ``size()`` of a value without a size makes every
    comparison false; ``begins_with`` is a plain prefix test (no wildcards).
    """
    if isinstance(cond, Compare):
        return _compare(cond.op, _value(cond.left, item), _value(cond.right, item))
    if isinstance(cond, And):
        return evaluate(cond.left, item) and evaluate(cond.right, item)
    if isinstance(cond, Or):
        return evaluate(cond.left, item) or evaluate(cond.right, item)
    if isinstance(cond, Not):
        return not evaluate(cond.operand, item)
    if isinstance(cond, AttributeExists):
        return resolve(item, cond.path) is not MISSING
    if isinstance(cond, AttributeNotExists):
        return resolve(item, cond.path) is MISSING
    if isinstance(cond, Between):
        v = _value(cond.operand, item)
        low = _value(cond.low, item)
        high = _value(cond.high, item)
        if v is MISSING or low is MISSING or high is MISSING:
            return False
        return _ordered(">=", v, low) and _ordered("<=", v, high)
    if isinstance(cond, In):
        v = _value(cond.operand, item)
        if v is MISSING or v is _INVALID:
            return False
        return any(values_equal(v, _value(candidate, item)) for candidate in cond.values)
    if isinstance(cond, BeginsWith):
        v = resolve(item, cond.path)
        prefix = _value(cond.prefix, item)
        if isinstance(v, str):
            return isinstance(prefix, str) and v.startswith(prefix)
        if isinstance(v, bytes):
            return isinstance(prefix, bytes) and v.startswith(prefix)
        return False
    if isinstance(cond, Contains):
        return _contains(resolve(item, cond.path), _value(cond.operand, item))
    if isinstance(cond, AttributeType):
        v = resolve(item, cond.path)
        return v is not MISSING and type_tag(v) == _value(cond.type, item)
    raise ValidationError(f"cannot evaluate {type(cond).__name__} as a condition")


# -- updates -------------------------------------------------------------------


def _update_value(op: Operand, item: Mapping[str, Any]) -> Any:
    """A SET operand's value, read from the *original* item (DynamoDB reads before it writes)."""
    t = type(op)
    if t is Literal:
        # Copied so the stored item never shares lists or maps with a (reusable) tree.
        return copy_value(op.value)  # type: ignore[union-attr]
    if t is Path:
        v = resolve(item, op)  # type: ignore[arg-type]
        if v is MISSING:
            raise ValidationError(f"{_MISSING_OPERAND}: {op}")
        return v
    if t is IfNotExists:
        assert isinstance(op, IfNotExists)
        v = resolve(item, op.path)
        return _update_value(op.default, item) if v is MISSING else v
    if t is ListAppend:
        assert isinstance(op, ListAppend)
        first = _update_value(op.first, item)
        second = _update_value(op.second, item)
        for v in (first, second):
            if not isinstance(v, list):
                raise ValidationError(
                    "Incorrect operand type for operator or function; operator or function: list_append, "
                    f"operand type: {type_tag(v)}"
                )
        return first + second
    if t is Arith:
        assert isinstance(op, Arith)
        left = _update_value(op.left, item)
        right = _update_value(op.right, item)
        for v in (left, right):
            if not isinstance(v, Decimal):
                raise ValidationError(
                    f"Incorrect operand type for operator or function; operator or function: {op.op}, "
                    f"operand type: {type_tag(v)}"
                )
        result = _ARITH_CTX.add(left, right) if op.op == "+" else _ARITH_CTX.subtract(left, right)
        return normalize_number(result, where=f"result of {op.op}")
    raise ValidationError(f"{t.__name__} is not allowed in an update expression")


class _Writer:
    """Copy-on-write access to the new item: containers are copied once, on the way down to a change."""

    __slots__ = ("owned", "root")

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.owned = {id(root)}

    def parent(self, path: Path) -> Any:
        """The writable container holding the last element of ``path``, or MISSING if a step is absent."""
        cur: Any = self.root
        elements = path.elements
        for i in range(len(elements) - 1):
            e = elements[i]
            if type(e) is int:
                if type(cur) is not list or e >= len(cur):
                    return MISSING
            elif type(cur) is not dict or e not in cur:
                return MISSING
            child = cur[e]
            if (type(child) is dict or type(child) is list) and id(child) not in self.owned:
                child = child.copy()
                cur[e] = child
                self.owned.add(id(child))
            cur = child
        return cur


def _bad_path(path: Path) -> ValidationError:
    return ValidationError(f"{_BAD_PATH}: {path}", position=path.position if path.position >= 0 else None)


def _current(parent: Any, last: str | int) -> Any:
    if type(last) is int:
        return parent[last] if last < len(parent) else MISSING
    return parent.get(last, MISSING)


def _locate(writer: _Writer, path: Path) -> tuple[Any, str | int]:
    """The writable parent container of ``path`` and its last element; a bad path raises (C6)."""
    last = path.elements[-1]
    parent = writer.parent(path)
    if type(last) is int:
        if type(parent) is not list:
            raise _bad_path(path)
    elif type(parent) is not dict:
        raise _bad_path(path)
    assert isinstance(last, (str, int))
    return parent, last


class _ListEdits:
    """Deferred list edits, so every index in one update refers to the original list (C7)."""

    __slots__ = ("appends", "removals")

    def __init__(self) -> None:
        self.removals: dict[int, tuple[list[Any], set[int]]] = {}
        self.appends: dict[int, tuple[list[Any], list[tuple[int, Any, int]]]] = {}

    def remove(self, lst: list[Any], index: int) -> None:
        self.removals.setdefault(id(lst), (lst, set()))[1].add(index)

    def append(self, lst: list[Any], index: int, value: Any, action: int) -> None:
        self.appends.setdefault(id(lst), (lst, []))[1].append((index, value, action))

    def apply(self, touched: list[Path]) -> None:
        for lst, indexes in self.removals.values():
            for i in sorted(indexes, reverse=True):
                if i < len(lst):
                    del lst[i]
        for lst, pending in self.appends.values():
            # "If you add multiple elements in a single SET operation, the
            # elements are sorted in order by element number."
            for _, value, action in sorted(pending, key=lambda p: p[0]):
                old = touched[action]
                touched[action] = Path((*old.elements[:-1], len(lst)), old.position)
                lst.append(value)


def _store(parent: Any, last: str | int, value: Any, edits: _ListEdits, action: int) -> None:
    if type(last) is int:
        assert isinstance(last, int)
        if last < len(parent):
            parent[last] = value
        else:
            # SET past the end of a list appends (C7).
            edits.append(parent, last, value, action)
    else:
        parent[last] = value


def _drop(parent: Any, last: str | int, edits: _ListEdits) -> None:
    if type(last) is int:
        assert isinstance(last, int)
        edits.remove(parent, last)
    else:
        parent.pop(last, None)


def apply_update(
    update: UpdateExpr,
    item: Mapping[str, Any],
    *,
    key_names: frozenset[str],
    item_exists: bool = True,
) -> tuple[dict[str, Any], tuple[Path, ...]]:
    """Apply a bound update expression; return the new item and the paths the actions touched.

    ``item`` is the current item (for an upsert of a missing item, just its
    key attributes, with ``item_exists=False``).  It is not modified.  The
    touched paths, one per action in SET, REMOVE, ADD, DELETE order (a SET
    past the end of a list reports the index the element landed at), let the
    caller shape UPDATED_OLD / UPDATED_NEW (C8).

    Semantics ("Update expressions", C5-C7): every operand reads the
    original item; a SET operand naming a missing attribute fails; ``+`` and
    ``-`` take numbers only and their result must be a legal number (V1);
    ``list_append`` takes lists; a nested path whose parent is missing or is
    not a map / list is invalid for SET, ADD, DELETE and REMOVE (REMOVE of
    a nested path on a missing item is ignored, as DynamoDB does); REMOVE of
    a missing attribute or of an index past the end does nothing; list
    indexes all refer to the list before the update; ADD treats a missing
    number as 0 and creates a missing set; DELETE removes set elements and
    the attribute once empty.  Any action on a key attribute fails (C5).
    """
    actions = update.actions()
    for action in actions:
        top = action.path.elements[0]
        if top in key_names:
            raise ValidationError(f"Cannot update attribute {top}. This attribute is part of the key")
    set_values = [_update_value(a.value, item) for a in update.set]
    new = dict(item)
    writer = _Writer(new)
    edits = _ListEdits()
    touched = [a.path for a in actions]
    n = 0
    for set_action, value in zip(update.set, set_values):
        parent, last = _locate(writer, set_action.path)
        _store(parent, last, value, edits, n)
        n += 1
    removes = update.remove
    n += len(removes)
    for add in update.add:
        parent, last = _locate(writer, add.path)
        _store(parent, last, _added(add.path, _current(parent, last), _action_value(add.value)), edits, n)
        n += 1
    for d in update.delete:
        try:
            parent, last = _locate(writer, d.path)
        except ValidationError:
            if item_exists:
                raise
            continue
        current = _current(parent, last)
        if current is MISSING:
            continue
        remaining = _deleted(d.path, current, _action_value(d.value))
        if remaining is None:
            _drop(parent, last, edits)
        else:
            parent[last] = remaining
    # REMOVE last: its list deletions are deferred anyway, and nothing after it reads the item.
    for r in removes:
        if len(r.path.elements) == 1:
            new.pop(r.path.elements[0], None)  # type: ignore[arg-type]  # a str in bound trees
            continue
        try:
            parent, last = _locate(writer, r.path)
        except ValidationError:
            if item_exists:
                raise
            continue
        _drop(parent, last, edits)
    edits.apply(touched)
    return new, tuple(touched)


def _action_value(op: Operand) -> Any:
    if not isinstance(op, Literal):
        raise ValidationError("ADD and DELETE take a value (:placeholder), not an expression")
    return op.value


def _added(path: Path, current: Any, value: Any) -> Any:
    if isinstance(value, Decimal):
        if current is MISSING:
            return value
        if isinstance(current, Decimal):
            return normalize_number(_ARITH_CTX.add(current, value), where=f"ADD {path}")
    elif isinstance(value, (StringSet, NumberSet, BinarySet)):
        if current is MISSING:
            return value
        if type(current) is type(value):
            union: frozenset[Any] = current | value
            return type(value)(union)
    else:
        raise ValidationError(
            f"Incorrect operand type for operator or function; operator: ADD, operand type: {type_tag(value)}"
        )
    raise ValidationError(
        f"An operand in the update expression has an incorrect data type: ADD {type_tag(value)} to "
        f"{type_tag(current)} at {path}"
    )


def _deleted(path: Path, current: Any, value: Any) -> Any:
    if not isinstance(value, (StringSet, NumberSet, BinarySet)):
        raise ValidationError(
            f"Incorrect operand type for operator or function; operator: DELETE, operand type: {type_tag(value)}"
        )
    if type(current) is not type(value):
        raise ValidationError(
            f"An operand in the update expression has an incorrect data type: DELETE {type_tag(value)} from "
            f"{type_tag(current)} at {path}"
        )
    remaining: frozenset[Any] = current - value
    return type(value)(remaining) if remaining else None


# -- projections -----------------------------------------------------------------


class _MapNode(dict[str, Any]):
    """A map being assembled by :func:`project` (as opposed to a map value copied from the item)."""

    __slots__ = ()


class _ListNode(dict[int, Any]):
    """A list being assembled by :func:`project`: index → element, compacted in index order at the end."""

    __slots__ = ()


def project(projection: Projection, item: Mapping[str, Any]) -> dict[str, Any]:
    """Only the projected paths of ``item``, nested structure kept (Q7).

    ``a.b[2]`` gives ``{"a": {"b": [element]}}``: list elements picked by
    index are compacted, in index order, as DynamoDB returns them.  Paths
    that do not exist are left out.
    """
    root = _MapNode()
    for path in projection.paths:
        value = resolve(item, path)
        if value is MISSING:
            continue
        elements = path.elements
        node: Any = root
        for i in range(len(elements) - 1):
            e = elements[i]
            child = node.get(e)
            if not isinstance(child, (_MapNode, _ListNode)):
                if child is not None:
                    break  # an ancestor is already projected whole (overlapping paths)
                child = _ListNode() if type(elements[i + 1]) is int else _MapNode()
                node[e] = child
            node = child
        else:
            node[elements[-1]] = value
    return _finish(root)  # type: ignore[no-any-return]


def _finish(node: Any) -> Any:
    if isinstance(node, _MapNode):
        return {k: _finish(v) for k, v in node.items()}
    if isinstance(node, _ListNode):
        return [_finish(node[i]) for i in sorted(node)]
    return node
