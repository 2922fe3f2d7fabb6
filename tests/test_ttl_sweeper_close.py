"""Closing a store stops its background TTL sweeper (S11), on every adapter.

The port's ``close`` is the one close protocol: it stops the sweeper, then
calls the adapter's ``_close``.  A sweeper left running would sweep a store
whose connections are gone (PostgreSQL: a closed pool, three failures in a
row) or, on the memory store, run for the life of the process.  The bound on
``join`` is a bound on waiting, not a measure of speed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import StoreError
from storeswap.core.port import ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec

#: Seconds to wait for a thread to end or a first sweep to run (a bound, never an expectation).
WAIT = 30.0


def _open(kind: str) -> ItemStore:
    from storeswap.connect import open_store

    if kind == "memory":
        return open_store("memory://")
    if kind == "postgres":
        from storeswap.backends.postgres import provision

        return open_store(provision())
    from storeswap.backends.dynamodb import provision as provision_dynamodb

    return open_store(provision_dynamodb())


@pytest.fixture(params=["memory", "postgres", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[ItemStore]:
    if request.param == "dynamodb":
        pytest.importorskip("moto")
    s = _open(request.param)
    name = f"sweeper_close_{request.param}_{time.monotonic_ns()}"
    s.create_table(TableSpec(name, KeyAttribute("pk"), ttl_attribute="expires"))
    s.table = name  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        if s.closed and request.param != "memory":  # a closed memory store took its tables with it
            s = _open(request.param)
        if not s.closed:
            s.delete_table(name)
            s.close()


def _first_sweep(sweeper: object) -> None:
    deadline = time.monotonic() + WAIT
    while sweeper.sweeps == 0:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the sweeper never swept"
        time.sleep(0.01)


def test_closing_a_store_stops_its_sweeper(store: ItemStore, caplog: pytest.LogCaptureFixture) -> None:
    table = store.table  # type: ignore[attr-defined]
    store.put(table, {"pk": "gone", "expires": int(time.time()) - 60})
    sweeper = store.start_ttl_sweeper(0.02)
    assert sweeper is not None and sweeper.alive
    _first_sweep(sweeper)
    with caplog.at_level(logging.WARNING, logger="storeswap.core.streams"):
        store.close()
        assert sweeper.join(WAIT), "the sweeper thread outlived its store's close"
    assert not sweeper.alive
    # It stopped because it was told to, not after failing on the closed connections.
    assert [r.getMessage() for r in caplog.records if "TTL sweep" in r.getMessage()] == []
    assert store.closed
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.start_ttl_sweeper(0.02)


def test_the_sweeper_is_stopped_before_the_adapter_releases_its_resources() -> None:
    seen: list[bool] = []

    class Recording(MemoryStore):
        def _close(self) -> None:
            assert self.ttl_sweeper is not None
            seen.append(self.ttl_sweeper.alive)
            super()._close()

    store = Recording()
    sweeper = store.start_ttl_sweeper(0.02)
    assert sweeper is not None
    _first_sweep(sweeper)
    store.close()
    assert seen == [False]  # _close ran once, after the sweeper thread had ended
