"""PostgreSQL failures reach the caller as the port's typed errors, never as psycopg errors (E1, E2)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest

from storeswap.core.errors import (
    OutcomeUnknown,
    StoreError,
    StoreUnavailable,
    TableNotFound,
    Throttled,
)
from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow


def _url(extra: str) -> str:
    from storeswap.backends.postgres import provision

    base = provision()
    return base + ("&" if "?" in base else "?") + extra


@pytest.fixture
def app() -> str:
    return f"ss_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def admin() -> Iterator[psycopg.Connection]:
    from storeswap.adapters.postgres.store import parse_url
    from storeswap.backends.postgres import provision

    conn = psycopg.connect(parse_url(provision())[1], autocommit=True)
    yield conn
    conn.close()


def _store(extra: str):
    from storeswap.adapters.postgres import PostgresStore

    return PostgresStore(_url(extra), pool_size=2)


def _table(store) -> str:
    name = f"err-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk", "S")))
    store.put(name, {"pk": "k", "v": 1})
    return name


def _terminate(admin: psycopg.Connection, app: str) -> list[int]:
    """Terminate ``app``'s backends and wait until they are gone; returns their pids."""
    pids = [
        pid
        for pid, _ in admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
        ).fetchall()
    ]
    _poll(admin, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = ANY(%s)", pids, "the terminated backends are gone")
    return pids


def _poll(admin: psycopg.Connection, sql: str, arg: object, what: str) -> None:
    """Wait until ``sql`` returns a true value; no fixed sleeps, no timing bets.

    ``pg_stat_activity`` is a snapshot taken once per transaction, and the lock tests poll from inside
    one, so each poll clears it first.
    """
    deadline = time.monotonic() + 30
    while True:
        admin.execute("SELECT pg_stat_clear_snapshot()")
        row = admin.execute(sql, (arg,)).fetchone()
        if row and row[0]:
            return
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def _wait_for_lock_wait(admin: psycopg.Connection, app: str) -> None:
    _poll(admin, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
          app, "the store's statement waits for our lock")


def test_statement_timeout_on_a_read_is_throttled(admin, app) -> None:
    store = _store(f"application_name={app}&options={quote('-c statement_timeout=300')}")
    try:
        table = _table(store)
        phys = store.physical_table(table)
        with admin.transaction():
            admin.execute(f'LOCK TABLE "{phys}" IN ACCESS EXCLUSIVE MODE')
            with pytest.raises(Throttled):
                store.get(table, {"pk": "k"})
        store.delete_table(table)
    finally:
        store.close()


def test_statement_timeout_on_a_write_is_outcome_unknown(admin, app) -> None:
    store = _store(f"application_name={app}&options={quote('-c statement_timeout=300')}")
    try:
        table = _table(store)
        phys = store.physical_table(table)
        with admin.transaction():
            admin.execute(f'SELECT 1 FROM "{phys}" FOR UPDATE')
            with pytest.raises(OutcomeUnknown):
                store.update(table, {"pk": "k"}, "SET v = :v", values={":v": 2})
            with pytest.raises(OutcomeUnknown):
                store.put(table, {"pk": "k", "v": 3})
        store.delete_table(table)
    finally:
        store.close()


def test_killed_idle_connections_are_replaced_for_reads(admin, app) -> None:
    store = _store(f"application_name={app}")
    try:
        table = _table(store)
        assert _terminate(admin, app)
        assert store.get(table, {"pk": "k"})["v"] == 1  # retried on a fresh connection
        store.delete_table(table)
    finally:
        store.close()


def test_killed_connection_during_a_write_is_outcome_unknown(admin, app) -> None:
    store = _store(f"application_name={app}")
    try:
        table = _table(store)
        phys = store.physical_table(table)
        caught: list[BaseException] = []

        def write() -> None:
            try:
                store.update(table, {"pk": "k"}, "SET v = :v", values={":v": 2})
            except BaseException as e:
                caught.append(e)

        with admin.transaction():
            admin.execute(f'SELECT 1 FROM "{phys}" FOR UPDATE')
            t = threading.Thread(target=write)
            t.start()
            _wait_for_lock_wait(admin, app)  # the update is now waiting for our row lock
            _terminate(admin, app)
            t.join(10)
        assert len(caught) == 1 and isinstance(caught[0], (OutcomeUnknown, StoreUnavailable)), caught
        assert not isinstance(caught[0], psycopg.Error)
        # the pool recovers
        store.put(table, {"pk": "k", "v": 5})
        assert store.get(table, {"pk": "k"})["v"] == 5
        store.delete_table(table)
    finally:
        store.close()


def test_killed_idle_connection_before_a_write_is_a_port_error(admin, app) -> None:
    store = _store(f"application_name={app}")
    try:
        table = _table(store)
        _terminate(admin, app)
        with contextlib.suppress(OutcomeUnknown, StoreUnavailable):
            store.put(table, {"pk": "k", "v": 9})
        store.put(table, {"pk": "k", "v": 10})
        assert store.get(table, {"pk": "k"})["v"] == 10
        store.delete_table(table)
    finally:
        store.close()


def test_a_batch_on_killed_idle_connections_is_retried_on_fresh_ones(admin, app) -> None:
    """Nothing of a batch is applied before its COMMIT, so a dead pooled connection found earlier is retried."""
    from storeswap import BatchDelete, BatchPut

    store = _store(f"application_name={app}")
    try:
        table = _table(store)
        assert _terminate(admin, app)
        store.batch_write([BatchPut(table, {"pk": f"b{i}", "v": i}) for i in range(5)] + [BatchDelete(table, {"pk": "k"})])
        assert sorted(x["pk"] for x in store.scan(table).items) == [f"b{i}" for i in range(5)]
        store.delete_table(table)
    finally:
        store.close()


def test_a_batch_killed_while_it_waits_for_a_lock_applies_once(admin, app) -> None:
    """Killed before its COMMIT was sent, the batch's transaction is gone: it runs again, and its items land once."""
    from storeswap import BatchPut

    store = _store(f"application_name={app}")
    try:
        table = _table(store)
        phys = store.physical_table(table)
        caught: list[BaseException] = []

        def write() -> None:
            try:
                store.batch_write([BatchPut(table, {"pk": "k", "v": 7}), BatchPut(table, {"pk": "n", "v": 8})])
            except BaseException as e:
                caught.append(e)

        with admin.transaction():
            admin.execute(f'SELECT 1 FROM "{phys}" FOR UPDATE')
            t = threading.Thread(target=write)
            t.start()
            _wait_for_lock_wait(admin, app)  # the batch's upsert now waits for our row lock
            assert _terminate(admin, app)
        t.join(10)
        assert caught == []
        assert {x["pk"]: x["v"] for x in store.scan(table).items} == {"k": 7, "n": 8}
        store.delete_table(table)
    finally:
        store.close()


def test_a_table_dropped_behind_our_back_is_table_not_found(admin) -> None:
    store = _store("")
    try:
        table = _table(store)
        admin.execute(f'DROP TABLE "{store.physical_table(table)}"')
        with pytest.raises(TableNotFound):
            store.get(table, {"pk": "k"})
        with pytest.raises(TableNotFound):
            store.put(table, {"pk": "k"})
    finally:
        store.close()


def test_an_unreachable_server_is_store_unavailable() -> None:
    from storeswap.adapters.postgres import PostgresStore

    with pytest.raises(StoreUnavailable):
        PostgresStore("postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2", connect_timeout=2)


def test_errors_are_store_errors_with_the_driver_error_chained(admin) -> None:
    store = _store("")
    try:
        table = _table(store)
        admin.execute(f'DROP TABLE "{store.physical_table(table)}"')
        with pytest.raises(StoreError) as info:
            store.query(table, "pk = :p", values={":p": "k"})
        assert isinstance(info.value.__cause__, psycopg.Error)
    finally:
        store.close()
