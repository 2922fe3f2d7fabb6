"""A compact, lossless binary encoding of items, for the PostgreSQL ``item bytea`` column.

Why not jsonb: PostgreSQL's jsonb (and text) reject U+0000 and lone
surrogates, and JSON numbers lose the difference between a string, a number,
binary and the typed sets.  This format keeps every value of the port's item
model (:mod:`storeswap.core.values`) exactly, type included:

- one version byte (``0x01``), then the item as a map body;
- a value is a one-byte tag and a payload; lengths and counts are unsigned
  LEB128 varints (one byte below 128);
- ``S`` UTF-8 (``surrogatepass``, so lone surrogates survive), ``N`` the
  canonical decimal text (38 digits kept), ``B`` raw bytes, ``T``/``F``
  booleans, ``Z`` null, ``L`` a list, ``M`` a map, ``s``/``n``/``b`` the
  string/number/binary sets (elements sorted by their encoded bytes, so
  equal items encode to equal bytes).

Map attribute order is kept as given.  The decoder is written for speed: one
function, tags tested in order of frequency, no per-value objects.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from storeswap import settings
from storeswap.core.errors import StoreCorrupted, ValidationError
from storeswap.core.values import BinarySet, Item, NumberSet, StringSet

__all__ = ["KEY_DAMAGE", "encode_item", "encode_item_python", "COMPILED", "decode_item", "encode_value", "encode_value_python", "decode_value", "VERSION"]

VERSION = 1
_HEADER = bytes([VERSION])


#: What :func:`_dec` raises on bytes that are not a valid encoding: a read past the end, an unknown tag, text that
#: is not UTF-8 or ASCII (ValueError), a number that is not one or is not finite (NaN, sNaN, Infinity),
#: nesting beyond the interpreter's stack.
_CORRUPT = (IndexError, ValueError, ArithmeticError, TypeError, RecursionError)

#: What reading a decoded item's key raises when the item is damaged: an attribute missing (KeyError), or of a
#: type no key has (an AttributeError or TypeError encoding it). Callers that need a stored item's key catch it.
KEY_DAMAGE: tuple[type[Exception], ...] = (KeyError, AttributeError, TypeError)


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes([i]) for i in range(0x80)]


def _enc(value: Any, out: bytearray) -> None:
    # Order: the common scalar types first.  bool before int (bool is an int).
    t = type(value)
    if t is str:
        b = value.encode("utf-8", "surrogatepass")
        out += b"S"
        out += _varint(len(b))
        out += b
    elif t is Decimal:
        b = str(value).encode("ascii")
        out += b"N"
        out += _varint(len(b))
        out += b
    elif t is dict:
        out += b"M"
        out += _varint(len(value))
        for k, v in value.items():
            kb = k.encode("utf-8", "surrogatepass")
            out += _varint(len(kb))
            out += kb
            _enc(v, out)
    elif t is list:
        out += b"L"
        out += _varint(len(value))
        for v in value:
            _enc(v, out)
    elif t is bool:
        out += b"T" if value else b"F"
    elif value is None:
        out += b"Z"
    elif t is bytes or t is bytearray:
        out += b"B"
        out += _varint(len(value))
        out += value
    elif isinstance(value, StringSet):
        _enc_set(b"s", [e.encode("utf-8", "surrogatepass") for e in value], out)
    elif isinstance(value, NumberSet):
        _enc_set(b"n", [str(e).encode("ascii") for e in value], out)
    elif isinstance(value, BinarySet):
        _enc_set(b"b", [bytes(e) for e in value], out)
    elif isinstance(value, bool):  # pragma: no cover - bool subclasses do not exist
        out += b"T" if value else b"F"
    elif isinstance(value, int):
        # The port normalises ints to Decimal; accept them anyway, as numbers.
        _enc(Decimal(value), out)
    elif isinstance(value, str):
        _enc(str(value), out)
    elif isinstance(value, dict):
        _enc(dict(value), out)
    elif isinstance(value, list):
        _enc(list(value), out)
    else:
        raise ValidationError(f"cannot store a value of type {t.__name__}")


def _enc_set(tag: bytes, elements: list[bytes], out: bytearray) -> None:
    elements.sort()
    out += tag
    out += _varint(len(elements))
    for e in elements:
        out += _varint(len(e))
        out += e


def encode_value(value: Any) -> bytes:
    """Encode one attribute value (no version header); compiled like :func:`encode_item`, same bytes."""
    if _compiled_value is not None:
        b = _compiled_value(value)
        if b is not None:
            return b
    return encode_value_python(value)


def encode_value_python(value: Any) -> bytes:
    """The pure-Python :func:`encode_value` (the reference)."""
    out = bytearray()
    _enc(value, out)
    return bytes(out)


def encode_item(item: Item) -> bytes:
    """Encode a whole (normalised) item, with the version header.

    Runs the compiled encoder (:mod:`.ccodec`) when it is built; it returns
    None for values it does not handle (typed sets, lone surrogates, ...) and
    :func:`encode_item_python`, the reference, encodes those items.
    """
    if _compiled is not None:
        out = _compiled(item)
        if out is not None:
            return out
    return encode_item_python(item)


def encode_item_python(item: Item) -> bytes:
    """The pure-Python :func:`encode_item`: the reference the compiled encoder is tested against (same bytes)."""
    out = bytearray(_HEADER)
    out += _varint(len(item))
    for k, v in item.items():
        kb = k.encode("utf-8", "surrogatepass")
        out += _varint(len(kb))
        out += kb
        _enc(v, out)
    return bytes(out)


_compiled: Callable[[Any], bytes | None] | None
_compiled_value: Callable[[Any], bytes | None] | None
try:
    from storeswap.adapters.postgres.ccodec import encode_item as _compiled
    from storeswap.adapters.postgres.ccodec import encode_value as _compiled_value
except ImportError:  # no compiler at install time, or STORESWAP_PURE=1: the pure-Python encoder
    _compiled = _compiled_value = None
if settings.is_set(settings.PURE):
    _compiled = _compiled_value = None

#: True when the compiled encoder is in use.
COMPILED = _compiled is not None


def _dec(data: bytes, i: int) -> tuple[Any, int]:
    tag = data[i]
    i += 1
    # varint inline: most lengths are one byte
    n = data[i]
    i += 1
    if tag == 0x53:  # S
        if n >= 0x80:
            n, i = _long_varint(data, i, n)
        j = i + n
        return data[i:j].decode("utf-8", "surrogatepass"), j
    if tag == 0x4E:  # N
        if n >= 0x80:
            n, i = _long_varint(data, i, n)
        j = i + n
        d = Decimal(data[i:j].decode("ascii"))
        if not d.is_finite():
            raise ValueError("a number that is not finite")
        return d, j
    if tag == 0x4D:  # M
        if n >= 0x80:
            n, i = _long_varint(data, i, n)
        m: dict[str, Any] = {}
        for _ in range(n):
            kl = data[i]
            i += 1
            if kl >= 0x80:
                kl, i = _long_varint(data, i, kl)
            j = i + kl
            k = data[i:j].decode("utf-8", "surrogatepass")
            m[k], i = _dec(data, j)
        return m, i
    if tag == 0x4C:  # L
        if n >= 0x80:
            n, i = _long_varint(data, i, n)
        lst = []
        for _ in range(n):
            v, i = _dec(data, i)
            lst.append(v)
        return lst, i
    # tags without a length: the byte we read as a length belongs to the next value
    if tag == 0x54:  # T
        return True, i - 1
    if tag == 0x46:  # F
        return False, i - 1
    if tag == 0x5A:  # Z
        return None, i - 1
    if n >= 0x80:
        n, i = _long_varint(data, i, n)
    if tag == 0x42:  # B
        j = i + n
        return data[i:j], j
    if tag in (0x73, 0x6E, 0x62):  # s n b
        elements = []
        for _ in range(n):
            el = data[i]
            i += 1
            if el >= 0x80:
                el, i = _long_varint(data, i, el)
            elements.append(data[i : i + el])
            i += el
        if tag == 0x73:
            return StringSet(e.decode("utf-8", "surrogatepass") for e in elements), i
        if tag == 0x6E:
            numbers = [Decimal(e.decode("ascii")) for e in elements]
            if not all(d.is_finite() for d in numbers):
                raise ValueError("a number that is not finite")
            return NumberSet(numbers), i
        return BinarySet(elements), i
    raise ValueError(f"unknown type tag {tag:#x}")


def _long_varint(data: bytes, i: int, first: int) -> tuple[int, int]:
    n = first & 0x7F
    shift = 7
    while True:
        b = data[i]
        i += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, i
        shift += 7


def decode_value(data: bytes) -> Any:
    """Inverse of :func:`encode_value`."""
    try:
        # a trailing pad byte lets the tag-only values read their phantom length safely
        value, end = _dec(bytes(data) + b"\x00", 0)
    except _CORRUPT as e:
        raise StoreCorrupted(f"a stored value cannot be read: {e}") from None
    if end != len(data):
        raise StoreCorrupted("a stored value cannot be read: trailing bytes")
    return value


def decode_item(data: bytes) -> Item:
    """Inverse of :func:`encode_item`."""
    if not data or data[0] != VERSION:
        raise StoreCorrupted("a stored item cannot be read: unknown encoding version")
    buf = data if type(data) is bytes else bytes(data)
    try:
        # Re-use the map branch of _dec: the header byte plays the 'M' tag's role.
        item, end = _dec(b"M" + buf[1:] + b"\x00", 0)
    except _CORRUPT as e:
        raise StoreCorrupted(f"a stored item cannot be read: {e or type(e).__name__}") from None
    if end != len(buf):
        raise StoreCorrupted("a stored item cannot be read: trailing bytes")
    return item  # type: ignore[no-any-return]
