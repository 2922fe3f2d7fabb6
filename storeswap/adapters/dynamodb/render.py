"""Render the bound core AST into DynamoDB expression strings.

Every attribute name goes through a generated ``#nN`` placeholder and every
value through ``:vN``, so reserved words (``name``, ``size``, ``status``),
names with dots, spaces or U+0000, and names that look like placeholders
all work without the caller thinking about it.  One :class:`Renderer`
serves one request: its condition, key condition, update expression and
projection share the name and value maps, as DynamoDB requires, and every
placeholder it emits is used (DynamoDB rejects unused ones).

Compound conditions are fully parenthesised, so DynamoDB's precedence (NOT,
AND, OR) never has to be reproduced here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storeswap.adapters.dynamodb.marshal import AttributeValue, serialize
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
    KeyCondition,
    ListAppend,
    Literal,
    Not,
    Or,
    Path,
    Projection,
    RemoveAction,
    SetAction,
    Size,
    UpdateExpr,
)
from storeswap.core.schema import IndexKeys

__all__ = ["Renderer"]

# Placeholders for the first names and values, built once: most requests
# need only a handful.
_NAME_PH = tuple(f"#n{i}" for i in range(64))
_VALUE_PH = tuple(f":v{i}" for i in range(256))


class Renderer:
    """Accumulates the ``ExpressionAttributeNames`` / ``ExpressionAttributeValues`` of one request."""

    __slots__ = ("_by_name", "names", "values")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValue] = {}
        self._by_name: dict[str, str] = {}

    # ---------------------------------------------------------------- atoms

    def name(self, name: str) -> str:
        """The placeholder of attribute ``name`` (the same placeholder for repeats)."""
        ph = self._by_name.get(name)
        if ph is None:
            n = len(self._by_name)
            ph = _NAME_PH[n] if n < 64 else f"#n{n}"
            self._by_name[name] = ph
            self.names[ph] = name
        return ph

    def value(self, value: Any) -> str:
        """A fresh placeholder bound to ``value`` (values are not shared: ``1`` and ``True`` hash alike)."""
        n = len(self.values)
        ph = _VALUE_PH[n] if n < 256 else f":v{n}"
        self.values[ph] = serialize(value)
        return ph

    def path(self, path: Path) -> str:
        """``a.b[2]`` as ``#n0.#n1[2]``."""
        elements = path.elements
        if len(elements) == 1:
            first = elements[0]
            if type(first) is str:
                return self.name(first)
        out = []
        for e in elements:
            if type(e) is int:
                out.append(f"[{e}]")
            elif isinstance(e, str):
                out.append(("." if out else "") + self.name(e))
            else:
                raise ValidationError(f"cannot render an unbound path element {e!r}")
        return "".join(out)

    def operand(self, op: Any) -> str:
        """A condition or update operand."""
        t = type(op)
        if t is Path:
            return self.path(op)
        if t is Literal:
            return self.value(op.value)
        if t is Size:
            return f"size({self.path(op.path)})"
        if t is IfNotExists:
            return f"if_not_exists({self.path(op.path)}, {self.operand(op.default)})"
        if t is ListAppend:
            return f"list_append({self.operand(op.first)}, {self.operand(op.second)})"
        if t is Arith:
            return f"{self.operand(op.left)} {op.op} {self.operand(op.right)}"
        raise ValidationError(f"cannot render operand {op!r} (is the expression bound?)")

    # ----------------------------------------------------------- expressions

    def condition(self, cond: Condition) -> str:
        """A condition or filter expression."""
        render = _CONDITIONS.get(type(cond))
        if render is None:
            raise ValidationError(f"cannot render condition {cond!r}")
        return render(self, cond)

    def _compare(self, c: Compare) -> str:
        return f"{self.operand(c.left)} {c.op} {self.operand(c.right)}"

    def _and(self, c: And) -> str:
        return f"({self.condition(c.left)}) AND ({self.condition(c.right)})"

    def _or(self, c: Or) -> str:
        return f"({self.condition(c.left)}) OR ({self.condition(c.right)})"

    def _not(self, c: Not) -> str:
        # NOT NOT x is x (conditions are two-valued), and moto cannot parse NOT NOT: render a run of NOTs
        # as one NOT or none, so a chain the port accepted (X1: at most 100 levels) is not doubled in depth
        # by the parentheses on the way to the server.
        negated, operand = True, c.operand
        while isinstance(operand, Not):
            negated, operand = not negated, operand.operand
        inner = self.condition(operand)
        return f"NOT ({inner})" if negated else inner

    def _exists(self, c: AttributeExists) -> str:
        return f"attribute_exists({self.path(c.path)})"

    def _not_exists(self, c: AttributeNotExists) -> str:
        return f"attribute_not_exists({self.path(c.path)})"

    def _begins_with(self, c: BeginsWith) -> str:
        return f"begins_with({self.path(c.path)}, {self.operand(c.prefix)})"

    def _contains(self, c: Contains) -> str:
        return f"contains({self.path(c.path)}, {self.operand(c.operand)})"

    def _between(self, c: Between) -> str:
        return f"{self.operand(c.operand)} BETWEEN {self.operand(c.low)} AND {self.operand(c.high)}"

    def _in(self, c: In) -> str:
        values = ", ".join(self.operand(v) for v in c.values)
        return f"{self.operand(c.operand)} IN ({values})"

    def _type(self, c: AttributeType) -> str:
        return f"attribute_type({self.path(c.path)}, {self.operand(c.type)})"

    def key_condition(self, kc: KeyCondition, index: IndexKeys) -> str:
        """A key condition: partition equality, then the optional sort-key condition."""
        text = f"{self.name(kc.partition_name)} = {self.value(kc.partition_value)}"
        if kc.sort is not None:
            text += f" AND {self.condition(kc.sort)}"
        return text

    def update(self, update: UpdateExpr) -> str:
        """An update expression, clauses in SET, REMOVE, ADD, DELETE order."""
        clauses = []
        if update.set:
            clauses.append("SET " + ", ".join(self._set(a) for a in update.set))
        if update.remove:
            clauses.append("REMOVE " + ", ".join(self._remove(a) for a in update.remove))
        if update.add:
            clauses.append("ADD " + ", ".join(self._add(a) for a in update.add))
        if update.delete:
            clauses.append("DELETE " + ", ".join(self._add(a) for a in update.delete))
        return " ".join(clauses)

    def _set(self, action: SetAction) -> str:
        return f"{self.path(action.path)} = {self.operand(action.value)}"

    def _remove(self, action: RemoveAction) -> str:
        return self.path(action.path)

    def _add(self, action: AddAction | DeleteAction) -> str:
        return f"{self.path(action.path)} {self.operand(action.value)}"

    def projection(self, projection: Projection | None, extra: tuple[str, ...] = ()) -> str:
        """A projection expression of ``projection``'s paths plus the top-level names ``extra``."""
        parts = [self.path(p) for p in projection.paths] if projection is not None else []
        for name in extra:
            parts.append(self.name(name))
        return ", ".join(parts)

    # ---------------------------------------------------------------- output

    def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        """Add the name and value maps to request ``params`` (only when non-empty); return ``params``."""
        if self.names:
            params["ExpressionAttributeNames"] = self.names
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        return params


_CONDITIONS: dict[type, Callable[[Renderer, Any], str]] = {
    Compare: Renderer._compare,
    And: Renderer._and,
    Or: Renderer._or,
    Not: Renderer._not,
    AttributeExists: Renderer._exists,
    AttributeNotExists: Renderer._not_exists,
    BeginsWith: Renderer._begins_with,
    Contains: Renderer._contains,
    Between: Renderer._between,
    In: Renderer._in,
    AttributeType: Renderer._type,
}
