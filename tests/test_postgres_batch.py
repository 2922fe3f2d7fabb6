"""PostgreSQL batch_write: one multi-row statement per table and kind, with the semantics of single writes.

Puts and deletes across tables land with their TTL and index columns, every changed item gets exactly one
change record (S5), duplicates reject the whole batch (T1), the batch takes every item's advisory lock in
lock-id order before it writes (ADR 0009), and a conditional create racing a batch over the same key stays
atomic.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from storeswap import BatchDelete, BatchPut
from storeswap.core.errors import ConditionFailed, ValidationError
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec

pytestmark = pytest.mark.slow

#: A bound for "the batch never blocked" / "it never finished" (a hang), not a measure of speed.
HANG_S = 90.0


@pytest.fixture(scope="module")
def store() -> Iterator[Any]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    s = PostgresStore(provision(), pool_size=12)
    yield s
    s.close()


@pytest.fixture
def tables(store: Any) -> Iterator[tuple[str, str]]:
    """A streamed table with TTL and a global index, and a plain table with a numeric key."""
    tag = uuid.uuid4().hex[:10]
    first, second = f"batch-a-{tag}", f"batch-b-{tag}"
    store.create_table(
        TableSpec(
            first,
            KeyAttribute("pk"),
            KeyAttribute("sk", "N"),
            global_indexes=[GlobalIndex("by-team", KeyAttribute("team"))],
            ttl_attribute="exp",
            stream="NEW_AND_OLD_IMAGES",
        )
    )
    store.create_table(TableSpec(second, KeyAttribute("id", "N"), stream="KEYS_ONLY"))
    yield first, second
    store.delete_table(first)
    store.delete_table(second)


def _kinds(store: Any, table: str) -> dict[tuple[Any, ...], list[str]]:
    out: dict[tuple[Any, ...], list[str]] = {}
    for r in store.iter_changes(table):
        out.setdefault(tuple(sorted(r.keys.items())), []).append(r.kind)
    return out


def _column(store: Any, table: str, column: str) -> dict[bytes, Any]:
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        rows = conn.execute(f'SELECT pk, {column} FROM "{store.physical_table(table)}"').fetchall()
    return {bytes(pk): value for pk, value in rows}


def test_puts_and_deletes_over_two_tables_land_with_columns_and_one_record_each(
    store: Any, tables: tuple[str, str]
) -> None:
    a, b = tables
    store.batch_write(
        [BatchPut(a, {"pk": f"p{i}", "sk": i, "team": f"o{i % 2}", "exp": 100 + i}) for i in range(6)]
        + [BatchPut(b, {"id": i}) for i in range(4)]
    )
    # Deletes of present and absent items, an overwrite, a byte-identical put, and a put without TTL.
    store.batch_write(
        [
            BatchDelete(a, {"pk": "p0", "sk": 0}),
            BatchDelete(a, {"pk": "absent", "sk": 9}),
            BatchPut(a, {"pk": "p1", "sk": 1, "team": "o9"}),
            BatchPut(a, {"pk": "p2", "sk": 2, "team": "o0", "exp": 102}),
            BatchDelete(b, {"id": 3}),
            BatchPut(b, {"id": 7, "n": 1}),
        ]
    )
    items = {x["pk"]: x for x in store.scan(a).items}
    assert sorted(items) == ["p1", "p2", "p3", "p4", "p5"]
    assert items["p1"] == {"pk": "p1", "sk": Decimal(1), "team": "o9"}
    assert sorted(x["id"] for x in store.scan(b).items) == [0, 1, 2, 7]
    # TTL column: filled from the item, cleared when the new item has none.
    assert _column(store, a, "ttl") == {b"p1": None, b"p2": Decimal(102), b"p3": Decimal(103),
                                        b"p4": Decimal(104), b"p5": Decimal(105)}
    # Index columns: the global index sees the overwrite.
    assert [x["pk"] for x in store.query(a, "team = :o", values={":o": "o9"}, index="by-team").items] == ["p1"]
    assert sorted(x["pk"] for x in store.query(a, "team = :o", values={":o": "o0"}, index="by-team").items) == [
        "p2", "p4"]
    # One record per changed item and write, none for the absent delete or the byte-identical put.
    assert _kinds(store, a) == {
        (("pk", "p0"), ("sk", Decimal(0))): ["INSERT", "REMOVE"],
        (("pk", "p1"), ("sk", Decimal(1))): ["INSERT", "MODIFY"],
        (("pk", "p2"), ("sk", Decimal(2))): ["INSERT"],
        (("pk", "p3"), ("sk", Decimal(3))): ["INSERT"],
        (("pk", "p4"), ("sk", Decimal(4))): ["INSERT"],
        (("pk", "p5"), ("sk", Decimal(5))): ["INSERT"],
    }
    assert _kinds(store, b) == {
        (("id", Decimal(0)),): ["INSERT"],
        (("id", Decimal(1)),): ["INSERT"],
        (("id", Decimal(2)),): ["INSERT"],
        (("id", Decimal(3)),): ["INSERT", "REMOVE"],
        (("id", Decimal(7)),): ["INSERT"],
    }


def test_a_duplicate_key_rejects_the_whole_batch(store: Any, tables: tuple[str, str]) -> None:
    a, b = tables
    with pytest.raises(ValidationError):
        store.batch_write([BatchPut(b, {"id": 1}), BatchPut(a, {"pk": "x", "sk": 1}), BatchDelete(a, {"pk": "x", "sk": 1})])
    assert store.scan(a).items == [] and store.scan(b).items == []
    assert _kinds(store, a) == {} and _kinds(store, b) == {}


def _advisory_locks(conn: psycopg.Connection[Any], pid: int) -> tuple[list[int], list[int]]:
    """(granted, waiting) advisory lock ids of backend ``pid`` (a bigint lock is classid:objid, objsubid 1)."""
    rows = conn.execute(
        "SELECT ((classid::bigint << 32) | objid::bigint), granted FROM pg_locks"
        " WHERE locktype = 'advisory' AND objsubid = 1 AND pid = %s"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (pid,),
    ).fetchall()
    as_signed = [(v - (1 << 64) if v >= 1 << 63 else v, g) for v, g in rows]
    return sorted(v for v, g in as_signed if g), sorted(v for v, g in as_signed if not g)


def test_the_batch_takes_every_item_lock_in_order_before_it_writes(store: Any, tables: tuple[str, str]) -> None:
    a, _ = tables
    lay = store.layout(store.spec(a))
    keys = [{"pk": f"k{i}", "sk": Decimal(i)} for i in range(25)]
    ids = sorted(lay.lock_id(k) for k in keys)
    held = ids[10]  # another transaction holds the 11th lock in order
    errors: list[BaseException] = []
    with psycopg.connect(store.conninfo, autocommit=True) as holder, psycopg.connect(
        store.conninfo, autocommit=True
    ) as watcher:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (held,))

        def write() -> None:
            try:
                store.batch_write([BatchPut(a, {**k, "exp": 1}) for k in keys])
            except BaseException as e:  # asserted below
                errors.append(e)

        t = threading.Thread(target=write)
        t.start()
        deadline = time.monotonic() + HANG_S
        granted: list[int] = []
        waiting: list[int] = []
        while time.monotonic() < deadline:
            unsigned = held & ((1 << 64) - 1)
            pids = [r[0] for r in watcher.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1"
                " AND classid = %s::oid AND objid = %s::oid"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (unsigned >> 32, unsigned & 0xFFFFFFFF),
            ).fetchall()]
            if pids:
                granted, waiting = _advisory_locks(watcher, pids[0])
                break
            time.sleep(0.02)
        # The batch waits on the held lock, holding exactly the ten before it, and has written nothing.
        assert waiting == [held] and granted == ids[:10]
        assert store.scan(a).items == []
        # Nor does it hold a shard counter of the stream yet: those come after every item lock, as in a
        # transaction, so the two cannot deadlock (ADR 0021).
        with watcher.transaction(force_rollback=True):
            locked = watcher.execute(
                "SELECT h.shard FROM storeswap_shards h JOIN storeswap_streams s ON s.id = h.stream_id"
                " WHERE s.name = %s AND s.disabled IS NULL FOR UPDATE OF h NOWAIT",
                (a,),
            ).fetchall()
        assert len(locked) == 4
        holder.execute("COMMIT")
        t.join(HANG_S)
    assert not t.is_alive() and errors == []
    assert len(store.scan(a).items) == 25


def test_conditional_creates_racing_batches_stay_atomic(store: Any, tables: tuple[str, str]) -> None:
    """A create-if-absent and a batch put of the same key, racing: the outcome is one of the two serial orders."""
    a, _ = tables
    rounds = 20
    won: list[bool] = []

    for n in range(rounds):
        key = {"pk": f"race{n}", "sk": 0}
        barrier = threading.Barrier(2)

        def create(key: dict[str, Any] = key, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                store.put(a, {**key, "by": "put"}, condition="attribute_not_exists(pk)")
                won.append(True)
            except ConditionFailed:
                won.append(False)

        def batch(key: dict[str, Any] = key, barrier: threading.Barrier = barrier, n: int = n) -> None:
            barrier.wait()
            store.batch_write([BatchPut(a, {**key, "by": "batch"}), BatchPut(a, {"pk": f"other{n}", "sk": 0})])

        threads = [threading.Thread(target=create), threading.Thread(target=batch)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    kinds = _kinds(store, a)
    assert len(won) == rounds
    for n, create_won in enumerate(won):
        # Either the batch came first (the create failed) or the create did and the batch overwrote it.
        assert store.get(a, {"pk": f"race{n}", "sk": 0})["by"] == "batch"
        assert kinds[(("pk", f"race{n}"), ("sk", Decimal(0)))] == (["INSERT", "MODIFY"] if create_won else ["INSERT"])


def test_numbers_at_the_limits_and_absent_columns_round_trip_through_the_array_parameters(
    store: Any, tables: tuple[str, str]
) -> None:
    """Key, index and TTL columns travel as binary arrays: extreme numbers and all-NULL columns come back as sent."""
    a, b = tables
    numbers = [Decimal("9.9999999999999999999999999999999999999E+125"), Decimal("-1E-130"),
               Decimal("12345678901234567890123456789012345678"), Decimal("0"), Decimal("-0.5")]
    store.batch_write([BatchPut(b, {"id": n}) for n in numbers])
    assert sorted(x["id"] for x in store.scan(b).items) == sorted(numbers)
    store.batch_write([BatchPut(a, {"pk": f"n{i}", "sk": n, "exp": n}) for i, n in enumerate(numbers)]
                      + [BatchPut(a, {"pk": "bare", "sk": 1})])
    assert {x["pk"]: x["sk"] for x in store.scan(a).items} == {**{f"n{i}": n for i, n in enumerate(numbers)},
                                                                "bare": Decimal(1)}
    assert _column(store, a, "ttl") == {**{f"n{i}".encode(): n for i, n in enumerate(numbers)}, b"bare": None}
    assert _column(store, a, "a0") == {**{f"n{i}".encode(): None for i in range(len(numbers))}, b"bare": None}
    store.batch_write([BatchDelete(b, {"id": n}) for n in numbers[:3]])
    assert sorted(x["id"] for x in store.scan(b).items) == sorted(numbers[3:])
