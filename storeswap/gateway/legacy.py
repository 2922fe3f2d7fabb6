"""DynamoDB's legacy request parameters, translated into the same AST the expression parser produces.

``AttributesToGet``, ``KeyConditions``, ``QueryFilter`` / ``ScanFilter``,
``Expected`` (with ``ConditionalOperator``) and ``AttributeUpdates`` predate
expressions; old SDK code and the AWS CLI still send them.  Each becomes a
bound tree (attribute names literal, values as :class:`Literal`), exactly
what :mod:`storeswap.core.expressions.builders` builds, so the port
validates and evaluates them like any other expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.expressions.ast import (
    AddAction,
    And,
    AttributeExists,
    AttributeNotExists,
    BeginsWith,
    Between,
    Compare,
    Condition,
    Contains,
    DeleteAction,
    IfNotExists,
    In,
    ListAppend,
    Literal,
    Not,
    Or,
    Path,
    Projection,
    RemoveAction,
    SetAction,
    UpdateExpr,
)
from storeswap.core.values import normalize_value
from storeswap.gateway.wire import decode_value

__all__ = [
    "projection_from_attributes",
    "key_conditions",
    "filter_conditions",
    "expected_condition",
    "attribute_updates",
    "refuse_mixing",
]

_INVALID = "One or more parameter values were invalid: "
_COMPARE = {"EQ": "=", "NE": "<>", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
_KEY_OPERATORS = frozenset({"EQ", "LT", "LE", "GT", "GE", "BEGINS_WITH", "BETWEEN"})
_ARITY = {
    "EQ": 1, "NE": 1, "LT": 1, "LE": 1, "GT": 1, "GE": 1, "CONTAINS": 1, "NOT_CONTAINS": 1,
    "BEGINS_WITH": 1, "BETWEEN": 2, "NULL": 0, "NOT_NULL": 0,
}


def refuse_mixing(params: Mapping[str, Any], legacy: tuple[str, ...], expressions: tuple[str, ...]) -> None:
    """DynamoDB refuses a request that uses a legacy parameter and an expression parameter together."""
    old = [p for p in legacy if params.get(p) is not None]
    new = [p for p in expressions if params.get(p) is not None]
    if old and new:
        raise ValidationError(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(old)}}} Expression parameters: {{{', '.join(new)}}}"
        )


def _literal(av: Any, name: str) -> Literal:
    return Literal(normalize_value(decode_value(av, name), where=name))


def _path(name: Any) -> Path:
    if not isinstance(name, str) or not name:
        raise ValidationError(f"{_INVALID}attribute names are non-empty strings")
    return Path((name,))


def projection_from_attributes(names: Any) -> Projection:
    """``AttributesToGet``: top-level attribute names, taken literally (dots are part of the name)."""
    if not isinstance(names, list) or not names:
        raise ValidationError(f"{_INVALID}AttributesToGet must be a non-empty list of names")
    paths = tuple(_path(n) for n in names)  # each a non-empty string, before they are compared
    if len(set(names)) != len(names):
        raise ValidationError(f"{_INVALID}Duplicate value in attribute name: {names}")
    return Projection(paths)


def _one(name: str, spec: Any, *, key: bool) -> Condition:
    if not isinstance(spec, dict):
        raise ValidationError(f"{_INVALID}a condition on {name} is an object with ComparisonOperator")
    op = spec.get("ComparisonOperator")
    if not isinstance(op, str):
        raise ValidationError(f"{_INVALID}ComparisonOperator on {name} must be a string")
    values = spec.get("AttributeValueList") or []
    if not isinstance(values, list):
        raise ValidationError(f"{_INVALID}AttributeValueList must be a list")
    allowed = _KEY_OPERATORS if key else frozenset({*_ARITY, "IN"})
    if op not in allowed:
        raise ValidationError(f"{_INVALID}Unsupported operator on {'KeyConditions' if key else 'a condition'}: {op}")
    arity = _ARITY.get(op)
    if (arity is not None and len(values) != arity) or (op == "IN" and not values):
        raise ValidationError(f"{_INVALID}Invalid number of argument(s) for the {op} ComparisonOperator")
    path = _path(name)
    lits = [_literal(v, name) for v in values]
    if op in _COMPARE:
        return Compare(_COMPARE[op], path, lits[0])
    if op == "BEGINS_WITH":
        return BeginsWith(path, lits[0])
    if op == "BETWEEN":
        return Between(path, lits[0], lits[1])
    if op == "IN":
        return In(path, tuple(lits))
    if op == "CONTAINS":
        return Contains(path, lits[0])
    if op == "NOT_CONTAINS":
        return Not(Contains(path, lits[0]))
    if op == "NULL":
        return AttributeNotExists(path)
    return AttributeExists(path)  # NOT_NULL


def _combine(conds: list[Condition], operator: Any) -> Condition:
    if operator not in (None, "AND", "OR"):
        raise ValidationError(f"{_INVALID}ConditionalOperator is AND or OR, not {operator!r}")
    out = conds[0]
    for c in conds[1:]:
        out = Or(out, c) if operator == "OR" else And(out, c)
    return out


def key_conditions(conditions: Any) -> Condition:
    """``KeyConditions`` as a key condition (EQ on the partition key, one sort-key operator)."""
    if not isinstance(conditions, dict) or not conditions:
        raise ValidationError(f"{_INVALID}KeyConditions must name the partition key")
    return _combine([_one(name, spec, key=True) for name, spec in conditions.items()], "AND")


def filter_conditions(conditions: Any, operator: Any) -> Condition | None:
    """``QueryFilter`` / ``ScanFilter`` with ``ConditionalOperator``."""
    if conditions is None:
        return None
    if not isinstance(conditions, dict) or not conditions:
        if operator is not None and not conditions:
            raise ValidationError(f"{_INVALID}ConditionalOperator needs at least two conditions")
        return None
    return _combine([_one(name, spec, key=False) for name, spec in conditions.items()], operator)


def _expected_one(name: str, spec: Any) -> Condition:
    if not isinstance(spec, dict):
        raise ValidationError(f"{_INVALID}Expected.{name} is an object")
    if "ComparisonOperator" in spec:
        if "Value" in spec or "Exists" in spec:
            raise ValidationError(
                f"{_INVALID}Value or Exists cannot be used with ComparisonOperator for Attribute: {name}"
            )
        return _one(name, spec, key=False)
    exists = spec.get("Exists", True)
    if exists is False:
        if "Value" in spec:
            raise ValidationError(f"{_INVALID}Value cannot be used when Exists is false for Attribute: {name}")
        return AttributeNotExists(_path(name))
    if "Value" not in spec:
        raise ValidationError(f"{_INVALID}Value must be provided when Exists is true for Attribute: {name}")
    return Compare("=", _path(name), _literal(spec["Value"], name))


def expected_condition(expected: Any, operator: Any) -> Condition | None:
    """``Expected`` (with ``ConditionalOperator``) as a condition."""
    if expected is None:
        if operator is not None:
            raise ValidationError(f"{_INVALID}ConditionalOperator is given without Expected")
        return None
    if not isinstance(expected, dict):
        raise ValidationError(f"{_INVALID}Expected is an object")
    if not expected:
        return None
    return _combine([_expected_one(name, spec) for name, spec in expected.items()], operator)


def attribute_updates(updates: Any) -> UpdateExpr:
    """``AttributeUpdates`` (PUT / ADD / DELETE actions) as an update expression."""
    if not isinstance(updates, dict):
        raise ValidationError(f"{_INVALID}AttributeUpdates is an object")
    sets: list[SetAction] = []
    removes: list[RemoveAction] = []
    adds: list[AddAction] = []
    deletes: list[DeleteAction] = []
    for name, spec in updates.items():
        if not isinstance(spec, dict):
            raise ValidationError(f"{_INVALID}AttributeUpdates.{name} is an object")
        action = spec.get("Action", "PUT")
        path = _path(name)
        value = _literal(spec["Value"], name) if "Value" in spec else None
        if action == "PUT":
            if value is None:
                raise ValidationError(f"{_INVALID}Only DELETE action is allowed when no attribute value is specified")
            sets.append(SetAction(path, value))
        elif action == "DELETE":
            if value is None:
                removes.append(RemoveAction(path))
            else:
                deletes.append(DeleteAction(path, value))
        elif action == "ADD":
            if value is None:
                raise ValidationError(f"{_INVALID}Only DELETE action is allowed when no attribute value is specified")
            if isinstance(value.value, list):
                # Legacy ADD of a list appends to it (creating it when missing).
                sets.append(SetAction(path, ListAppend(IfNotExists(path, Literal([])), value)))
            else:
                adds.append(AddAction(path, value))
        else:
            raise ValidationError(f"{_INVALID}Action is PUT, ADD or DELETE, not {action!r}")
    return UpdateExpr(tuple(sets), tuple(removes), tuple(adds), tuple(deletes))
