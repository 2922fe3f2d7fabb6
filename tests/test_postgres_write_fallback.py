"""PostgreSQL single-item writes: lock-free compare-and-swap first, then a locked attempt that cannot lose.

Under heavy contention a CAS can lose every race (a transaction commits between its read and its write), and
a plain update used to fail with TransactionConflict after 100 attempts.  After ``OPTIMISTIC_WRITE_ATTEMPTS``
lost races the write locks the item (advisory lock, ``SELECT ... FOR UPDATE``) and cannot lose again, so no
write takes more than ``OPTIMISTIC_WRITE_ATTEMPTS + 1`` attempts; the locked path keeps every semantics of the
lock-free one (the whole PostgreSQL contract suite passes with the lock-free attempts set to 0).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from storeswap import TxUpdate
from storeswap.core.errors import ConditionFailed, TransactionCanceled, TransactionConflict
from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store() -> Iterator[Any]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    s = PostgresStore(provision(), pool_size=12)
    yield s
    s.close()


@pytest.fixture(params=[None, "NEW_AND_OLD_IMAGES"], ids=["plain", "streamed"])
def table(store: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"fallback-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), stream=request.param))
    yield name
    store.delete_table(name)


def test_a_write_that_keeps_losing_races_locks_the_item_and_wins(
    store: Any, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storeswap.adapters.postgres import store as pg_store

    store.put(table, {"pk": "a", "c": Decimal(0)})
    store.put(table, {"pk": "b", "c": Decimal(0)})
    local = threading.local()
    most = [0]
    real = pg_store.plan_write

    def counting(req: Any, old: Any) -> Any:
        local.n = getattr(local, "n", 0) + 1
        return real(req, old)

    monkeypatch.setattr(pg_store, "plan_write", counting)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for _ in range(30):
                a = store.get(table, {"pk": "a"})["c"]
                b = store.get(table, {"pk": "b"})["c"]
                with contextlib.suppress(TransactionCanceled, TransactionConflict):
                    store.transact_write([
                        TxUpdate(table, {"pk": "a"}, "SET c = c + :one", condition="c = :a",
                                 values={":one": 1, ":a": a}),
                        TxUpdate(table, {"pk": "b"}, "SET c = c + :one", condition="c = :b",
                                 values={":one": 1, ":b": b}),
                    ])  # fmt: skip
                local.n = 0
                store.update(table, {"pk": "a"}, "SET touched = :t", values={":t": i})
                most[0] = max(most[0], local.n)
        except BaseException as e:  # asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert 1 <= most[0] <= pg_store.OPTIMISTIC_WRITE_ATTEMPTS + 1


def test_the_locked_attempt_keeps_the_write_semantics(store: Any, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from storeswap.adapters.postgres import store as pg_store

    monkeypatch.setattr(pg_store, "OPTIMISTIC_WRITE_ATTEMPTS", 0)  # every write takes the locked path
    assert store.put(table, {"pk": "x", "n": Decimal(1)}, condition="attribute_not_exists(pk)") is None
    with pytest.raises(ConditionFailed):
        store.put(table, {"pk": "x", "n": Decimal(2)}, condition="attribute_not_exists(pk)")
    assert store.update(table, {"pk": "x"}, "SET n = n + :one", values={":one": Decimal(1)},
                        return_values="ALL_NEW") == {"pk": "x", "n": 2}  # fmt: skip
    with pytest.raises(ConditionFailed):
        store.delete(table, {"pk": "x"}, condition="n = :n", values={":n": Decimal(1)})
    assert store.delete(table, {"pk": "x"}, condition="n = :n", values={":n": Decimal(2)},
                        return_values="ALL_OLD") == {"pk": "x", "n": 2}  # fmt: skip
    assert store.get(table, {"pk": "x"}, consistent=True) is None
