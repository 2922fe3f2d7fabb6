"""PostgreSQL bulk_put (adapters/postgres/bulk.py): the framed COPY path and the write_row path store the same
items, replace existing ones, collapse duplicate keys, and take the same advisory locks as every other writer."""

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


def test_a_bulk_load_waits_for_a_transaction_holding_one_of_its_items(store: Any, table: str) -> None:
    # The same advisory lock as every writer of the item (ADR 0009): computed by the framer, not Layout.lock_id.
    lay = store.layout(store.spec(table))
    items = [{"pk": "locked", "sk": str(i), "v": "bulk"} for i in range(20)]
    lock = lay.lock_id(items[7])
    with psycopg.connect(store.conninfo, autocommit=True) as holder, psycopg.connect(store.conninfo) as watcher:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (lock,))
        done = threading.Event()
        worker = threading.Thread(target=lambda: (store.bulk_put(table, items), done.set()))
        worker.start()
        objid = (lock >> 32) & 0xFFFFFFFF, lock & 0xFFFFFFFF
        deadline = time.monotonic() + 60
        while True:  # wait until the bulk load is queued behind the lock (a condition, not a timing)
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid::bigint = %s AND objid::bigint = %s",
                objid,
            ).fetchone()
            watcher.commit()
            if waiting is not None and waiting[0] > 0:
                break
            assert time.monotonic() < deadline, "the bulk load never waited for the item's advisory lock"
            time.sleep(0.05)
        assert not done.is_set() and store.get(table, {"pk": "locked", "sk": "7"}, consistent=True) is None
        holder.execute("COMMIT")
        worker.join(60)
    assert done.is_set()
    assert len([k for k in _everything(store, table) if k[0] == "locked"]) == 20
