"""Placeholder binding and compile-time validation of expressions.

:func:`bind` turns an unbound tree (from the parser) into a bound one:
``#name`` placeholders become attribute-name strings and ``:value``
placeholders become :class:`Literal` nodes holding normalised values.
Builder trees are already bound and pass through unchanged.

:func:`compile_expressions` parses, binds and validates all the expressions
of one request together, because DynamoDB checks placeholders across the
whole request: an ``ExpressionAttributeNames`` / ``Values`` entry that no
expression uses is an error (Q3).  It also performs the checks DynamoDB
makes on *literal* operands before it looks at any item (see
:func:`validate_condition` and :func:`validate_update`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar, cast

from attrs import define

from storeswap.core.errors import ValidationError
from storeswap.core.expressions.ast import (
    AddAction,
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
    DeleteAction,
    IfNotExists,
    In,
    ListAppend,
    Literal,
    NameRef,
    Not,
    Operand,
    Or,
    Path,
    Projection,
    RemoveAction,
    SetAction,
    Size,
    UpdateExpr,
    ValueRef,
)
from storeswap.core.expressions.builders import split_path
from storeswap.core.expressions.parser import (
    MAX_EXPRESSION_DEPTH,
    MAX_IN_OPERANDS,
    parse_condition,
    parse_projection,
    parse_update,
)
from storeswap.core.values import normalize_value, type_tag

__all__ = [
    "bind",
    "check_depth",
    "compile_expressions",
    "CompiledExpressions",
    "validate_condition",
    "validate_update",
    "validate_projection",
    "TYPE_TAGS",
]

#: The ten DynamoDB type tags ``attribute_type`` accepts.
TYPE_TAGS: Final = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})
_ORDERED_TAGS: Final = frozenset({"S", "N", "B"})
_SET_TAGS: Final = frozenset({"SS", "NS", "BS"})

Tree = Condition | UpdateExpr | Projection | Path
_T = TypeVar("_T", bound=Tree)

ConditionInput = str | Condition | None
UpdateInput = str | UpdateExpr | None
ProjectionInput = str | Projection | Sequence[str | Path] | None


def _at(position: int) -> str:
    return f" at position {position}" if position >= 0 else ""


def _pos(position: int) -> int | None:
    return position if position >= 0 else None


def _children(node: object) -> tuple[object, ...]:
    """The sub-trees of one node that a walk descends into (paths and values are leaves)."""
    if isinstance(node, (And, Or)):
        return (node.left, node.right)
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, (Compare, Arith)):
        return (node.left, node.right)
    if isinstance(node, Between):
        return (node.operand, node.low, node.high)
    if isinstance(node, In):
        return (node.operand, *node.values)
    if isinstance(node, AttributeType):
        return (node.type,)
    if isinstance(node, BeginsWith):
        return (node.prefix,)
    if isinstance(node, Contains):
        return (node.operand,)
    if isinstance(node, IfNotExists):
        return (node.default,)
    if isinstance(node, ListAppend):
        return (node.first, node.second)
    if isinstance(node, UpdateExpr):
        return (*(a.value for a in node.set), *(a.value for a in node.add), *(a.value for a in node.delete))
    return ()


def check_depth(tree: object) -> None:
    """Raise :class:`ValidationError` when ``tree`` nests deeper than :data:`MAX_EXPRESSION_DEPTH`.

    Builder trees (``Attr("a").eq(1) | ...`` folded a thousand times) reach
    the port without the parser's own check, so every tree passes here
    before any recursive walk.  The walk keeps its own stack: it stops at the
    first node past the limit, whatever the tree's depth, without recursion.
    """
    stack: list[tuple[object, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        children = _children(node)
        if not children:
            continue
        if depth > MAX_EXPRESSION_DEPTH:
            raise ValidationError(
                f"the expression nests deeper than {MAX_EXPRESSION_DEPTH} levels (each AND, OR, NOT and "
                "function counts one; for many alternatives use IN)"
            )
        stack.extend((child, depth + 1) for child in children)


class _Binder:
    """Resolves placeholders for one request and remembers which ones were used."""

    def __init__(self, names: Mapping[str, str] | None, values: Mapping[str, Any] | None) -> None:
        self.names: Mapping[str, str] = names or {}
        self.values: Mapping[str, Any] = values or {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()
        # One normalisation per placeholder even when an expression uses it twice.
        self.bound_values: dict[str, Any] = {}

    def name(self, ref: NameRef) -> str:
        try:
            resolved = self.names[ref.name]
        except KeyError:
            raise ValidationError(
                f"expression attribute name {ref.name} is not defined{_at(ref.position)}",
                position=_pos(ref.position),
            ) from None
        if not isinstance(resolved, str) or not resolved:
            raise ValidationError(f"expression attribute name {ref.name} must map to a non-empty string")
        self.used_names.add(ref.name)
        return resolved

    def value(self, ref: ValueRef) -> Literal:
        if ref.name in self.bound_values:
            return Literal(self.bound_values[ref.name], ref.position)
        try:
            raw = self.values[ref.name]
        except KeyError:
            raise ValidationError(
                f"expression attribute value {ref.name} is not defined{_at(ref.position)}",
                position=_pos(ref.position),
            ) from None
        value = normalize_value(raw, where=ref.name)
        self.used_values.add(ref.name)
        self.bound_values[ref.name] = value
        return Literal(value, ref.position)

    def path(self, path: Path) -> Path:
        if not any(isinstance(e, NameRef) for e in path.elements):
            return path
        return Path(tuple(self.name(e) if isinstance(e, NameRef) else e for e in path.elements), path.position)

    # Every method returns its input node unchanged when it holds no
    # placeholder, so binding a builder tree allocates nothing.

    def operand(self, op: Operand) -> Operand:
        if isinstance(op, Path):
            return self.path(op)
        if isinstance(op, ValueRef):
            return self.value(op)
        if isinstance(op, Literal):
            return op
        if isinstance(op, Size):
            path = self.path(op.path)
            return op if path is op.path else Size(path)
        if isinstance(op, IfNotExists):
            path, default = self.path(op.path), self.operand(op.default)
            return op if (path is op.path and default is op.default) else IfNotExists(path, default)
        if isinstance(op, ListAppend):
            first, second = self.operand(op.first), self.operand(op.second)
            return op if (first is op.first and second is op.second) else ListAppend(first, second)
        if isinstance(op, Arith):
            left, right = self.operand(op.left), self.operand(op.right)
            return op if (left is op.left and right is op.right) else Arith(op.op, left, right)
        raise ValidationError(f"not an operand: {op!r}")

    def condition(self, cond: Condition) -> Condition:
        if isinstance(cond, Compare):
            left, right = self.operand(cond.left), self.operand(cond.right)
            return cond if (left is cond.left and right is cond.right) else Compare(cond.op, left, right)
        if isinstance(cond, (And, Or)):
            lc, rc = self.condition(cond.left), self.condition(cond.right)
            return cond if (lc is cond.left and rc is cond.right) else type(cond)(lc, rc)
        if isinstance(cond, Not):
            inner = self.condition(cond.operand)
            return cond if inner is cond.operand else Not(inner)
        if isinstance(cond, Between):
            old = (cond.operand, cond.low, cond.high)
            parts = tuple(self.operand(o) for o in old)
            return cond if all(a is b for a, b in zip(parts, old)) else Between(*parts)
        if isinstance(cond, In):
            operand = self.operand(cond.operand)
            values = tuple(self.operand(v) for v in cond.values)
            same = operand is cond.operand and all(a is b for a, b in zip(values, cond.values))
            return cond if same else In(operand, values)
        if isinstance(cond, (AttributeExists, AttributeNotExists)):
            path = self.path(cond.path)
            return cond if path is cond.path else type(cond)(path)
        if isinstance(cond, AttributeType):
            path, t = self.path(cond.path), self.operand(cond.type)
            return cond if (path is cond.path and t is cond.type) else AttributeType(path, t)
        if isinstance(cond, BeginsWith):
            path, prefix = self.path(cond.path), self.operand(cond.prefix)
            return cond if (path is cond.path and prefix is cond.prefix) else BeginsWith(path, prefix)
        if isinstance(cond, Contains):
            path, operand = self.path(cond.path), self.operand(cond.operand)
            return cond if (path is cond.path and operand is cond.operand) else Contains(path, operand)
        raise ValidationError(f"not a condition: {type(cond).__name__}")

    def update(self, upd: UpdateExpr) -> UpdateExpr:
        return UpdateExpr(
            set=tuple(SetAction(self.path(a.path), self.operand(a.value)) for a in upd.set),
            remove=tuple(RemoveAction(self.path(a.path)) for a in upd.remove),
            add=tuple(AddAction(self.path(a.path), self.operand(a.value)) for a in upd.add),
            delete=tuple(DeleteAction(self.path(a.path), self.operand(a.value)) for a in upd.delete),
        )

    def tree(self, tree: Tree) -> Tree:
        check_depth(tree)
        if isinstance(tree, UpdateExpr):
            return self.update(tree)
        if isinstance(tree, Projection):
            return Projection(tuple(self.path(p) for p in tree.paths))
        if isinstance(tree, Path):
            return self.path(tree)
        return self.condition(tree)


def bind(tree: _T, names: Mapping[str, str] | None, values: Mapping[str, Any] | None) -> _T:
    """Resolve the placeholders of ``tree``: ``#name`` → str element, ``:value`` → ``Literal(normalised value)``.

    Raises :class:`ValidationError` naming an undefined placeholder (with
    its position) or a value normalisation refuses (floats, bad numbers,
    empty sets).  Unused placeholders are *not* checked here; see
    :func:`compile_expressions`.
    """
    return cast(_T, _Binder(names, values).tree(tree))


# -- compile-time validation -------------------------------------------------


def _literal_tag(op: Operand) -> str | None:
    return type_tag(op.value) if isinstance(op, Literal) else None


def _check_ordered_literal(op: Operand, what: str) -> None:
    tag = _literal_tag(op)
    if tag is not None and tag not in _ORDERED_TAGS:
        assert isinstance(op, Literal)
        raise ValidationError(
            f"{what} needs a string, number or binary operand, not {tag}{_at(op.position)}",
            position=_pos(op.position),
        )


def validate_condition(cond: Condition) -> None:
    """Check a bound condition the way DynamoDB does before reading any item.

    * ``<``, ``<=``, ``>``, ``>=`` and ``BETWEEN`` with a literal operand that is not S, N or B;
    * ``BETWEEN`` with two literal bounds of different types, or with low > high;
    * ``begins_with`` with a literal prefix that is not S or B;
    * ``attribute_type`` whose type is not one of the ten type tags (or not a literal);
    * ``IN`` with more than 100 operands (C2);
    * ``size()`` of something that is not a path, and update-only functions in a condition.

    Operands that come from the item are never checked here: a wrong type
    there only makes the condition false, as in DynamoDB.
    """
    if isinstance(cond, (And, Or)):
        validate_condition(cond.left)
        validate_condition(cond.right)
    elif isinstance(cond, Not):
        validate_condition(cond.operand)
    elif isinstance(cond, Compare):
        _check_condition_operand(cond.left)
        _check_condition_operand(cond.right)
        if cond.op not in ("=", "<>"):
            _check_ordered_literal(cond.left, f"operator {cond.op}")
            _check_ordered_literal(cond.right, f"operator {cond.op}")
    elif isinstance(cond, Between):
        for op in (cond.operand, cond.low, cond.high):
            _check_condition_operand(op)
            _check_ordered_literal(op, "BETWEEN")
        if isinstance(cond.low, Literal) and isinstance(cond.high, Literal):
            low, high = cond.low.value, cond.high.value
            if type_tag(low) != type_tag(high):
                raise ValidationError(
                    f"BETWEEN bounds have different types: {type_tag(low)} and {type_tag(high)}"
                    f"{_at(cond.low.position)}",
                    position=_pos(cond.low.position),
                )
            # Same-type S, N and B compare natively in DynamoDB's order: str by code
            # point (the same order as UTF-8 bytes), Decimal numerically, bytes unsigned.
            if low > high:
                raise ValidationError(
                    f"BETWEEN bounds are in the wrong order: the low bound is greater than the high bound"
                    f"{_at(cond.low.position)}",
                    position=_pos(cond.low.position),
                )
    elif isinstance(cond, In):
        if not cond.values or len(cond.values) > MAX_IN_OPERANDS:
            raise ValidationError(f"IN takes 1 to {MAX_IN_OPERANDS} operands, got {len(cond.values)}")
        _check_condition_operand(cond.operand)
        for op in cond.values:
            _check_condition_operand(op)
    elif isinstance(cond, BeginsWith):
        _check_condition_operand(cond.prefix)
        tag = _literal_tag(cond.prefix)
        if tag is not None and tag not in ("S", "B"):
            assert isinstance(cond.prefix, Literal)
            raise ValidationError(
                f"begins_with needs a string or binary prefix, not {tag}{_at(cond.prefix.position)}",
                position=_pos(cond.prefix.position),
            )
    elif isinstance(cond, AttributeType):
        t = cond.type
        if not isinstance(t, Literal):
            raise ValidationError("the type argument of attribute_type must be a value")
        if not isinstance(t.value, str) or t.value not in TYPE_TAGS:
            raise ValidationError(
                f"attribute_type: unknown type {t.value!r}; use one of {', '.join(sorted(TYPE_TAGS))}{_at(t.position)}",
                position=_pos(t.position),
            )
    elif isinstance(cond, Contains):
        _check_condition_operand(cond.operand)


def _check_condition_operand(op: Operand) -> None:
    if isinstance(op, (IfNotExists, ListAppend, Arith)):
        raise ValidationError(f"{type(op).__name__} is only allowed in update expressions")
    if isinstance(op, (ValueRef, NameRef)):
        raise ValidationError(f"placeholder {op.name} is not bound")


def _check_set_operand(op: Operand) -> None:
    if isinstance(op, Arith):
        for side in (op.left, op.right):
            _check_set_operand(side)
            tag = _literal_tag(side)
            if tag is not None and tag != "N":
                assert isinstance(side, Literal)
                raise ValidationError(
                    f"incorrect operand type for operator {op.op}: {tag} (+ and - need numbers){_at(side.position)}",
                    position=_pos(side.position),
                )
    elif isinstance(op, ListAppend):
        for side in (op.first, op.second):
            _check_set_operand(side)
            tag = _literal_tag(side)
            if tag is not None and tag != "L":
                assert isinstance(side, Literal)
                raise ValidationError(
                    f"incorrect operand type for list_append: {tag} (list_append needs lists){_at(side.position)}",
                    position=_pos(side.position),
                )
    elif isinstance(op, IfNotExists):
        _check_set_operand(op.default)
    elif isinstance(op, Size):
        raise ValidationError("size() is not allowed in an update expression")
    elif isinstance(op, (ValueRef, NameRef)):
        raise ValidationError(f"placeholder {op.name} is not bound")


def _overlap(a: Path, b: Path) -> str | None:
    """``"overlap"`` when one path is a prefix of the other, ``"conflict"`` for ``a.b`` vs ``a[1]``."""
    for x, y in zip(a.elements, b.elements):
        if type(x) is not type(y):
            return "conflict"
        if x != y:
            return None
    return "overlap"


def _check_disjoint(paths: Sequence[Path], what: str) -> None:
    # Quadratic, but an expression holds a handful of paths; grouping by the
    # top-level name keeps big expressions cheap.
    by_top: dict[Any, list[Path]] = {}
    for p in paths:
        by_top.setdefault(p.elements[0], []).append(p)
    for group in by_top.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                kind = _overlap(a, b)
                if kind == "overlap":
                    raise ValidationError(
                        f"Invalid {what}: two document paths overlap with each other; must remove or rewrite "
                        f"one of these paths; path one: [{a}], path two: [{b}]{_at(b.position)}",
                        position=_pos(b.position),
                    )
                if kind == "conflict":
                    raise ValidationError(
                        f"Invalid {what}: two document paths conflict with each other; must remove or rewrite "
                        f"one of these paths; path one: [{a}], path two: [{b}]{_at(b.position)}",
                        position=_pos(b.position),
                    )


def validate_update(update: UpdateExpr) -> None:
    """Check a bound update expression the way DynamoDB does before reading the item.

    * ``SET`` ``+`` / ``-`` with a literal that is not a number;
    * ``list_append`` with a literal that is not a list;
    * ``ADD`` with a value that is not a number or a set;
    * ``DELETE`` with a value that is not a set;
    * two actions on the same or overlapping paths (``a`` and ``a.b``), or on
      conflicting ones (``a.b`` and ``a[0]``) (C7).

    Whether an action touches a key attribute depends on the table, so
    :func:`storeswap.core.expressions.evaluator.apply_update` checks that (C5).
    """
    if not update.actions():
        raise ValidationError("an update expression needs at least one action")
    for s in update.set:
        _check_set_operand(s.value)
    for a in update.add:
        tag = _literal_tag(a.value)
        if tag is None or (tag != "N" and tag not in _SET_TAGS):
            raise ValidationError(
                f"incorrect operand type for ADD: {tag or type(a.value).__name__} (ADD takes a number or a set)"
                f"{_at(_literal_position(a.value))}",
                position=_pos(_literal_position(a.value)),
            )
    for d in update.delete:
        tag = _literal_tag(d.value)
        if tag not in _SET_TAGS:
            raise ValidationError(
                f"incorrect operand type for DELETE: {tag or type(d.value).__name__} (DELETE takes a set)"
                f"{_at(_literal_position(d.value))}",
                position=_pos(_literal_position(d.value)),
            )
    _check_disjoint([a.path for a in update.actions()], "UpdateExpression")


def _literal_position(op: Operand) -> int:
    return op.position if isinstance(op, (Literal, ValueRef, Path)) else -1


def validate_projection(projection: Projection) -> None:
    """Reject an empty projection and overlapping or conflicting paths, as DynamoDB does."""
    if not projection.paths:
        raise ValidationError("a projection needs at least one path")
    _check_disjoint(projection.paths, "ProjectionExpression")


# -- compile ------------------------------------------------------------------


@define(frozen=True, slots=True)
class CompiledExpressions:
    """The bound, validated expressions of one request (``None`` where not given)."""

    key_condition: Condition | None = None
    condition: Condition | None = None
    filter: Condition | None = None
    update: UpdateExpr | None = None
    projection: Projection | None = None


def _with_label(label: str, error: ValidationError) -> ValidationError:
    return ValidationError(f"Invalid {label}: {error}", position=error.position)


def _condition(label: str, given: ConditionInput, binder: _Binder) -> Condition | None:
    if given is None:
        return None
    if isinstance(given, str):
        try:
            tree = parse_condition(given).tree
        except ValidationError as e:
            raise _with_label(label, e) from None
    else:
        tree = given
    try:
        check_depth(tree)
    except ValidationError as e:
        raise _with_label(label, e) from None
    bound = binder.condition(tree)
    try:
        validate_condition(bound)
    except ValidationError as e:
        raise _with_label(label, e) from None
    return bound


def _update(given: UpdateInput, binder: _Binder) -> UpdateExpr | None:
    if given is None:
        return None
    if isinstance(given, str):
        try:
            tree = parse_update(given).tree
        except ValidationError as e:
            raise _with_label("UpdateExpression", e) from None
    elif isinstance(given, UpdateExpr):
        tree = given
    else:
        raise ValidationError(f"an update expression is a string or an UpdateExpr, not {type(given).__name__}")
    try:
        check_depth(tree)
    except ValidationError as e:
        raise _with_label("UpdateExpression", e) from None
    bound = binder.update(tree)
    validate_update(bound)
    return bound


def _projection(given: ProjectionInput, binder: _Binder) -> Projection | None:
    if given is None:
        return None
    if isinstance(given, str):
        try:
            tree = parse_projection(given).tree
        except ValidationError as e:
            raise _with_label("ProjectionExpression", e) from None
    elif isinstance(given, Projection):
        tree = given
    elif isinstance(given, (list, tuple)):
        # Builder-style: plain path strings name attributes literally (no
        # reserved-word check, no placeholders), like Attr("a.b").
        tree = Projection(tuple(p if isinstance(p, Path) else split_path(p) for p in given))
    else:
        raise ValidationError(f"a projection is a string or a list of paths, not {type(given).__name__}")
    bound = Projection(tuple(binder.path(p) for p in tree.paths))
    validate_projection(bound)
    return bound


def compile_expressions(
    *,
    key_condition: ConditionInput = None,
    condition: ConditionInput = None,
    filter: ConditionInput = None,
    update: UpdateInput = None,
    projection: ProjectionInput = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> CompiledExpressions:
    """Parse (strings), bind and validate every expression of one request.

    Each expression may be a DynamoDB expression string or an AST (builder
    output, or a parsed tree); a projection may also be a list of plain path
    strings.  ``names`` / ``values`` are the request's
    ExpressionAttributeNames / ExpressionAttributeValues, shared by all the
    expressions.  Raises :class:`ValidationError` for syntax errors, undefined
    placeholders, placeholders that no expression uses (Q3), float values
    (V10) and the compile-time checks of :func:`validate_condition`,
    :func:`validate_update` and :func:`validate_projection`.
    """
    if names is not None and not isinstance(names, Mapping):
        raise ValidationError(f"names must be a mapping, not {type(names).__name__}")
    if values is not None and not isinstance(values, Mapping):
        raise ValidationError(f"values must be a mapping, not {type(values).__name__}")
    binder = _Binder(names, values)
    compiled = CompiledExpressions(
        key_condition=_condition("KeyConditionExpression", key_condition, binder),
        condition=_condition("ConditionExpression", condition, binder),
        filter=_condition("FilterExpression", filter, binder),
        update=_update(update, binder),
        projection=_projection(projection, binder),
    )
    unused_names = sorted(set(binder.names) - binder.used_names)
    if unused_names:
        raise ValidationError(
            f"unused placeholder{'s' if len(unused_names) > 1 else ''} {', '.join(unused_names)}: "
            "every expression attribute name must be used by an expression (Q3)"
        )
    unused_values = sorted(set(binder.values) - binder.used_values)
    if unused_values:
        raise ValidationError(
            f"unused placeholder{'s' if len(unused_values) > 1 else ''} {', '.join(unused_values)}: "
            "every expression attribute value must be used by an expression (Q3)"
        )
    return compiled
