"""The PostgreSQL adapter in loop calls (decision 0038): its waits suspend the call, never the loop.

The gateway runs item operations as loop calls on its event loop's thread.  A wait that blocked the
thread would stop every other call on it, and with them whatever the waiting call waits for: these
tests make one call wait for something only another call on the same loop can give, and fail
(a statement timeout, a pool timeout) where a blocking wait would hang.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from storeswap import loop_calls
from storeswap.adapters.postgres.datastore import PooledConnection
from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow

LOCK = 0x5EED_0038


def _run_bounded(coro: Any, seconds: float) -> None:
    """``asyncio.run(coro)`` on a thread of its own, failing the test if it has not finished in ``seconds``
    (a blocked loop would otherwise hang the suite)."""
    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(coro)
        except BaseException as e:  # re-raised below
            errors.append(e)

    t = threading.Thread(target=main, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"the loop did not finish in {seconds} s: a wait blocked it"
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def conninfo() -> str:
    from storeswap.backends.postgres import provision

    return provision()


def test_a_lock_wait_in_one_call_lets_the_holder_call_run(conninfo: str) -> None:
    # The holder takes an advisory lock, waits until the waiter is seen queued on it, then commits.  Both
    # are calls on one loop: if the waiter's wait blocked the loop the holder could never look or commit,
    # and the waiter would end with the statement timeout instead of its lock.
    with PooledConnection.connect(conninfo, autocommit=True) as holder, PooledConnection.connect(
        conninfo, autocommit=True
    ) as waiter:
        waiter_pid = waiter.info.backend_pid
        waiter.execute("SET statement_timeout = '10s'")
        events: list[str] = []

        def hold(_: Any) -> None:
            holder.execute("BEGIN")
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
            events.append("held")
            for _ in range(500):
                queued = holder.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = %s",
                    (waiter_pid,),
                ).fetchone()
                if queued and queued[0]:
                    break
                loop_calls.await_(asyncio.sleep(0.01))
            events.append("saw the waiter queued")
            holder.execute("COMMIT")

        def wait(_: Any) -> None:
            while "held" not in events:
                loop_calls.await_(asyncio.sleep(0.005))
            waiter.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
            events.append("got the lock")
            waiter.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))

        async def both() -> None:
            await asyncio.gather(loop_calls.run(hold, None), loop_calls.run(wait, None))

        _run_bounded(both(), 30)
    assert events == ["held", "saw the waiter queued", "got the lock"]


@pytest.fixture
def small_store(conninfo: str) -> Iterator[Any]:
    from storeswap.adapters.postgres import PostgresStore

    store = PostgresStore(conninfo, pool_size=2)
    name = f"loop-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk")))
    store.loop_table = name
    yield store
    store.delete_table(name)
    store.close()


def test_more_calls_than_connections_wait_for_one_without_blocking_the_loop(small_store: Any) -> None:
    # Twelve calls on one loop share a pool of two connections.  Each holds its connection while its
    # statement runs, suspended; the calls that find the pool empty must suspend too until one comes back.
    # A blocking pool wait would stop the loop, so the holders could never give theirs back: each waiting
    # call would block for the pool's timeout (30 s) in turn, and the bound below fails the test.
    store, table = small_store, small_store.loop_table

    def write(i: int) -> None:
        store.put(table, {"pk": f"k{i}", "n": i})
        assert store.get(table, {"pk": f"k{i}"}) == {"pk": f"k{i}", "n": i}

    async def all_of_them() -> None:
        await asyncio.gather(*(loop_calls.run(write, i) for i in range(12)))

    _run_bounded(all_of_them(), 60)
    assert sorted(int(it["n"]) for it in store.scan(table).items) == list(range(12))


def test_a_call_cancelled_while_it_waits_closes_its_connection(conninfo: str) -> None:
    # Cancelled mid-statement, the connection is mid-exchange with the server: it is closed (so a pool
    # replaces it), not left ACTIVE for a rollback that cannot run or for the next caller.
    with PooledConnection.connect(conninfo, autocommit=True) as conn:
        started: list[bool] = []

        def sleep(_: Any) -> None:
            started.append(True)
            conn.execute("SELECT pg_sleep(30)")

        async def main() -> None:
            task = asyncio.ensure_future(loop_calls.run(sleep, None))
            while not started:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                return
            raise AssertionError("the call was not cancelled")

        _run_bounded(main(), 20)
        assert conn.closed
