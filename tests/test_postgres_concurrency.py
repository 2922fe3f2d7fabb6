"""Conditional writes and transactions on PostgreSQL stay atomic under concurrency (C1, T2, T4)."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from storeswap.core.errors import ConditionFailed, TransactionCanceled, TransactionConflict
from storeswap.core.port import TxCheck, TxPut, TxUpdate
from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store() -> Iterator[object]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    s = PostgresStore(provision(), pool_size=12)
    yield s
    s.close()


@pytest.fixture
def table(store) -> Iterator[str]:
    name = f"conc-{uuid.uuid4().hex[:12]}"
    store.create_table(TableSpec(name, KeyAttribute("pk", "S")))
    yield name
    store.delete_table(name)


def _run(threads: int, target) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            target(i)
        except BaseException as e:  # collected and asserted on by the test
            errors.append(e)

    ts = [threading.Thread(target=wrapped, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def test_optimistic_increments_are_never_lost(store, table) -> None:
    store.put(table, {"pk": "counter", "version": 0, "n": 0})

    def worker(_: int) -> None:
        done = 0
        while done < 200:
            item = store.get(table, {"pk": "counter"})
            try:
                store.update(
                    table,
                    {"pk": "counter"},
                    "SET version = version + :one, n = n + :one",
                    condition="version = :v",
                    values={":one": 1, ":v": item["version"]},
                )
                done += 1
            except (ConditionFailed, TransactionConflict):
                continue

    assert _run(8, worker) == []
    final = store.get(table, {"pk": "counter"})
    assert final["n"] == Decimal(1600) and final["version"] == Decimal(1600)


def test_unconditional_adds_are_never_lost(store, table) -> None:
    def worker(_: int) -> None:
        for _ in range(100):
            store.update(table, {"pk": "adds"}, "ADD n :one", values={":one": 1})

    assert _run(8, worker) == []
    assert store.get(table, {"pk": "adds"})["n"] == Decimal(800)


def test_conflicting_transactions_apply_whole_or_not_at_all(store, table) -> None:
    store.put(table, {"pk": "a", "c": 0})
    store.put(table, {"pk": "b", "c": 0})
    applied = [0] * 8

    def worker(i: int) -> None:
        for _ in range(40):
            a = store.get(table, {"pk": "a"})["c"]
            b = store.get(table, {"pk": "b"})["c"]
            try:
                store.transact_write(
                    [
                        TxUpdate(
                            table, {"pk": "a"}, "SET c = c + :one", condition="c = :a", values={":one": 1, ":a": a}
                        ),
                        TxUpdate(
                            table, {"pk": "b"}, "SET c = c + :one", condition="c = :b", values={":one": 1, ":b": b}
                        ),
                    ]
                )
                applied[i] += 1
            except (TransactionCanceled, TransactionConflict):
                pass
            # single-item writes interleave with the transactions (T4)
            store.update(table, {"pk": "a"}, "SET touched = :t", values={":t": i})

    assert _run(8, worker) == []
    a, b = store.get(table, {"pk": "a"}), store.get(table, {"pk": "b"})
    assert a["c"] == b["c"] == Decimal(sum(applied))
    assert sum(applied) > 0


def test_no_write_skew_on_absent_items(store, table) -> None:
    # Two transactions, each checking that the other's item is absent and creating its own:
    # serialisable means at most one of them succeeds.
    for round_ in range(30):
        a, b = f"a{round_}", f"b{round_}"
        barrier = threading.Barrier(2)

        def worker(i: int, a=a, b=b, barrier=barrier) -> None:
            mine, other = (a, b) if i == 0 else (b, a)
            barrier.wait()
            with contextlib.suppress(TransactionCanceled, TransactionConflict):
                store.transact_write(
                    [
                        TxCheck(table, {"pk": other}, "attribute_not_exists(pk)"),
                        TxPut(table, {"pk": mine}),
                    ]
                )

        assert _run(2, worker) == []
        present = [k for k in (a, b) if store.get(table, {"pk": k}) is not None]
        assert len(present) == 1, present


def test_cancelled_transaction_writes_nothing(store, table) -> None:
    store.put(table, {"pk": "x", "v": 1})
    store.put(table, {"pk": "y", "v": 1})
    with pytest.raises(TransactionCanceled) as info:
        store.transact_write(
            [
                TxPut(table, {"pk": "new"}),
                TxUpdate(table, {"pk": "x"}, "SET v = :v", values={":v": 2}),
                TxCheck(table, {"pk": "y"}, "v = :nope", values={":nope": 5}),
            ]
        )
    assert info.value.codes == ["None", "None", "ConditionalCheckFailed"]
    assert store.get(table, {"pk": "new"}) is None
    assert store.get(table, {"pk": "x"})["v"] == Decimal(1)


def test_concurrent_inserts_of_one_absent_item_admit_one_winner(store, table) -> None:
    wins = []

    def worker(i: int) -> None:
        try:
            store.put(table, {"pk": "once", "by": i}, condition="attribute_not_exists(pk)")
            wins.append(i)
        except ConditionFailed:
            pass

    assert _run(8, worker) == []
    assert len(wins) == 1
    assert store.get(table, {"pk": "once"})["by"] == Decimal(wins[0])
