"""The Python-native item model and DynamoDB's value rules (semantics V1-V10).

Items are plain Python: ``str``, ``Decimal`` (``int`` accepted on the way in),
``bytes``, ``bool``, ``None``, ``list``, ``dict`` and the typed sets
:class:`StringSet`, :class:`NumberSet`, :class:`BinarySet`.  A plain ``set``
or ``frozenset`` of one element type is accepted on the way in, as boto3
accepts it, and comes back typed.

:func:`normalize_item` validates an incoming item and returns its canonical
form; every adapter calls it (through the port helpers) before writing, so
every store rejects the same bad input with the same error.
"""

from __future__ import annotations

import decimal
import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from storeswap.core.errors import ItemTooLarge, ValidationError

__all__ = [
    "Item",
    "KeyDict",
    "Key",
    "StringSet",
    "NumberSet",
    "BinarySet",
    "MAX_ITEM_SIZE",
    "MAX_NESTING",
    "MAX_PARTITION_KEY_SIZE",
    "MAX_SORT_KEY_SIZE",
    "type_tag",
    "normalize_number",
    "normalize_value",
    "normalize_item",
    "normalize_item_python",
    "COMPILED",
    "item_size",
    "item_size_python",
    "value_size",
    "attribute_size",
    "number_size",
    "copy_value",
    "copy_value_python",
]

Item = dict[str, Any]
#: A key: the key attributes of one item (a plain dict; named apart from the ``storeswap.Key`` builder).
KeyDict = dict[str, Any]
#: The old name of :data:`KeyDict`, kept importable for one release (0.2); it collided with ``storeswap.Key``.
Key = KeyDict

MAX_ITEM_SIZE: Final = 409_600
MAX_NESTING: Final = 32
MAX_PARTITION_KEY_SIZE: Final = 2048
MAX_SORT_KEY_SIZE: Final = 1024
MAX_NUMBER_DIGITS: Final = 38

# Wide enough that no legal number (38 digits, exponents -130..125) is ever
# rounded while we normalise it.
_CTX: Final = decimal.Context(prec=400, Emax=999_999, Emin=-999_999, traps=[decimal.InvalidOperation])
_MAX_MAGNITUDE: Final = Decimal("9.9999999999999999999999999999999999999E+125")
_MIN_MAGNITUDE: Final = Decimal("1E-130")
_INT_LIMIT: Final = 10**38


def _in_order(elements: frozenset[Any]) -> list[Any]:
    """A set's elements sorted for its repr, which never raises: by their reprs where they cannot be compared (a
    NaN, or mixed types in a set built without validation)."""
    try:
        return sorted(elements)
    except (TypeError, ArithmeticError):
        return sorted(elements, key=repr)


class StringSet(frozenset[str]):
    """A DynamoDB string set (SS): non-empty, unique, unordered."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"StringSet({_in_order(self)!r})"


class NumberSet(frozenset[Decimal]):
    """A DynamoDB number set (NS): non-empty, unique, unordered; elements are Decimal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"NumberSet({_in_order(self)!r})"


class BinarySet(frozenset[bytes]):
    """A DynamoDB binary set (BS): non-empty, unique, unordered."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"BinarySet({_in_order(self)!r})"


_SET_TAGS: Final[dict[type, str]] = {StringSet: "SS", NumberSet: "NS", BinarySet: "BS"}


def type_tag(value: Any) -> str:
    """Return DynamoDB's type tag of an already normalised value: S N B BOOL NULL L M SS NS BS."""
    if isinstance(value, str):
        return "S"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, Decimal):
        return "N"
    if isinstance(value, (bytes, bytearray)):
        return "B"
    if value is None:
        return "NULL"
    if isinstance(value, dict):
        return "M"
    if isinstance(value, list):
        return "L"
    tag = _SET_TAGS.get(type(value))
    if tag is not None:
        return tag
    if isinstance(value, int):
        return "N"
    raise ValidationError(f"unsupported value type {type(value).__name__}")


def normalize_number(value: Decimal | int | str | float, *, where: str = "number") -> Decimal:
    """Validate a number (V1; a float is refused, V10) and return its canonical Decimal (V2).

    The canonical form has no trailing zeros and no positive exponent, so
    ``str()`` gives what DynamoDB would return: ``1.0`` → ``1``, ``1.5E2`` →
    ``150``, ``-0`` → ``0``.
    """
    if isinstance(value, bool):
        raise ValidationError(f"{where}: a bool is not a number")
    if isinstance(value, float):  # V10, the rule normalize_value states for every value
        raise ValidationError(f"{where}: float values are not supported (they lose precision); use Decimal")
    if type(value) is int and -_INT_LIMIT < value < _INT_LIMIT:
        # Fast path for the common case: an int of at most 38 digits is already canonical.
        return Decimal(value)
    try:
        d = value if isinstance(value, Decimal) else Decimal(value)
    except (decimal.InvalidOperation, ValueError, TypeError):
        raise ValidationError(f"{where}: {value!r} is not a number") from None
    if not d.is_finite():
        raise ValidationError(f"{where}: {d} is not a finite number")
    if d.is_zero():
        return Decimal(0)
    n = d.normalize(_CTX)
    digits = len(n.as_tuple().digits)
    if digits > MAX_NUMBER_DIGITS:
        raise ValidationError(f"{where}: {d} has {digits} significant digits; at most 38 are allowed")
    magnitude = n.copy_abs()  # abs() would round to the default 28-digit context
    if magnitude > _MAX_MAGNITUDE:
        raise ValidationError(f"{where}: {d} is larger than 9.99...E+125")
    if magnitude < _MIN_MAGNITUDE:
        raise ValidationError(f"{where}: {d} is smaller than 1E-130")
    exponent = n.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        n = n.quantize(Decimal(1), context=_CTX)
    return n


def _normalize_set(elements: Iterable[Any], where: str, depth: int) -> StringSet | NumberSet | BinarySet:
    items = list(elements)
    if not items:
        raise ValidationError(f"{where}: sets may not be empty")
    first = items[0]
    if isinstance(first, str):
        if not all(isinstance(e, str) for e in items):
            raise ValidationError(f"{where}: a set must hold one element type")
        return StringSet(items)
    if isinstance(first, (bytes, bytearray)):
        if not all(isinstance(e, (bytes, bytearray)) for e in items):
            raise ValidationError(f"{where}: a set must hold one element type")
        return BinarySet(bytes(e) for e in items)
    if isinstance(first, (Decimal, int)) and not isinstance(first, bool):
        out: list[Decimal] = []
        for e in items:
            if isinstance(e, bool) or not isinstance(e, (Decimal, int, float)):
                raise ValidationError(f"{where}: a set must hold one element type")
            out.append(normalize_number(e, where=where))
        return NumberSet(out)
    if isinstance(first, float):
        normalize_number(first, where=where)  # refuses it (V10)
    raise ValidationError(f"{where}: sets hold strings, numbers or binary, not {type(first).__name__}")


def normalize_value(value: Any, *, where: str = "value", depth: int = 0) -> Any:
    """Validate one attribute value (V1-V7, V10) and return its canonical form.

    Lists and maps are copied, so the caller's objects are never shared with a store.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (Decimal, int, float)):  # a float is refused there (V10)
        return normalize_number(value, where=where)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (StringSet, NumberSet, BinarySet)):
        if not value:
            raise ValidationError(f"{where}: sets may not be empty")
        if isinstance(value, NumberSet):
            return NumberSet(normalize_number(e, where=where) for e in value)
        return value
    if isinstance(value, (set, frozenset)):
        return _normalize_set(value, where, depth)
    if isinstance(value, Mapping):
        if depth >= MAX_NESTING:
            raise ValidationError(f"{where}: nesting exceeds {MAX_NESTING} levels")
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValidationError(f"{where}: map keys must be strings, not {type(k).__name__}")
            out[k] = normalize_value(v, where=f"{where}.{k}", depth=depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        if depth >= MAX_NESTING:
            raise ValidationError(f"{where}: nesting exceeds {MAX_NESTING} levels")
        return [normalize_value(v, where=f"{where}[{i}]", depth=depth + 1) for i, v in enumerate(value)]
    raise ValidationError(f"{where}: unsupported value type {type(value).__name__}")


def normalize_item(item: Mapping[str, Any]) -> Item:
    """Validate a whole item's values and its size (V1-V7, V10) and return it canonical.

    Runs the compiled fast path (:mod:`storeswap.core.cvalues`) when it is
    built; it returns None for anything it does not decide by itself, and
    :func:`normalize_item_python` (the reference) then validates the item.
    """
    if _compiled is not None:
        out = _compiled(item, normalize_value, value_size)
        if out is not None:
            return out
    return normalize_item_python(item)


def normalize_item_python(item: Mapping[str, Any]) -> Item:
    """The pure-Python :func:`normalize_item`: the reference the compiled path is tested against."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"an item must be a mapping, not {type(item).__name__}")
    out: Item = {}
    size = 0
    # One pass validates and sizes; top-level strings (the common case) skip the generic walk.
    for name, value in item.items():
        if type(name) is not str and not isinstance(name, str):
            raise ValidationError(f"attribute names must be strings, not {type(name).__name__}")
        if name == "":
            raise ValidationError("attribute names may not be empty")
        if type(value) is str:
            out[name] = value
            size += _str_size(name) + _str_size(value)
            continue
        v = normalize_value(value, where=name, depth=0)
        out[name] = v
        size += _str_size(name) + value_size(v)
    if size > MAX_ITEM_SIZE:
        raise ItemTooLarge(f"item size {size} bytes exceeds the 409600-byte limit", size=size, limit=MAX_ITEM_SIZE)
    return out


_compiled: Callable[[Any, Any, Any], Item | None] | None
_compiled_copy: Callable[[Any], Item | None] | None
_compiled_size: Callable[[Any, Any], int | None] | None
try:
    from storeswap.core.cvalues import copy_item as _compiled_copy
    from storeswap.core.cvalues import item_size as _compiled_size
    from storeswap.core.cvalues import normalize_item as _compiled
except ImportError:  # no compiler at install time, or STORESWAP_PURE=1: the pure-Python path
    _compiled = _compiled_copy = _compiled_size = None

#: True when the compiled fast paths of :func:`normalize_item`, :func:`item_size` and :func:`copy_value` are in use.
COMPILED: Final = _compiled is not None and not os.environ.get("STORESWAP_PURE")
if not COMPILED:
    _compiled = _compiled_copy = _compiled_size = None


def _str_size(s: str) -> int:
    # UTF-8 length; ASCII strings (checked in C) need no encoding.
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def check_item_size(item: Item) -> int:
    """Raise :class:`ItemTooLarge` when an item exceeds 400 KB (V6); return its size."""
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        raise ItemTooLarge(
            f"item size {size} bytes exceeds the 409600-byte limit", size=size, limit=MAX_ITEM_SIZE
        )
    return size


def number_size(value: Decimal | int | str) -> int:
    """Bytes DynamoDB counts for a number: one per two significant digits, plus one (V6).

    Digits are counted after trimming leading and trailing zeros; the
    coefficient is stored in base-100 pairs aligned on the decimal point, so a
    digit that falls alone on either side of a pair costs a whole byte.
    Anything but a finite Decimal goes through :func:`normalize_number`, the
    one rule for numbers: what it refuses (NaN, Infinity, a non-number, an
    int beyond DynamoDB's range) is its ValidationError; what it accepts (an
    int, a numeric string) is sized as that number.
    """
    if not (isinstance(value, Decimal) and value.is_finite()):
        value = normalize_number(value)
    if value.is_zero():
        return 1
    _sign, digits, exponent = value.normalize(_CTX).as_tuple()
    if not isinstance(exponent, int):
        # Beyond even the working context (1E+999999999): out of DynamoDB's range, which the one rule says.
        normalize_number(value)
        raise ValidationError(f"number: {value} is out of range")  # pragma: no cover - the rule above refuses it
    n = len(digits)
    # Align the coefficient on base-100 pairs relative to the decimal point.
    lead = (n + exponent) % 2  # an odd digit count before the point costs a half-filled pair
    pairs = (n + lead + 1) // 2
    return pairs + 1


def value_size(value: Any) -> int:
    """Bytes DynamoDB counts for a value, without its attribute name (V6)."""
    if isinstance(value, str):
        return _str_size(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, (Decimal, int)):  # an int goes through the one rule for numbers (a bool was taken above)
        return number_size(value)
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(1 + _str_size(k) + value_size(v) for k, v in value.items())
    if isinstance(value, list):
        return 3 + sum(1 + value_size(v) for v in value)
    if isinstance(value, (StringSet, BinarySet, NumberSet, set, frozenset)):
        return sum(value_size(e) for e in value)
    raise ValidationError(f"unsupported value type {type(value).__name__}")


def attribute_size(name: str, value: Any) -> int:
    """Bytes one top-level attribute counts: its UTF-8 name plus its value (V6)."""
    return _str_size(name) + value_size(value)


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for a whole item (V6).

    The compiled fast path sizes top-level strings, numbers, booleans, nulls and binary itself and every other
    value with :func:`value_size`; for anything it cannot decide it answers None and :func:`item_size_python`
    (the reference) sizes the item.
    """
    if _compiled_size is not None:
        size = _compiled_size(item, value_size)
        if size is not None:
            return size
    return item_size_python(item)


def item_size_python(item: Mapping[str, Any]) -> int:
    """The pure-Python :func:`item_size`: the reference the compiled one is tested against."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"an item must be a mapping, not {type(item).__name__}")
    return sum(attribute_size(k, v) for k, v in item.items())


#: Exact types of immutable scalar values (copy_value returns them as they are).
_SCALAR_TYPES: Final = frozenset({str, Decimal, bytes, bool, type(None)})


def copy_value(value: Any) -> Any:
    """Deep-copy the mutable parts (lists, maps) of a normalised value; sets and scalars are immutable.

    An item (an exact dict) goes through the compiled copy when it is built (None: maps or lists of other
    types inside, which :func:`copy_value_python` copies).
    """
    if _compiled_copy is not None and type(value) is dict:
        out = _compiled_copy(value)
        if out is not None:
            return out
    return copy_value_python(value)


def copy_value_python(value: Any) -> Any:
    """The pure-Python :func:`copy_value`: the reference the compiled copy is tested against."""
    if type(value) is dict:  # an item: its scalar attributes need no call each
        return {k: v if type(v) in _SCALAR_TYPES else copy_value_python(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {k: copy_value_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_value_python(v) for v in value]
    return value
