"""The gateway's store-call threads and its opt-in Server-Timing header (no timing thresholds)."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from typing import Any

import pytest

from storeswap import open_store
from storeswap.gateway.app import StoreThreads
from storeswap.gateway.server import GatewayServer
from storeswap.gateway.timing import parse_server_timing

_TABLE = {"TableName": "timed", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
          "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}


def _call(conn: http.client.HTTPConnection, op: str, body: dict) -> tuple[int, dict, http.client.HTTPResponse]:
    conn.request("POST", "/", json.dumps(body).encode(), {"X-Amz-Target": f"DynamoDB_20120810.{op}",
                                                           "Content-Type": "application/x-amz-json-1.0"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read()), resp


@pytest.mark.parametrize("threads", [0, 3])
def test_server_timing_reports_store_and_app_time(threads: int) -> None:
    with GatewayServer(open_store("memory://"), threads=threads, server_timing=True) as g:
        conn = http.client.HTTPConnection(g.host, g.port)
        assert _call(conn, "CreateTable", _TABLE)[0] == 200
        _call(conn, "PutItem", {"TableName": "timed", "Item": {"pk": {"S": "a"}}})
        status, out, resp = _call(conn, "GetItem", {"TableName": "timed", "Key": {"pk": {"S": "a"}}})
        assert status == 200 and out == {"Item": {"pk": {"S": "a"}}}
        timing = parse_server_timing(resp.getheader("server-timing"))
        assert set(timing) == {"store", "app"}
        assert 0 < timing["store"] <= timing["app"]
        # An error is answered (and timed) the same way.
        status, out, resp = _call(conn, "GetItem", {"TableName": "missing", "Key": {"pk": {"S": "a"}}})
        assert status == 400 and out["__type"].endswith("ResourceNotFoundException")
        assert "app" in parse_server_timing(resp.getheader("server-timing"))
        conn.close()


def test_no_server_timing_header_by_default() -> None:
    with GatewayServer(open_store("memory://")) as g:
        conn = http.client.HTTPConnection(g.host, g.port)
        _, _, resp = _call(conn, "CreateTable", _TABLE)
        assert resp.getheader("server-timing") is None
        conn.close()


def test_store_threads_serve_concurrent_clients_and_carry_errors_back() -> None:
    """With a pool of 2 threads, 8 clients each get their own answers, and store errors keep their shape."""
    with GatewayServer(open_store("memory://"), threads=2) as g:
        setup = http.client.HTTPConnection(g.host, g.port)
        _call(setup, "CreateTable", _TABLE)
        failures: list[str] = []

        def client(n: int) -> None:
            conn = http.client.HTTPConnection(g.host, g.port)
            for i in range(30):
                key = {"pk": {"S": f"{n}-{i}"}}
                _call(conn, "PutItem", {"TableName": "timed", "Item": {**key, "n": {"N": str(i)}}})
                status, out, _ = _call(conn, "GetItem", {"TableName": "timed", "Key": key})
                if out.get("Item", {}).get("n") != {"N": str(i)}:
                    failures.append(f"{n}-{i}: {out}")
                status, out, _ = _call(conn, "PutItem", {"TableName": "timed", "Item": key,
                                                         "ConditionExpression": "attribute_not_exists(pk)"})
                if status != 400 or not out["__type"].endswith("ConditionalCheckFailedException"):
                    failures.append(f"{n}-{i}: {status} {out}")
            conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        setup.close()


def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.001)


def test_store_threads_give_a_lone_job_to_the_thread_that_was_used_last() -> None:
    """One client's requests stay on one warm thread instead of going round the pool (decision 0034)."""
    pool = StoreThreads(4, name="lifo")

    async def run() -> set[int]:
        seen = set()
        for _ in range(12):
            await asyncio.to_thread(_until, lambda: pool.idle == 4)  # the last job's thread is idle again
            seen.add(await pool.submit(lambda _: threading.get_ident(), None))
        return seen

    try:
        assert len(asyncio.run(run())) == 1
    finally:
        pool.shutdown()


def test_store_threads_run_jobs_at_once_up_to_their_size_and_queue_the_rest() -> None:
    pool = StoreThreads(3, name="spread")
    together = threading.Barrier(3, timeout=10)  # passes only when three jobs run at the same time
    release = threading.Event()

    def job(n: int) -> int:
        if n < 3:
            together.wait()
            release.wait(10)
        return n * 10

    async def run() -> list[int]:
        futs = [pool.submit(job, n) for n in range(5)]
        await asyncio.to_thread(_until, lambda: pool.idle == 0)  # every thread has a job; two wait in the backlog
        release.set()
        return list(await asyncio.gather(*futs))

    try:
        assert asyncio.run(run()) == [0, 10, 20, 30, 40]
        assert not together.broken
    finally:
        pool.shutdown()


def test_store_threads_finish_queued_jobs_then_stop_after_shutdown() -> None:
    pool = StoreThreads(1, name="stopping")
    gate = threading.Event()

    async def run() -> list[Any]:
        first = pool.submit(lambda _: gate.wait(10), None)
        second = pool.submit(lambda _: "queued", None)
        failing = pool.submit(lambda _: 1 / 0, None)
        pool.shutdown()
        gate.set()
        return list(await asyncio.gather(first, second, failing, return_exceptions=True))

    first, second, failing = asyncio.run(run())
    assert first is True and second == "queued" and isinstance(failing, ZeroDivisionError)
    for t in [t for t in threading.enumerate() if t.name.startswith("stopping-")]:
        t.join(10)
        assert not t.is_alive()


def test_the_store_time_is_each_requests_own_when_loop_calls_interleave() -> None:
    # Loop calls of two requests share one thread (decision 0038): request a waits between its two store
    # calls while request b runs whole.  A per-thread tally would hand a b's time (107, not 12).
    from storeswap import loop_calls
    from storeswap.gateway.timing import StoreTally

    tally = StoreTally()

    async def main() -> list[tuple[str, int]]:
        gate = asyncio.Event()

        def a(_: Any) -> tuple[str, int]:
            def handler(_: Any) -> str:
                tally.add(5)
                loop_calls.await_(gate.wait())
                tally.add(7)
                return "a"

            return tally.run(handler, None)

        def b(_: Any) -> tuple[str, int]:
            def handler(_: Any) -> str:
                tally.add(100)
                gate.set()
                return "b"

            return tally.run(handler, None)

        return list(await asyncio.gather(loop_calls.run(a, None), loop_calls.run(b, None)))

    assert asyncio.run(main()) == [("a", 12), ("b", 100)]
