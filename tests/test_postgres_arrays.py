"""The packed ``bigint[]`` / ``bytea[]`` parameters (adapters/postgres/arrays.py, decision 0036).

PostgreSQL itself is the reference: what it receives for each array, sent back through ``array_send``, must be the
very bytes the packer wrote, and the array must come back with the same elements (NULLs, empty arrays, extremes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.adapt import PyFormat

from storeswap.adapters.postgres.arrays import ByteaArray, Int8Array, column_array, pack_bytea_array, pack_int8_array

INT8_CASES: list[list[int | None]] = [
    [], [0], [1, -1], [2**63 - 1, -(2**63)], list(range(-12, 13)), [5, None, 7], [None],
]
BYTEA_CASES: list[list[bytes | None]] = [
    [], [b""], [b"a", b"\x00\xff" * 40, b""], [None, b"x"], [bytes(range(256))] * 25, [None],
]


def test_the_arrays_are_dumped_by_their_own_dumpers() -> None:
    for cls in (Int8Array, ByteaArray):
        dumper = psycopg.adapters.get_dumper(cls, PyFormat.BINARY)
        assert dumper.__module__ == "storeswap.adapters.postgres.arrays", cls


def test_column_array_wraps_by_sql_type() -> None:
    assert type(column_array("bigint", [1])) is Int8Array
    assert type(column_array("bytea", (b"a",))) is ByteaArray
    assert type(column_array("numeric", [1])) is list


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    from storeswap.backends.postgres import provision

    with psycopg.connect(provision(), autocommit=True) as c:
        yield c


@pytest.mark.slow
@pytest.mark.parametrize("values", INT8_CASES, ids=repr)
def test_int8_arrays_are_what_postgresql_receives(conn: Any, values: list[int | None]) -> None:
    sent, back = conn.execute("SELECT array_send(%b::bigint[]), %b::bigint[]", [Int8Array(values)] * 2).fetchone()
    assert bytes(sent) == pack_int8_array(values)
    assert back == values


@pytest.mark.slow
@pytest.mark.parametrize("values", BYTEA_CASES, ids=lambda v: repr(v)[:40])
def test_bytea_arrays_are_what_postgresql_receives(conn: Any, values: list[bytes | None]) -> None:
    sent, back = conn.execute("SELECT array_send(%b::bytea[]), %b::bytea[]", [ByteaArray(values)] * 2).fetchone()
    assert bytes(sent) == pack_bytea_array(values)
    assert back == values


@pytest.mark.slow
@pytest.mark.parametrize(("sql", "array"), [
    ("SELECT %b::bigint[]", Int8Array([2**63])), ("SELECT %b::bigint[]", Int8Array(["1"])),  # type: ignore[list-item]
    ("SELECT %b::bytea[]", ByteaArray(["text"])),  # type: ignore[list-item]
], ids=["int8-out-of-range", "int8-str", "bytea-str"])
def test_an_element_that_cannot_be_sent_is_a_data_error(conn: Any, sql: str, array: Any) -> None:
    with pytest.raises(psycopg.DataError):
        conn.execute(sql, [array])
    assert conn.execute("SELECT 1").fetchone() == (1,)
