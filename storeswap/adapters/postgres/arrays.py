"""``bigint[]`` and ``bytea[]`` parameters packed in one step (decision 0036).

The multi-row statements (a batch's upsert and delete, the items' advisory
locks, a batch get) pass one array per column.  psycopg dumps a plain
``list`` element by element in Python and first inspects it to choose the
element type; for a 25-item BatchWriteItem that was 13% of the gateway's
GIL time (py-spy, 8 wrk connections).  :class:`Int8Array` and
:class:`ByteaArray` are lists that say their PostgreSQL type, and their
dumpers write PostgreSQL's binary array format (``array_send``: ndim,
has-null flag, element oid, then per dimension its length and lower bound,
then each element as a 4-byte length, -1 for NULL, and its bytes) with one
``struct`` pack per element and one join.  They are registered on psycopg's global
adapters when this module is imported, by class only: their ``oid`` is 0
(unknown), so they are not registered by oid, and a ``COPY`` with
``set_types(["bigint[]"])`` anywhere in the process keeps psycopg's own
dumper.  PostgreSQL takes the parameter's type from the statement's cast
(every use here is ``%b::bigint[]`` or ``%b::bytea[]``).

:func:`column_array` wraps one column of a layout's parameters by its SQL
type; other types stay plain lists, dumped by psycopg as before.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper

__all__ = ["ByteaArray", "Int8Array", "column_array", "pack_bytea_array", "pack_int8_array"]

_INT8_OID, _BYTEA_OID = 20, 17  # element oids, in the array header
_HEAD = struct.Struct(">5i")  # ndim = 1, has_null, element oid, length, lower bound = 1
_LEN = struct.Struct(">i")
_NULL = b"\xff\xff\xff\xff"
_INT8_ELEMENT = struct.Struct(">iq")  # length 8, then the value


class Int8Array(list[int | None]):
    """A ``bigint[]`` parameter (None elements are NULL)."""

    __slots__ = ()


class ByteaArray(list[bytes | None]):
    """A ``bytea[]`` parameter (None elements are NULL)."""

    __slots__ = ()


def _empty(oid: int) -> bytes:
    return struct.pack(">3i", 0, 0, oid)  # array_send of an empty array: no dimensions


def pack_int8_array(values: list[int | None]) -> bytes:
    """``array_send`` of a ``bigint[]``."""
    if not values:
        return _empty(_INT8_OID)
    pack = _INT8_ELEMENT.pack
    body = [_NULL if v is None else pack(8, v) for v in values]
    return _HEAD.pack(1, int(None in values), _INT8_OID, len(values), 1) + b"".join(body)


def pack_bytea_array(values: list[bytes | None]) -> bytes:
    """``array_send`` of a ``bytea[]``."""
    n = len(values)
    if n == 0:
        return _empty(_BYTEA_OID)
    parts: list[bytes] = [b""]
    has_null = 0
    pack_len = _LEN.pack
    for v in values:
        if v is None:
            has_null = 1
            parts.append(_NULL)
        else:
            if type(v) is not bytes:  # a bytearray or memoryview: its bytes (len of a wide view counts items)
                v = bytes(v)
            parts.append(pack_len(len(v)))
            parts.append(v)
    parts[0] = _HEAD.pack(1, has_null, _BYTEA_OID, n, 1)
    return b"".join(parts)


class _Int8ArrayDumper(Dumper):
    format = pq.Format.BINARY
    oid = 0  # not registered by oid (see the module docstring); the statement's cast gives the type

    def dump(self, obj: Any) -> bytes:
        try:
            return pack_int8_array(obj)
        except (struct.error, TypeError) as e:  # as psycopg's own dumpers report a value they cannot send
            raise psycopg.DataError(f"cannot dump a bigint[] element: {e}") from None


class _ByteaArrayDumper(Dumper):
    format = pq.Format.BINARY
    oid = 0

    def dump(self, obj: Any) -> bytes:
        try:
            return pack_bytea_array(obj)
        except TypeError as e:
            raise psycopg.DataError(f"cannot dump a bytea[] element: {e}") from None


psycopg.adapters.register_dumper(Int8Array, _Int8ArrayDumper)
psycopg.adapters.register_dumper(ByteaArray, _ByteaArrayDumper)

_BY_TYPE: dict[str, type[list[Any]]] = {"bigint": Int8Array, "bytea": ByteaArray}


def column_array(sql_type: str, values: Iterable[Any]) -> list[Any]:
    """``values`` as a parameter of ``%b::sql_type[]``: an :class:`Int8Array` or :class:`ByteaArray`, else a list."""
    return _BY_TYPE.get(sql_type, list)(values)
