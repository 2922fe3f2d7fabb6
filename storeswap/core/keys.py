"""Keys: validation against a table's schema, DynamoDB's key order, hash buckets and cursors.

One place for the key rules every adapter shares: key types and sizes (V4,
V8, Q6), the byte order of string / binary / number keys (K1), the ordering
of index ties by the table key (K3), the hash bucket that places an item in
a parallel-scan segment (Q4), and the store-neutral cursor encoding.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.jsontext import JSON_ERRORS
from storeswap.core.schema import IndexKeys, KeyAttribute, TableSpec
from storeswap.core.values import (
    MAX_PARTITION_KEY_SIZE,
    MAX_SORT_KEY_SIZE,
    Item,
    KeyDict,
    normalize_value,
    type_tag,
    value_size,
)

__all__ = [
    "extract_key",
    "normalize_key",
    "check_item_keys",
    "order_value",
    "item_order",
    "partition_bucket",
    "segment_of",
    "encode_cursor",
    "decode_cursor",
    "BUCKETS",
]

BUCKETS = 1 << 32


def _check_key_value(attr: KeyAttribute, value: Any, *, max_size: int, what: str) -> None:
    if type(value) is str and attr.type == "S" and value and len(value) * 4 <= max_size:
        return  # the common case: a short string key (at most 4 UTF-8 bytes per character) is within the limit
    tag = type_tag(value)
    if tag != attr.type:
        raise ValidationError(
            f"{what} attribute {attr.name!r} must be of type {attr.type}, got {tag}"
        )
    if tag == "N":
        # A valid number (at most 38 significant digits, V5) counts at most 21 bytes: no key limit can be hit.
        return
    if len(value) == 0:
        raise ValidationError(f"{what} attribute {attr.name!r} may not be empty")
    size = value_size(value)
    if size > max_size:
        raise ValidationError(f"{what} attribute {attr.name!r} is {size} bytes; the limit is {max_size}")


def normalize_key(spec: TableSpec, key: Mapping[str, Any]) -> KeyDict:
    """Validate a primary key against the table schema (types, sizes, no extra attributes) and normalise it."""
    if not isinstance(key, Mapping):
        raise ValidationError(f"a key must be a mapping, not {type(key).__name__}")
    names = spec.key_names
    extra = [k for k in key if k not in names]
    if extra:
        raise ValidationError(f"the key names attributes that are not key attributes of {spec.name}: {extra}")
    out: KeyDict = {}
    for attr, limit in ((spec.partition_key, MAX_PARTITION_KEY_SIZE), (spec.sort_key, MAX_SORT_KEY_SIZE)):
        if attr is None:
            continue
        if attr.name not in key:
            raise ValidationError(f"the key is missing attribute {attr.name!r}")
        value = normalize_value(key[attr.name], where=attr.name)
        _check_key_value(attr, value, max_size=limit, what="key")
        out[attr.name] = value
    return out


def extract_key(spec: TableSpec, item: Mapping[str, Any]) -> KeyDict:
    """The primary key of a normalised item (no validation)."""
    if spec.sort_key is None:
        return {spec.partition_key.name: item[spec.partition_key.name]}
    return {spec.partition_key.name: item[spec.partition_key.name], spec.sort_key.name: item[spec.sort_key.name]}


def check_item_keys(spec: TableSpec, item: Item) -> KeyDict:
    """Check a normalised item's table key and index key attributes (V4, V8, Q6); return its key."""
    key: KeyDict = {}
    for attr, limit in ((spec.partition_key, MAX_PARTITION_KEY_SIZE), (spec.sort_key, MAX_SORT_KEY_SIZE)):
        if attr is None:
            continue
        if attr.name not in item:
            raise ValidationError(f"the item is missing key attribute {attr.name!r}")
        _check_key_value(attr, item[attr.name], max_size=limit, what="key")
        key[attr.name] = item[attr.name]
    for index in spec._indexes:
        for attr, limit in ((index.partition_key, MAX_PARTITION_KEY_SIZE), (index.sort_key, MAX_SORT_KEY_SIZE)):
            if attr is None or attr.name in key or attr.name not in item:
                continue
            _check_key_value(attr, item[attr.name], max_size=limit, what=f"index {index.name} key")
    return key


def order_value(value: Any) -> Any:
    """A value that sorts as DynamoDB sorts key values (K1): UTF-8 bytes, unsigned bytes, numbers."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return value


def item_order(index: IndexKeys, spec: TableSpec, item: Mapping[str, Any]) -> tuple[Any, ...]:
    """The sort tuple of an item within one partition of ``index``: index sort key, then table key (K3)."""
    parts: list[Any] = []
    if index.sort_key is not None:
        parts.append(order_value(item[index.sort_key.name]))
    if index.name is not None:
        parts.append(order_value(item[spec.partition_key.name]))
        if spec.sort_key is not None:
            parts.append(order_value(item[spec.sort_key.name]))
    return tuple(parts)


def _canonical_scalar(value: Any) -> bytes:
    if type(value) is str:  # the common case first
        return b"S" + value.encode("utf-8", "surrogatepass")
    tag = type_tag(value)
    if tag == "S":
        return b"S" + str(value).encode("utf-8", "surrogatepass")
    if tag == "N":
        return b"N" + str(value).encode()
    if tag == "B":
        return b"B" + bytes(value)
    raise ValidationError(f"not a key value: {tag}")


def partition_bucket(value: Any) -> int:
    """A stable 32-bit hash bucket of a partition key value; the same on every store and platform (Q4)."""
    return int.from_bytes(hashlib.blake2b(_canonical_scalar(value), digest_size=4).digest(), "big")


def segment_of(bucket: int, total_segments: int) -> int:
    """The parallel-scan segment holding ``bucket`` (contiguous bucket ranges, so a scan can stream in order)."""
    return bucket * total_segments // BUCKETS


def _encode_scalar(value: Any) -> list[str]:
    tag = type_tag(value)
    if tag == "S":
        # base64 keeps lone surrogates and NUL intact through JSON.
        return ["S", base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()]
    if tag == "N":
        return ["N", str(value)]
    if tag == "B":
        return ["B", base64.b64encode(bytes(value)).decode()]
    raise ValidationError(f"cursor keys hold strings, numbers or binary, not {tag}")


def _decode_scalar(pair: Any) -> Any:
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
        raise ValueError("bad cursor element")
    tag, text = pair
    if tag == "S":
        return base64.b64decode(text, validate=True).decode("utf-8", "surrogatepass")
    if tag == "N":
        return Decimal(text)
    if tag == "B":
        return base64.b64decode(text, validate=True)
    raise ValueError("bad cursor type")


def encode_cursor(key: Mapping[str, Any], *, segment: tuple[int, int] | None = None) -> str:
    """An opaque, store-neutral cursor holding the last returned item's key attributes (Q2).

    The encoding names no store: a query cursor taken on one store resumes on
    any other store holding the same data.
    """
    body: dict[str, Any] = {"k": {name: _encode_scalar(v) for name, v in sorted(key.items())}}
    if segment is not None:
        body["g"] = list(segment)
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, segment: tuple[int, int] | None = None) -> KeyDict:
    """Decode a cursor from :func:`encode_cursor`; a malformed cursor, or one from another segment, is a ValidationError."""
    if not isinstance(cursor, str) or not cursor:
        raise ValidationError("the cursor must be a non-empty string")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(raw)
        key = {name: _decode_scalar(pair) for name, pair in body["k"].items()}
        cursor_segment = body.get("g")
    except (*JSON_ERRORS, KeyError, TypeError, AttributeError, binascii.Error):
        raise ValidationError("the cursor is malformed") from None
    expected = None if segment is None else list(segment)
    if cursor_segment != expected:
        raise ValidationError("the cursor belongs to another scan segment or request")
    return key
