"""A type-exact canonical byte encoding of items, and the digests built on it.

``verify`` compares two tables without trusting the copy, so two items must
encode to the same bytes exactly when DynamoDB would call them the same item:

* the type tag is part of the encoding, so ``"1"`` (S), ``1`` (N) and
  ``b"1"`` (B) never collide, and neither do ``True`` and ``1``;
* numbers are encoded by value after DynamoDB's normalisation (V2), so
  ``Decimal("1.50")`` and ``Decimal("1.5")`` are the same number;
* sets are unordered (V3): their elements are encoded, then sorted;
* map entries are sorted by the UTF-8 bytes of their names;
* every variable-length part carries its length, so no two different values
  share an encoding (``["ab"]`` vs ``["a", "b"]``);
* strings keep NUL and lone surrogates (``surrogatepass``).

The digest of a bucket is the sum of the SHA-256 digests of its items modulo
2**256: order-independent, so two stores can be scanned in any order, and
unlike XOR it does not cancel a pair of equal digests.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.schema import TableSpec
from storeswap.core.values import BinarySet, NumberSet, StringSet, normalize_number

__all__ = [
    "canonical_bytes",
    "canonical_item",
    "canonical_key",
    "item_digest",
    "DIGEST_MODULUS",
    "number_text",
]

DIGEST_MODULUS = 1 << 256

_LEN = struct.Struct(">Q")


def number_text(value: Decimal | int) -> str:
    """The canonical text of a number (V2); a number outside DynamoDB's range keeps its own text."""
    try:
        return str(normalize_number(value))
    except ValidationError:
        # Still type-exact and deterministic; `check` reports such numbers as blocking.
        return str(value)


def _frame(tag: bytes, body: bytes) -> bytes:
    return tag + _LEN.pack(len(body)) + body


def _set_bytes(tag: bytes, elements: Any) -> bytes:
    encoded = sorted(canonical_bytes(e) for e in elements)
    return _frame(tag, _LEN.pack(len(encoded)) + b"".join(encoded))


def canonical_bytes(value: Any) -> bytes:
    """The canonical encoding of one attribute value (see the module docstring)."""
    if isinstance(value, str):
        return _frame(b"S", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if value is None:
        return b"0"
    if isinstance(value, (Decimal, int)):
        return _frame(b"N", number_text(value).encode("ascii"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _frame(b"B", bytes(value))
    if isinstance(value, Mapping):
        return canonical_item(value, tag=b"M")
    if isinstance(value, (list, tuple)):
        parts = [canonical_bytes(v) for v in value]
        return _frame(b"L", _LEN.pack(len(parts)) + b"".join(parts))
    if isinstance(value, StringSet):
        return _set_bytes(b"s", value)
    if isinstance(value, NumberSet):
        return _set_bytes(b"n", value)
    if isinstance(value, BinarySet):
        return _set_bytes(b"b", value)
    if isinstance(value, (set, frozenset)):
        # An untyped set: the type follows from the elements, as normalize_value decides it.
        first = next(iter(value), None)
        if isinstance(first, str):
            return _set_bytes(b"s", value)
        if isinstance(first, (bytes, bytearray)):
            return _set_bytes(b"b", value)
        if isinstance(first, (Decimal, int)) and not isinstance(first, bool):
            # Two elements equal as numbers collapse into one, as in a NumberSet.
            return _set_bytes(b"n", {Decimal(number_text(e)) for e in value})
        raise ValidationError(f"cannot encode a set of {type(first).__name__}")
    raise ValidationError(f"cannot encode a value of type {type(value).__name__}")


def canonical_item(item: Mapping[str, Any], *, tag: bytes = b"M") -> bytes:
    """The canonical encoding of an item (a map): entries sorted by the UTF-8 bytes of their names."""
    entries = sorted((name.encode("utf-8", "surrogatepass"), canonical_bytes(v)) for name, v in item.items())
    body = _LEN.pack(len(entries)) + b"".join(_LEN.pack(len(n)) + n + v for n, v in entries)
    return _frame(tag, body)


def canonical_key(spec: TableSpec, item: Mapping[str, Any]) -> bytes:
    """The canonical encoding of an item's primary key (hashable identity across stores).

    A missing key attribute (an item no store would accept, read from an export) encodes as NULL.
    """
    return b"".join(canonical_bytes(item.get(name)) for name in spec.key_names)


def item_digest(item: Mapping[str, Any]) -> int:
    """SHA-256 of the canonical encoding of an item, as an integer (add them modulo 2**256)."""
    return int.from_bytes(hashlib.sha256(canonical_item(item)).digest(), "big")
