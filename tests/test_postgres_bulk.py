"""PostgreSQL bulk_put (adapters/postgres/bulk.py): the framed COPY path and the write_row path store the same
items, replace existing ones and collapse duplicate keys; an unlocked load and a transaction of its table never
run together, and a load that finds existing keys (or records changes) takes every item's lock."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from storeswap.adapters.postgres import bulk
from storeswap.adapters.postgres.arrays import Int8Array
from storeswap.adapters.postgres.layout import SQL_LOCK_TRANSACTION
from storeswap.core.port import TxCheck, TxPut
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import StringSet
from storeswap.migrate.sample import bulk_items

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store() -> Iterator[Any]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    s = PostgresStore(provision(), pool_size=4)
    yield s
    s.close()


@pytest.fixture
def table(store: Any) -> Iterator[str]:
    name = f"bulk-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), KeyAttribute("sk")))
    yield name
    store.delete_table(name)


def _everything(store: Any, table: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(i["pk"], i["sk"]): i for i in store.scan_all(table, consistent=True)}


def test_the_framed_path_is_taken_and_stores_every_item_in_any_order(store: Any, table: str) -> None:
    items = list(bulk_items(3000))
    random.Random(7).shuffle(items)  # not in key order: bulk_put sorts the framed rows
    spec = store.spec(table)
    lay = store.layout(spec)
    assert (bulk.copy_rows(lay, items[:1]) is not None) is bulk.COMPILED_ROWS
    assert store.bulk_put(table, items) == 3000
    assert _everything(store, table) == {(i["pk"], i["sk"]): i for i in items}


def test_existing_keys_are_replaced_and_duplicates_collapse_to_the_last(store: Any, table: str) -> None:
    store.bulk_put(table, [{"pk": "a", "sk": str(i), "v": "old"} for i in range(10)])
    fresh = [{"pk": "a", "sk": str(i), "v": "new"} for i in range(5, 15)]  # half exist: the upsert fallback
    store.bulk_put(table, fresh)
    dupes = [{"pk": "b", "sk": "1", "v": n} for n in ("first", "second", "last")]
    store.bulk_put(table, dupes)
    got = _everything(store, table)
    assert {k: v["v"] for k, v in got.items() if k[0] == "a"} == {
        ("a", str(i)): "old" if i < 5 else "new" for i in range(15)
    }
    assert got[("b", "1")]["v"] == "last"


def test_items_the_framer_hands_back_go_through_write_row(store: Any, table: str) -> None:
    items = [
        {"pk": "lone \ud800 surrogate", "sk": "1"},
        {"pk": "set", "sk": "1", "s": StringSet({"x", "y"})},
        {"pk": "n", "sk": "1", "n": Decimal("1.5")},
    ]
    store.bulk_put(table, items)
    assert _everything(store, table) == {(i["pk"], i["sk"]): i for i in items}


def test_number_keys_and_ttl_columns_take_the_write_row_path(store: Any) -> None:
    name = f"bulkn-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk", "N"), ttl_attribute="exp"))
    try:
        items = [{"pk": Decimal(i), "exp": Decimal(100 + i)} for i in range(50)]
        assert bulk.copy_rows(store.layout(store.spec(name)), items) is None
        store.bulk_put(name, items)
        assert sorted(store.scan_all(name, consistent=True), key=lambda i: i["pk"]) == items
    finally:
        store.delete_table(name)


def _wait_until_queued(watcher: psycopg.Connection[Any], ids: list[int], what: str) -> None:
    """Until some session waits for one of the advisory locks ``ids`` (a condition, not a timing)."""
    objids = [((i >> 32) & 0xFFFFFFFF, i & 0xFFFFFFFF) for i in ids]
    deadline = time.monotonic() + 60
    while True:
        waiting = watcher.execute(
            "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchall()
        watcher.commit()
        if any(tuple(w) in objids for w in waiting):
            return
        assert time.monotonic() < deadline, f"{what} never waited for the advisory lock"
        time.sleep(0.05)


def _assert(condition: bool) -> None:
    assert condition


def _in_thread(fn: Any) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    done, errors = threading.Event(), []

    def run() -> None:
        try:
            fn()
            done.set()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    return worker, done, errors


def _waits_for_the_holder(
    store: Any, lock_sql: str, params: tuple[Any, ...], ids: list[int], what: str, fn: Any, while_waiting: Any
) -> None:
    """A holder opens a transaction and takes ``lock_sql``'s locks; ``fn`` (in a thread) must queue on one of the
    advisory locks ``ids`` and not finish; ``while_waiting()`` checks what is visible meanwhile; after the
    holder's COMMIT ``fn`` finishes without an error."""
    with psycopg.connect(store.conninfo, autocommit=True) as holder, psycopg.connect(store.conninfo) as watcher:
        holder.execute("BEGIN")
        holder.execute(lock_sql, params)
        worker, done, errors = _in_thread(fn)
        _wait_until_queued(watcher, ids, what)
        assert not done.is_set()
        while_waiting()
        holder.execute("COMMIT")
        worker.join(60)
    assert done.is_set() and not errors


ITEM_LOCK = "SELECT pg_advisory_xact_lock(%s::bigint)"


def test_an_unlocked_load_waits_for_a_transaction_of_its_table(store: Any, table: str) -> None:
    # The holder takes what a transaction takes (every load slot shared, then its item's lock) and holds it:
    # the load (fresh keys: one COPY with no item lock) waits for its slot, so it cannot insert an item that the
    # transaction read absent between that read and the transaction's commit (ADR 0009, decision 0037).
    lay = store.layout(store.spec(table))
    items = [{"pk": "locked", "sk": str(i), "v": "bulk"} for i in range(20)]  # not in key order
    _waits_for_the_holder(
        store,
        SQL_LOCK_TRANSACTION,
        (Int8Array([lay.lock_id({"pk": "other", "sk": "1"})]), Int8Array(lay.load_slots)),
        list(lay.load_slots),
        "the bulk load",
        lambda: store.bulk_put(table, items),
        lambda: _assert(store.get(table, {"pk": "locked", "sk": "7"}, consistent=True) is None),
    )
    assert len([k for k in _everything(store, table) if k[0] == "locked"]) == 20


def test_an_unlocked_load_takes_no_item_lock_and_a_writer_that_read_absent_starts_over(store: Any, table: str) -> None:
    # A single writer (or a batch) holds item 7's lock, having read it absent.  The load of fresh keys does not
    # wait for it; the writer's insert then finds the row (ON CONFLICT DO NOTHING: zero rows) and starts over.
    lay = store.layout(store.spec(table))
    items = [{"pk": "free", "sk": f"{i:02d}", "v": "bulk"} for i in range(20)]
    with psycopg.connect(store.conninfo, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute(ITEM_LOCK, (lay.lock_id(items[7]),))
        worker, done, errors = _in_thread(lambda: store.bulk_put(table, items))
        worker.join(60)
        assert done.is_set() and not errors, "the unlocked load waited for an item lock"
        inserted = holder.execute(
            lay.sql_insert(), [*lay.row_params({"pk": "free", "sk": "07"}, b"x"), lay.lock_id(items[7])]
        ).rowcount
        holder.execute("ROLLBACK")
    assert inserted == 0
    assert store.get(table, {"pk": "free", "sk": "07"}, consistent=True) == items[7]


def test_a_load_of_existing_keys_waits_for_a_writer_holding_one_of_its_items(store: Any, table: str) -> None:
    # Existing keys: the unlocked COPY fails, and the load goes the locked way, under every item's lock
    # (computed by the framer, not Layout.lock_id).
    lay = store.layout(store.spec(table))
    items = [{"pk": "locked", "sk": str(i), "v": "old"} for i in range(20)]
    store.bulk_put(table, items)
    newer = [{**i, "v": "new"} for i in items]
    lock = lay.lock_id(items[7])
    _waits_for_the_holder(
        store,
        ITEM_LOCK,
        (lock,),
        [lock],
        "the bulk load of existing keys",
        lambda: store.bulk_put(table, newer),
        lambda: _assert(store.get(table, {"pk": "locked", "sk": "7"}, consistent=True)["v"] == "old"),
    )
    assert {v["v"] for k, v in _everything(store, table).items() if k[0] == "locked"} == {"new"}


def test_a_transaction_waits_for_an_unlocked_load_of_its_table(store: Any, table: str) -> None:
    # The holder plays a load's COPY (one slot, exclusive): a transaction that reads an item absent and writes
    # another waits for it, whichever slot it is.
    lay = store.layout(store.spec(table))
    slot = lay.load_slots[5]
    actions = [TxCheck(table, {"pk": "t", "sk": "absent"}, "attribute_not_exists(pk)"), TxPut(table, {"pk": "t", "sk": "b"})]
    _waits_for_the_holder(
        store,
        ITEM_LOCK,
        (slot,),
        [slot],
        "the transaction",
        lambda: store.transact_write(actions),
        lambda: _assert(store.get(table, {"pk": "t", "sk": "b"}, consistent=True) is None),
    )
    assert store.get(table, {"pk": "t", "sk": "b"}, consistent=True) == {"pk": "t", "sk": "b"}


def test_a_bulk_put_that_records_changes_takes_every_item_lock(store: Any) -> None:
    # On a table with a stream, bulk_put (an application write) records one change per item: the locked way
    # even for fresh keys, under the items' locks and the stream's shard counters.
    name = f"bulks-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), KeyAttribute("sk"), stream="NEW_IMAGE"))
    try:
        lay = store.layout(store.spec(name))
        items = [{"pk": "s", "sk": f"{i:02d}"} for i in range(20)]
        lock = lay.lock_id(items[7])
        _waits_for_the_holder(
            store, ITEM_LOCK, (lock,), [lock], "the recorded bulk put", lambda: store.bulk_put(name, items), lambda: None
        )
        assert len(store.changes(name).records) == 20
    finally:
        store.delete_table(name)


def test_transactions_of_one_table_share_its_load_slots(store: Any, table: str) -> None:
    # The holder holds every slot shared, as an open transaction does: another transaction does not wait for it
    # (it takes the slots shared too; taken exclusively, or with its two lock arrays swapped, it would wait).
    lay = store.layout(store.spec(table))
    with psycopg.connect(store.conninfo, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock_shared(s) FROM unnest(%s::bigint[]) AS s", (list(lay.load_slots),))
        worker, done, errors = _in_thread(lambda: store.transact_write([TxPut(table, {"pk": "t", "sk": "shared"})]))
        worker.join(60)
        assert done.is_set() and not errors, "a transaction waited for another transaction's shared load slots"
        holder.execute("COMMIT")


def test_a_long_bulk_goes_in_parts_in_order_and_existing_keys_take_the_locked_way(store: Any, table: str) -> None:
    n = bulk.COPY_ROWS * 2 + 7
    old = [{"pk": "p", "sk": f"{i:06d}", "v": "old"} for i in range(bulk.COPY_ROWS + 100, bulk.COPY_ROWS + 200)]
    store.bulk_put(table, old)  # keys in the second part exist: that part is rolled back and upserted
    items = [{"pk": "p", "sk": f"{i:06d}", "v": "new"} for i in range(n)]
    items.append({"pk": "p", "sk": "000003", "v": "last"})  # a key of the first part, again, in the last part
    assert store.bulk_put(table, items) == n + 1
    got = _everything(store, table)
    assert len(got) == n
    assert got[("p", "000003")]["v"] == "last"
    assert {v["v"] for k, v in got.items() if k != ("p", "000003")} == {"new"}
