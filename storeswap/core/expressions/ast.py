"""One AST for key conditions, conditions / filters, update expressions and projections.

The parser (strings with ``#name`` and ``:value`` placeholders) and the
builders (``Key("pk").eq(..)``) both produce these nodes.  Placeholders are
resolved when an expression is *bound*: a bound tree holds attribute names
and (normalised) values only, so the evaluator and the renderers never see
placeholders.
"""

from __future__ import annotations

from typing import Any, cast

from attrs import define, field

__all__ = [
    "Path",
    "NameRef",
    "ValueRef",
    "Literal",
    "Size",
    "IfNotExists",
    "ListAppend",
    "Arith",
    "Operand",
    "Compare",
    "Between",
    "In",
    "And",
    "Or",
    "Not",
    "AttributeExists",
    "AttributeNotExists",
    "AttributeType",
    "BeginsWith",
    "Contains",
    "Condition",
    "SetAction",
    "RemoveAction",
    "AddAction",
    "DeleteAction",
    "UpdateExpr",
    "Projection",
    "KeyCondition",
    "ConditionOps",
    "COMPARATORS",
]

COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")


@define(frozen=True, slots=True)
class NameRef:
    """An unresolved ``#name`` placeholder (only in unbound trees)."""

    name: str
    position: int = field(default=-1, eq=False)


@define(frozen=True, slots=True)
class Path:
    """A document path: ``a.b[2].c`` is ``("a", "b", 2, "c")``.

    Elements are attribute names (``str``), list indexes (``int``) or, in
    unbound trees only, :class:`NameRef` placeholders.
    """

    elements: tuple[str | int | NameRef, ...]
    position: int = field(default=-1, eq=False)

    def __str__(self) -> str:
        out = ""
        for e in self.elements:
            if isinstance(e, int):
                out += f"[{e}]"
            else:
                name = e.name if isinstance(e, NameRef) else e
                out += name if not out else f".{name}"
        return out

    @property
    def top(self) -> str:
        """The top-level attribute name (bound trees only)."""
        first = self.elements[0]
        assert isinstance(first, str)
        return first


@define(frozen=True, slots=True)
class ValueRef:
    """An unresolved ``:value`` placeholder (only in unbound trees)."""

    name: str
    position: int = field(default=-1, eq=False)


@define(frozen=True, slots=True)
class Literal:
    """A concrete, normalised value (bound trees, and builder output).

    ``position`` is the offset of the ``:value`` placeholder it replaced, so
    that compile-time type errors can point at it (-1 for builder values).
    """

    value: Any
    position: int = field(default=-1, eq=False)


@define(frozen=True, slots=True)
class Size:
    """``size(path)``."""

    path: Path


@define(frozen=True, slots=True)
class IfNotExists:
    """``if_not_exists(path, operand)`` (update SET only)."""

    path: Path
    default: Operand


@define(frozen=True, slots=True)
class ListAppend:
    """``list_append(a, b)`` (update SET only)."""

    first: Operand
    second: Operand


@define(frozen=True, slots=True)
class Arith:
    """``a + b`` or ``a - b`` (update SET only); ``op`` is ``"+"`` or ``"-"``."""

    op: str
    left: Operand
    right: Operand


Operand = Path | ValueRef | Literal | Size | IfNotExists | ListAppend | Arith


class ConditionOps:
    """Mixin giving every condition node boto3-style combinators: ``a & b``, ``a | b``, ``~a``.

    Kept slot-less (``__slots__ = ()``) so the attrs classes that inherit it stay slotted.
    """

    __slots__ = ()

    def __and__(self, other: object) -> And:
        if not isinstance(other, ConditionOps):
            return NotImplemented
        return And(cast("Condition", self), cast("Condition", other))

    def __or__(self, other: object) -> Or:
        if not isinstance(other, ConditionOps):
            return NotImplemented
        return Or(cast("Condition", self), cast("Condition", other))

    def __invert__(self) -> Not:
        return Not(cast("Condition", self))


@define(frozen=True, slots=True)
class Compare(ConditionOps):
    """``left op right`` with op in :data:`COMPARATORS`."""

    op: str
    left: Operand
    right: Operand


@define(frozen=True, slots=True)
class Between(ConditionOps):
    """``operand BETWEEN low AND high`` (inclusive)."""

    operand: Operand
    low: Operand
    high: Operand


@define(frozen=True, slots=True)
class In(ConditionOps):
    """``operand IN (v1, v2, ...)``; at most 100 values (C2)."""

    operand: Operand
    values: tuple[Operand, ...]


@define(frozen=True, slots=True)
class And(ConditionOps):
    """``left AND right``."""

    left: Condition
    right: Condition


@define(frozen=True, slots=True)
class Or(ConditionOps):
    """``left OR right``."""

    left: Condition
    right: Condition


@define(frozen=True, slots=True)
class Not(ConditionOps):
    """``NOT operand``."""

    operand: Condition


@define(frozen=True, slots=True)
class AttributeExists(ConditionOps):
    """``attribute_exists(path)``."""

    path: Path


@define(frozen=True, slots=True)
class AttributeNotExists(ConditionOps):
    """``attribute_not_exists(path)``."""

    path: Path


@define(frozen=True, slots=True)
class AttributeType(ConditionOps):
    """``attribute_type(path, :t)``; the operand is a string type tag (S, N, B, BOOL, NULL, L, M, SS, NS, BS)."""

    path: Path
    type: Operand


@define(frozen=True, slots=True)
class BeginsWith(ConditionOps):
    """``begins_with(path, operand)``."""

    path: Path
    prefix: Operand


@define(frozen=True, slots=True)
class Contains(ConditionOps):
    """``contains(path, operand)``."""

    path: Path
    operand: Operand


Condition = (
    Compare
    | Between
    | In
    | And
    | Or
    | Not
    | AttributeExists
    | AttributeNotExists
    | AttributeType
    | BeginsWith
    | Contains
)


@define(frozen=True, slots=True)
class SetAction:
    """``SET path = value``."""

    path: Path
    value: Operand


@define(frozen=True, slots=True)
class RemoveAction:
    """``REMOVE path``."""

    path: Path


@define(frozen=True, slots=True)
class AddAction:
    """``ADD path value`` (numbers and sets)."""

    path: Path
    value: Operand


@define(frozen=True, slots=True)
class DeleteAction:
    """``DELETE path value`` (removes set elements)."""

    path: Path
    value: Operand


@define(frozen=True, slots=True)
class UpdateExpr:
    """A whole update expression; each clause appears at most once (C7)."""

    set: tuple[SetAction, ...] = ()
    remove: tuple[RemoveAction, ...] = ()
    add: tuple[AddAction, ...] = ()
    delete: tuple[DeleteAction, ...] = ()

    def actions(self) -> tuple[SetAction | RemoveAction | AddAction | DeleteAction, ...]:
        """All actions, in clause order SET, REMOVE, ADD, DELETE."""
        return (*self.set, *self.remove, *self.add, *self.delete)


@define(frozen=True, slots=True)
class Projection:
    """A projection expression: the paths to return (Q7)."""

    paths: tuple[Path, ...]


@define(frozen=True, slots=True)
class KeyCondition:
    """A validated key condition: equality on the partition key, optional sort key condition.

    ``sort`` is a :class:`Compare` (not ``<>``), :class:`Between` or
    :class:`BeginsWith` on the sort key, or ``None``.
    """

    partition_name: str
    partition_value: Any
    sort: Compare | Between | BeginsWith | None = None
