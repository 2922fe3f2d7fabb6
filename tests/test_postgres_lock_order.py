"""PostgreSQL single-item writes take the item's advisory lock before its row (ADR 0009), as batches and
transactions do.

A transaction (or a batch) holds every item's advisory lock, then the stream's shard counters, then the rows.
A compare-and-swap update or delete that took the row first (its UPDATE / DELETE) and then waited for a shard
counter (the change-log trigger) would deadlock with it; PostgreSQL broke the cycle only after
``deadlock_timeout``.  So would the TTL sweeper's delete.  Here a holder plays the transaction: it takes the item's lock and the table's shard
counters, lets the single write start and block, then asks for the row with ``NOWAIT`` — which fails at once if
the blocked write already holds the row.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow

#: The application_name of this module's connections, so that lock reads see this test's backends only (another
#: session on the same server, or this process's other stores, can wait for locks of their own meanwhile).
APPLICATION = f"storeswap-test-lock-order-{uuid.uuid4().hex[:8]}"
#: A bound for "it never blocked" / "it never finished" (a hang), not a measure of speed: generous for a loaded machine.
HANG_S = 90.0


@pytest.fixture(scope="module")
def store() -> Iterator[Any]:
    import sqlalchemy as sa

    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    url = sa.engine.make_url(provision()).update_query_dict({"application_name": APPLICATION})
    s = PostgresStore(url.render_as_string(hide_password=False), pool_size=4)
    yield s
    s.close()


@pytest.fixture
def table(store: Any) -> Iterator[str]:
    name = f"lockorder-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), stream="NEW_AND_OLD_IMAGES", ttl_attribute="exp"))
    yield name
    store.delete_table(name)


WRITES: dict[str, Callable[[Any, str], Any]] = {
    "update-if": lambda s, t: s.update(t, {"pk": "x"}, "SET n = n + :one", condition="attribute_exists(pk)",
                                       values={":one": Decimal(1)}),
    "update": lambda s, t: s.update(t, {"pk": "x"}, "SET n = :v", values={":v": Decimal(9)}),
    "delete-if": lambda s, t: s.delete(t, {"pk": "x"}, condition="n = :n", values={":n": Decimal(1)}),
    "delete": lambda s, t: s.delete(t, {"pk": "x"}),
    "put-if": lambda s, t: s.put(t, {"pk": "x", "n": Decimal(5)}, condition="attribute_exists(pk)"),
    "ttl-sweep": lambda s, t: s.expire(t),  # the item below expired ten seconds ago
}  # fmt: skip


def _waiting(watcher: psycopg.Connection[Any], holder_pid: int) -> list[str]:
    """The locks that this module's backends other than the holder (the store's pool, in practice) wait for."""
    return [r[0] for r in watcher.execute(
        "SELECT locktype FROM pg_locks WHERE NOT granted AND pid <> %s"  # a transactionid lock has no database
        " AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = %s)", (holder_pid, APPLICATION),
    ).fetchall()]  # fmt: skip


@pytest.mark.parametrize("write", list(WRITES))
def test_a_single_write_waits_for_the_item_lock_before_it_takes_the_row(store: Any, table: str, write: str) -> None:
    store.put(table, {"pk": "x", "n": Decimal(1), **({"exp": Decimal(int(time.time()) - 10)} if write == "ttl-sweep" else {})})
    lay = store.layout(store.spec(table))
    errors: list[BaseException] = []
    with psycopg.connect(store.conninfo, autocommit=True) as holder, psycopg.connect(
        store.conninfo, autocommit=True
    ) as watcher:
        holder_pid = holder.info.backend_pid
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s::bigint)", (lay.lock_id({"pk": "x"}),))
        holder.execute(
            "SELECT h.shard FROM storeswap_shards h JOIN storeswap_streams s ON s.id = h.stream_id"
            " WHERE s.name = %s AND s.disabled IS NULL FOR UPDATE OF h",
            (table,),
        )

        def run() -> None:
            try:
                WRITES[write](store, table)
            except BaseException as e:  # asserted below
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + HANG_S
        while not _waiting(watcher, holder_pid):
            assert time.monotonic() < deadline, "the write never blocked on the holder"
            assert t.is_alive(), f"the write did not wait for the item's lock: {errors}"
            time.sleep(0.02)
        # What a transaction does next: lock the row.  The blocked write must not hold it.
        key = lay.key_params({"pk": "x"})
        holder.execute(
            f'SELECT 1 FROM "{lay.physical}" WHERE bucket = %s AND pk = %s FOR UPDATE NOWAIT', key[:2]
        )
        assert _waiting(watcher, holder_pid) == ["advisory"]
        holder.execute("COMMIT")
        t.join(HANG_S)
    assert not t.is_alive() and errors == []
    if write == "ttl-sweep":
        assert store.get(table, {"pk": "x"}, consistent=True) is None
