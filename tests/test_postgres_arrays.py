"""The packed ``bigint[]`` / ``bytea[]`` parameters (adapters/postgres/arrays.py, decision 0036).

PostgreSQL itself is the reference: what it receives for each array, sent back through ``array_send``, must be the
very bytes the packer wrote, and the array must come back with the same elements (NULLs, empty arrays, extremes).
"""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import pq
from psycopg.adapt import PyFormat

from storeswap import BatchDelete, BatchPut, TxGet, TxPut
from storeswap.adapters.postgres import arrays
from storeswap.adapters.postgres.arrays import ByteaArray, Int8Array, column_array, pack_bytea_array, pack_int8_array
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec

INT8_CASES: list[list[int | None]] = [
    [], [0], [1, -1], [2**63 - 1, -(2**63)], list(range(-12, 13)), [5, None, 7], [None],
    list(range(-150, 150)), [*range(200), None],  # long arrays
]
BYTEA_CASES: list[list[Any]] = [
    [], [b""], [b"a", b"\x00\xff" * 40, b""], [None, b"x"], [bytes(range(256))] * 25, [None],
    [bytearray(b"ab"), memoryview(b"cd"), memoryview(array("i", [1, 2]))],  # a wide view: its bytes, not its items
]


def test_the_arrays_are_dumped_by_their_own_dumpers() -> None:
    for cls in (Int8Array, ByteaArray):
        dumper = psycopg.adapters.get_dumper(cls, PyFormat.BINARY)
        assert dumper.__module__ == "storeswap.adapters.postgres.arrays", cls


def test_psycopgs_own_array_dumpers_by_oid_are_untouched() -> None:
    # A COPY with set_types(["bigint[]"]) elsewhere in the process must keep psycopg's dumper.
    for oid in (1016, 1001):
        assert psycopg.adapters.get_dumper_by_oid(oid, pq.Format.BINARY).__module__ != arrays.__name__


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
def test_bytea_arrays_are_what_postgresql_receives(conn: Any, values: list[Any]) -> None:
    sent, back = conn.execute("SELECT array_send(%b::bytea[]), %b::bytea[]", [ByteaArray(values)] * 2).fetchone()
    assert bytes(sent) == pack_bytea_array(values)
    assert back == [None if v is None else bytes(v) for v in values]


@pytest.mark.slow
@pytest.mark.parametrize(("sql", "array"), [
    ("SELECT %b::bigint[]", Int8Array([2**63])), ("SELECT %b::bigint[]", Int8Array(["1"])),  # type: ignore[list-item]
    ("SELECT %b::bytea[]", ByteaArray(["text"])),  # type: ignore[list-item]
], ids=["int8-out-of-range", "int8-str", "bytea-str"])
def test_an_element_that_cannot_be_sent_is_a_data_error(conn: Any, sql: str, array: Any) -> None:
    with pytest.raises(psycopg.DataError):
        conn.execute(sql, [array])
    assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.slow
def test_the_stores_multi_row_statements_send_packed_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch writes, batch and transaction reads, the locks: through the packers, with their results right."""
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    packed: list[str] = []
    for name in ("pack_int8_array", "pack_bytea_array"):
        real = getattr(arrays, name)
        monkeypatch.setattr(arrays, name, lambda values, real=real, name=name: packed.append(name) or real(values))
    table = f"arrays_{uuid.uuid4().hex[:8]}"
    spec = TableSpec(table, KeyAttribute("pk"), KeyAttribute("sk", "N"),
                     global_indexes=(GlobalIndex("by_g", KeyAttribute("g")),))
    with PostgresStore(provision(), pool_size=2) as store:
        store.create_table(spec)
        try:
            items = [{"pk": f"p{i}", "sk": i, **({"g": "x"} if i % 2 else {})} for i in range(10)]
            store.batch_write([BatchPut(table, it) for it in items])
            assert {"pack_int8_array", "pack_bytea_array"} <= set(packed)
            packed.clear()
            got = store.batch_get({table: [{"pk": it["pk"], "sk": it["sk"]} for it in items]})
            assert sorted(got[table], key=lambda it: it["sk"]) == items
            assert "pack_bytea_array" in packed
            packed.clear()
            store.transact_write([TxPut(table, {"pk": "t", "sk": 1}), TxPut(table, {"pk": "t", "sk": 2})])
            assert store.transact_get([TxGet(table, {"pk": "t", "sk": 2})]) == [{"pk": "t", "sk": 2}]
            assert "pack_int8_array" in packed
            store.batch_write([BatchDelete(table, {"pk": it["pk"], "sk": it["sk"]}) for it in items])
            assert store.batch_get({table: [{"pk": "p1", "sk": 1}]}) == {table: []}
        finally:
            store.delete_table(table)
