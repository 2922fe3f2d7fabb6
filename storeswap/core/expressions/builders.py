"""boto3-style condition builders that produce *bound* AST trees directly.

``Key("pk").eq("u1") & Key("sk").begins_with("order#")`` and
``Attr("a.b[0]").gt(3) | ~Attr("c").exists()`` build the same nodes the
parser produces after binding: attribute names are plain strings and values
are :class:`Literal` nodes holding normalised values (floats are refused,
V10).  Combination with ``&``, ``|`` and ``~`` comes from
:class:`storeswap.core.expressions.ast.ConditionOps`.

Builder paths are literal names, never placeholders, so reserved words
(``status``, ``name``) need no ``#name`` aliasing here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from storeswap.core.errors import ValidationError
from storeswap.core.expressions.ast import (
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Contains,
    In,
    Literal,
    Operand,
    Path,
    Size,
)
from storeswap.core.values import normalize_value

__all__ = ["Key", "Attr", "SizeOf", "split_path"]

_SEGMENT_RE: Final = re.compile(r"([^\[\]]+)((?:\[[0-9]+\])*)")
_INDEX_RE: Final = re.compile(r"\[([0-9]+)\]")


def split_path(text: str) -> Path:
    """Split a plain path string such as ``"a.b[2].c"`` into a bound :class:`Path`.

    Dots separate names and ``[n]`` selects list elements; every other
    character belongs to the name.  Use :meth:`Attr.path` for names that
    themselves contain dots or brackets.
    """
    if not isinstance(text, str) or not text:
        raise ValidationError(f"an attribute path must be a non-empty string, not {text!r}")
    elements: list[str | int] = []
    for segment in text.split("."):
        m = _SEGMENT_RE.fullmatch(segment)
        if m is None:
            raise ValidationError(
                f"bad attribute path {text!r}: each dot-separated part is a name optionally followed by [index]"
            )
        elements.append(m.group(1))
        elements.extend(int(i) for i in _INDEX_RE.findall(m.group(2)))
    return Path(tuple(elements))


def _path_of(elements: tuple[str | int, ...]) -> Path:
    if not elements or not isinstance(elements[0], str):
        raise ValidationError("an attribute path must start with an attribute name")
    for e in elements:
        if isinstance(e, bool) or not isinstance(e, (str, int)) or (isinstance(e, int) and e < 0):
            raise ValidationError(f"path elements are names (str) or list indexes (int >= 0), not {e!r}")
        if isinstance(e, str) and not e:
            raise ValidationError("attribute names may not be empty")
    return Path(elements)


def _operand(value: Any) -> Operand:
    """A builder argument as an operand: an ``Attr`` or ``Key`` names a path, anything else is a value."""
    if isinstance(value, (Attr, Key)):
        return value.path_node
    return Literal(normalize_value(value, where="condition value"))


class _Comparable:
    """Comparisons shared by :class:`Key`, :class:`Attr` and :class:`SizeOf`."""

    __slots__ = ()

    def _left(self) -> Operand:
        raise NotImplementedError

    def eq(self, value: Any) -> Compare:
        """``self = value``."""
        return Compare("=", self._left(), _operand(value))

    def lt(self, value: Any) -> Compare:
        """``self < value``."""
        return Compare("<", self._left(), _operand(value))

    def lte(self, value: Any) -> Compare:
        """``self <= value``."""
        return Compare("<=", self._left(), _operand(value))

    def gt(self, value: Any) -> Compare:
        """``self > value``."""
        return Compare(">", self._left(), _operand(value))

    def gte(self, value: Any) -> Compare:
        """``self >= value``."""
        return Compare(">=", self._left(), _operand(value))

    def between(self, low: Any, high: Any) -> Between:
        """``self BETWEEN low AND high`` (inclusive)."""
        return Between(self._left(), _operand(low), _operand(high))


class Key(_Comparable):
    """A key attribute in a key condition: ``Key("pk").eq(v) & Key("sk").between(a, b)``.

    Key attributes are top-level, so the name is used as is (dots included).
    """

    __slots__ = ("name", "path_node")

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationError(f"a key attribute name must be a non-empty string, not {name!r}")
        self.name = name
        self.path_node = Path((name,))

    def _left(self) -> Operand:
        return self.path_node

    def begins_with(self, prefix: Any) -> BeginsWith:
        """``begins_with(key, prefix)`` (string and binary sort keys, K2)."""
        return BeginsWith(self.path_node, _operand(prefix))

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


class Attr(_Comparable):
    """Any attribute, top-level or nested, in a condition or filter.

    ``Attr("a.b[2].c")`` splits on dots and ``[n]``; ``Attr.path("a.b", 0)``
    takes the elements literally, for names that contain dots.
    """

    __slots__ = ("path_node",)

    def __init__(self, name: str | Path) -> None:
        self.path_node = name if isinstance(name, Path) else split_path(name)

    @classmethod
    def path(cls, *elements: str | int) -> Attr:
        """An attribute from literal path elements: names (``str``, dots allowed) and list indexes (``int``)."""
        return cls(_path_of(tuple(elements)))

    def _left(self) -> Operand:
        return self.path_node

    def ne(self, value: Any) -> Compare:
        """``self <> value`` (true when the types differ or the attribute is missing)."""
        return Compare("<>", self.path_node, _operand(value))

    def begins_with(self, prefix: Any) -> BeginsWith:
        """``begins_with(self, prefix)``: string or binary prefix test."""
        return BeginsWith(self.path_node, _operand(prefix))

    def is_in(self, values: Iterable[Any]) -> In:
        """``self IN (v1, v2, ...)``: 1 to 100 values (C2)."""
        operands = tuple(_operand(v) for v in values)
        if not operands:
            raise ValidationError("is_in needs at least one value")
        if len(operands) > 100:
            raise ValidationError(f"is_in takes at most 100 values, got {len(operands)}")
        return In(self.path_node, operands)

    def exists(self) -> AttributeExists:
        """``attribute_exists(self)`` (a NULL value exists, V9)."""
        return AttributeExists(self.path_node)

    def not_exists(self) -> AttributeNotExists:
        """``attribute_not_exists(self)``."""
        return AttributeNotExists(self.path_node)

    def attribute_type(self, type_tag: str) -> AttributeType:
        """``attribute_type(self, tag)`` with tag one of S N B BOOL NULL L M SS NS BS."""
        return AttributeType(self.path_node, Literal(normalize_value(type_tag, where="attribute_type")))

    def contains(self, value: Any) -> Contains:
        """``contains(self, value)``: substring, set membership or list element (C4)."""
        return Contains(self.path_node, _operand(value))

    def size(self) -> SizeOf:
        """``size(self)``, to be compared: ``Attr("tags").size().gt(2)``."""
        return SizeOf(Size(self.path_node))

    def __repr__(self) -> str:
        return f"Attr({str(self.path_node)!r})"


class SizeOf(_Comparable):
    """``size(path)`` awaiting a comparison (``eq``, ``ne``, ``lt``, ..., ``between``, ``is_in``)."""

    __slots__ = ("node",)

    def __init__(self, node: Size) -> None:
        self.node = node

    def _left(self) -> Operand:
        return self.node

    def ne(self, value: Any) -> Compare:
        """``size(path) <> value``."""
        return Compare("<>", self.node, _operand(value))

    def is_in(self, values: Iterable[Any]) -> In:
        """``size(path) IN (v1, ...)``."""
        operands = tuple(_operand(v) for v in values)
        if not operands or len(operands) > 100:
            raise ValidationError("is_in takes 1 to 100 values")
        return In(self.node, operands)
