"""Key conditions: validating a query's KeyConditionExpression and matching items against it.

One home for DynamoDB's key rules of a query: the shape of a key condition
(``pk = v`` ANDed with at most one sort-key condition, K1-K3), the ban on
filters that name key attributes (Q3), and — for adapters that evaluate in
Python (memory, PostgreSQL, third-party ones) — whether an item falls in
the partition and sort range a key condition selects.
"""

from __future__ import annotations

from typing import Any, Final

from storeswap.core.errors import ValidationError
from storeswap.core.expressions.ast import (
    And,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Contains,
    In,
    KeyCondition,
    Literal,
    Not,
    Or,
    Path,
    Size,
)
from storeswap.core.keys import order_value
from storeswap.core.schema import IndexKeys
from storeswap.core.values import type_tag

__all__ = [
    "key_condition",
    "key_condition_for",
    "condition_names",
    "check_filter_names",
    "sort_condition_matches",
    "key_condition_matches",
]

_FLIPPED: Final = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ABSENT: Final = object()


# -- names a condition refers to (Q3) ---------------------------------------------


def condition_names(cond: Condition) -> frozenset[str]:
    """The top-level attribute names a bound condition refers to (to check Q3: filters may not name keys)."""
    out: set[str] = set()
    _collect_names(cond, out)
    return frozenset(out)


def _collect_names(node: Any, out: set[str]) -> None:
    if isinstance(node, Path):
        first = node.elements[0]
        if isinstance(first, str):
            out.add(first)
    elif isinstance(node, (And, Or)):
        _collect_names(node.left, out)
        _collect_names(node.right, out)
    elif isinstance(node, Not):
        _collect_names(node.operand, out)
    elif isinstance(node, Compare):
        _collect_names(node.left, out)
        _collect_names(node.right, out)
    elif isinstance(node, Between):
        for op in (node.operand, node.low, node.high):
            _collect_names(op, out)
    elif isinstance(node, In):
        _collect_names(node.operand, out)
        for op in node.values:
            _collect_names(op, out)
    elif isinstance(node, (AttributeExists, AttributeNotExists, Size)):
        _collect_names(node.path, out)
    elif isinstance(node, AttributeType):
        _collect_names(node.path, out)
        _collect_names(node.type, out)
    elif isinstance(node, BeginsWith):
        _collect_names(node.path, out)
        _collect_names(node.prefix, out)
    elif isinstance(node, Contains):
        _collect_names(node.path, out)
        _collect_names(node.operand, out)


def check_filter_names(filter: Condition, index: IndexKeys) -> None:
    """Raise ValidationError when a query filter names a key attribute of the queried table or index (Q3)."""
    clash = condition_names(filter) & frozenset(index.key_names)
    if clash:
        raise ValidationError(f"a query filter cannot name key attributes: {', '.join(sorted(clash))} (Q3)")


# -- key conditions --------------------------------------------------------------


def _conjuncts(cond: Condition, out: list[Condition]) -> None:
    if isinstance(cond, And):
        _conjuncts(cond.left, out)
        _conjuncts(cond.right, out)
    elif isinstance(cond, Or):
        raise ValidationError("Invalid KeyConditionExpression: the OR operator is not supported in a key condition")
    elif isinstance(cond, Not):
        raise ValidationError("Invalid KeyConditionExpression: the NOT operator is not supported in a key condition")
    else:
        out.append(cond)


def _key_name(path: Any) -> str:
    if not isinstance(path, Path):
        raise ValidationError("Invalid KeyConditionExpression: each condition must name a key attribute")
    if len(path.elements) != 1 or not isinstance(path.elements[0], str):
        raise ValidationError(f"Invalid KeyConditionExpression: key conditions cannot use nested paths ({path})")
    return path.elements[0]


def _key_literal(op: Any, name: str, tag: str) -> Literal:
    if not isinstance(op, Literal):
        raise ValidationError(f"Invalid KeyConditionExpression: the condition on {name} must compare it with a value")
    actual = type_tag(op.value)
    if actual != tag:
        raise ValidationError(
            f"Invalid KeyConditionExpression: key attribute {name} has type {tag}, but the value has type {actual}"
        )
    return op


def key_condition(
    cond: Condition,
    *,
    partition: tuple[str, str],
    sort: tuple[str, str] | None,
) -> KeyCondition:
    """Validate a bound condition as a key condition and return its :class:`KeyCondition`.

    ``partition`` and ``sort`` are (attribute name, type tag S/N/B) of the
    table's or index's key.  The condition must be ``pk = v``, optionally
    ANDed (in either order, parentheses allowed) with one sort key
    condition: ``=``, ``<``, ``<=``, ``>``, ``>=``, ``BETWEEN`` or
    ``begins_with`` (not on a number sort key, K2).  A value may stand on
    either side of a comparison (``:v < sk`` becomes ``sk > :v``).  Values
    must have the key's type; ``<>``, ``IN``, ``OR``, ``NOT``, other
    functions, nested paths and non-key attributes are refused.
    """
    leaves: list[Condition] = []
    _conjuncts(cond, leaves)
    if len(leaves) > 2:
        raise ValidationError(
            "Invalid KeyConditionExpression: at most two conditions, one on the partition key and one on the sort key"
        )
    p_name, p_tag = partition
    partition_value: Any = _ABSENT
    sort_cond: Compare | Between | BeginsWith | None = None
    sort_seen = False
    for leaf in leaves:
        if isinstance(leaf, Compare):
            if leaf.op == "<>":
                raise ValidationError("Invalid KeyConditionExpression: the <> operator is not supported for keys")
            op, left, right = leaf.op, leaf.left, leaf.right
            if not isinstance(left, Path) and isinstance(right, Path):
                op, left, right = _FLIPPED[op], right, left
            name = _key_name(left)
        elif isinstance(leaf, Between):
            name = _key_name(leaf.operand)
        elif isinstance(leaf, BeginsWith):
            name = _key_name(leaf.path)
        elif isinstance(leaf, In):
            raise ValidationError("Invalid KeyConditionExpression: the IN operator is not supported for keys")
        else:
            fn = {
                AttributeExists: "attribute_exists",
                AttributeNotExists: "attribute_not_exists",
                AttributeType: "attribute_type",
                Contains: "contains",
            }.get(type(leaf), type(leaf).__name__)
            raise ValidationError(f"Invalid KeyConditionExpression: the function {fn} is not supported for keys")
        if name == p_name:
            if partition_value is not _ABSENT:
                raise ValidationError(f"Invalid KeyConditionExpression: only one condition is allowed on {name}")
            if not isinstance(leaf, Compare) or op != "=":
                raise ValidationError(
                    f"Invalid KeyConditionExpression: the partition key {name} supports only the = operator"
                )
            lit = _key_literal(right, name, p_tag)
            if lit.value in ("", b""):
                raise ValidationError(f"Invalid KeyConditionExpression: the value of key {name} may not be empty")
            partition_value = lit.value
        elif sort is not None and name == sort[0]:
            s_name, s_tag = sort
            if sort_seen:
                raise ValidationError(f"Invalid KeyConditionExpression: only one condition is allowed on {name}")
            sort_seen = True
            if isinstance(leaf, Compare):
                sort_cond = Compare(op, Path((s_name,)), _key_literal(right, s_name, s_tag))
            elif isinstance(leaf, Between):
                low = _key_literal(leaf.low, s_name, s_tag)
                high = _key_literal(leaf.high, s_name, s_tag)
                if low.value > high.value:
                    raise ValidationError(
                        "Invalid KeyConditionExpression: BETWEEN bounds are in the wrong order (low > high)"
                    )
                sort_cond = Between(Path((s_name,)), low, high)
            else:
                assert isinstance(leaf, BeginsWith)
                if s_tag == "N":
                    raise ValidationError(
                        f"Invalid KeyConditionExpression: begins_with is not supported on the number sort key {s_name}"
                    )
                sort_cond = BeginsWith(Path((s_name,)), _key_literal(leaf.prefix, s_name, s_tag))
        else:
            raise ValidationError(
                f"Invalid KeyConditionExpression: {name} is not a key attribute of this table or index"
            )
    if partition_value is _ABSENT:
        raise ValidationError(
            f"Invalid KeyConditionExpression: the key condition must test the partition key {p_name} with ="
        )
    return KeyCondition(p_name, partition_value, sort_cond)


def key_condition_for(cond: Condition, index: IndexKeys) -> KeyCondition:
    """:func:`key_condition` against the key schema of a table or index."""
    sort = None if index.sort_key is None else (index.sort_key.name, index.sort_key.type)
    return key_condition(cond, partition=(index.partition_key.name, index.partition_key.type), sort=sort)


# -- matching items (adapters that evaluate in Python) ----------------------------


def sort_condition_matches(cond: Compare | Between | BeginsWith | None, value: Any) -> bool:
    """True when a sort key value meets the key condition's sort part (K1, K2)."""
    if cond is None:
        return True
    v = order_value(value)
    if isinstance(cond, Compare):
        other = order_value(_literal(cond.right))
        op = cond.op
        if op == "=":
            return bool(v == other)
        if op == "<":
            return bool(v < other)
        if op == "<=":
            return bool(v <= other)
        if op == ">":
            return bool(v > other)
        if op == ">=":
            return bool(v >= other)
        raise ValidationError(f"operator {op} is not allowed in a key condition")
    if isinstance(cond, Between):
        return bool(order_value(_literal(cond.low)) <= v <= order_value(_literal(cond.high)))
    prefix = order_value(_literal(cond.prefix))
    return isinstance(v, bytes) and v.startswith(prefix)


def _literal(operand: Any) -> Any:
    value = getattr(operand, "value", _ABSENT)
    if value is _ABSENT:
        raise ValidationError("key conditions compare against values")
    return value


def key_condition_matches(kc: KeyCondition, index: IndexKeys, item: Any) -> bool:
    """True when ``item`` belongs to the partition and sort range of a key condition."""
    pk = item.get(kc.partition_name, _ABSENT)
    if pk is _ABSENT or order_value(pk) != order_value(kc.partition_value):
        return False
    if index.sort_key is None or kc.sort is None:
        return True
    sk = item.get(index.sort_key.name, _ABSENT)
    return sk is not _ABSENT and sort_condition_matches(kc.sort, sk)
