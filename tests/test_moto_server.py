"""The embedded moto server applies concurrent writes to one item atomically, as DynamoDB does.

moto's threaded werkzeug server runs requests on many threads over one in-memory
backend that has no locks of its own: an ``ADD`` is a read-modify-write in Python,
so two concurrent ``ADD`` s on one item could both read the old value and one
increment was lost (the R4 contract test once summed 199 of 200).  The server
that :func:`storeswap.backends.dynamodb.start_moto` starts applies DynamoDB API
calls one at a time, after each request's body has been read in full; these tests
hammer it and must sum exactly, and show that a client stalled mid-body does not
hold up anybody else.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from storeswap.core.port import ItemStore

pytest.importorskip("moto")

THREADS = 8
PER_THREAD = 25
ROUNDS = 6


#: The GIL's switch interval in the server under test.  CPython's default (5 ms) makes moto's races
#: rare (the contract suite hit one in many runs); switching threads every microsecond makes them
#: show in nearly every round of these tests when the server does not serialise calls.
SWITCH_INTERVAL = 1e-6


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server of our own, started by the provisioner's entry point with a tiny switch interval."""
    from storeswap.backends.dynamodb import free_port, wait_for_http

    port = free_port()
    argv = ["storeswap.backends.dynamodb", "--moto", str(port), "--parent", str(os.getpid())]
    code = (
        f"import runpy, sys; sys.setswitchinterval({SWITCH_INTERVAL!r}); sys.argv = {argv!r}; "
        "runpy.run_module('storeswap.backends.dynamodb', run_name='__main__', alter_sys=True)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
    try:
        wait_for_http("127.0.0.1", port, 60.0, proc)
        yield f"dynamodb://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture
def store(moto_url: str) -> Iterator[ItemStore]:
    from storeswap.connect import open_store
    from storeswap.core.schema import KeyAttribute, TableSpec

    # No botocore retries: a retried 500 would hide a failed call, and a retried ADD would count twice.
    s = open_store(moto_url + "?max_attempts=1")
    table = f"moto-atomic-{uuid.uuid4().hex[:8]}"
    s.create_table(TableSpec(table, KeyAttribute("pk", "S")))
    s.table = table  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.delete_table(table)
        s.close()


def _in_threads(n: int, work: object) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)  # type: ignore[operator]
        except BaseException as e:  # surfaced by the caller: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_adds_to_one_item_sum_exactly(store: ItemStore) -> None:
    table = store.table  # type: ignore[attr-defined]
    for r in range(ROUNDS):
        key = {"pk": f"counter-{r}"}

        def add(_: int, key: dict[str, str] = key) -> None:
            for _ in range(PER_THREAD):
                store.update(table, key, "ADD n :one", values={":one": 1})

        assert _in_threads(THREADS, add) == []
        got = store.get(table, key, consistent=True)
        assert got is not None and got["n"] == Decimal(THREADS * PER_THREAD), f"round {r}: {got}"


def test_concurrent_transfers_conserve_the_total(store: ItemStore) -> None:
    """Transactions between two items from many threads: no update lost, the total kept."""
    from storeswap.core.errors import TransactionCanceled
    from storeswap.core.port import TxUpdate

    table = store.table  # type: ignore[attr-defined]
    store.put(table, {"pk": "a", "balance": 1000})
    store.put(table, {"pk": "b", "balance": 1000})
    done = [0] * THREADS

    def transfer(i: int) -> None:
        for _ in range(PER_THREAD):
            src, dst = ("a", "b") if i % 2 else ("b", "a")
            try:
                store.transact_write(
                    [
                        TxUpdate(table, {"pk": src}, "ADD balance :m", values={":m": -1}),
                        TxUpdate(table, {"pk": dst}, "ADD balance :p", values={":p": 1}),
                    ]
                )
            except TransactionCanceled:
                continue  # a conflicting transaction: DynamoDB cancels, nothing applied
            done[i] += 1

    assert _in_threads(THREADS, transfer) == []
    a = store.get(table, {"pk": "a"}, consistent=True)
    b = store.get(table, {"pk": "b"}, consistent=True)
    assert a is not None and b is not None
    assert a["balance"] + b["balance"] == 2000
    moved_out_of_b = sum(done[i] for i in range(THREADS) if i % 2 == 0)
    moved_out_of_a = sum(done[i] for i in range(THREADS) if i % 2)
    assert a["balance"] == 1000 - moved_out_of_a + moved_out_of_b


def test_scans_beside_concurrent_puts_never_fail(store: ItemStore) -> None:
    """moto's Scan iterates the table while PutItem grows it; DynamoDB answers every call."""
    table = store.table  # type: ignore[attr-defined]

    def work(i: int) -> None:
        for j in range(PER_THREAD * 2):
            if i % 2:
                store.put(table, {"pk": f"item-{i}-{j}"})
            else:
                list(store.scan_all(table))

    assert _in_threads(THREADS, work) == []
    assert len(list(store.scan_all(table))) == THREADS // 2 * PER_THREAD * 2


def test_a_client_stalled_mid_body_does_not_hold_up_others(moto_url: str, store: ItemStore) -> None:
    """A write whose body never arrives in full must not block other writes (nor hold any lock)."""
    host, port = moto_url.removeprefix("dynamodb://").rsplit(":", 1)
    table = store.table  # type: ignore[attr-defined]
    body = b'{"TableName": "%s", "Key": {"pk": {"S": "stalled"}}}' % table.encode()
    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "X-Amz-Target: DynamoDB_20120810.UpdateItem\r\n"
        "Content-Type: application/x-amz-json-1.0\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=x\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port)), timeout=30) as stalled:
        stalled.sendall(head + body[:10])  # the rest never comes while we write below
        errors = _in_threads(2, lambda i: store.put(table, {"pk": f"other-{i}", "v": 1}))
        assert errors == []
        assert store.get(table, {"pk": "other-0"}) == {"pk": "other-0", "v": Decimal(1)}
    # Dropped mid-body: the server carries on.
    store.put(table, {"pk": "after"})
    assert store.get(table, {"pk": "after"}) == {"pk": "after"}
