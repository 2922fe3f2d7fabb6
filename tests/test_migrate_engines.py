"""Copies whose segments are tasks on a real Dask cluster: ``processes:2``, and ``dask://`` with a worker killed.

The Dask scheduler and workers are separate OS processes on loopback
(:class:`DaskProcesses`); stores are PostgreSQL servers every worker reaches
(``storeswap.backends.postgres.provision``), checkpoints in the same server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from storeswap.core.errors import ConfigurationError
from storeswap.migrate.engine import EngineSpec, parse_engine
from storeswap.migrate.sample import bulk_items

ITEMS = 50_000


def test_parse_engine() -> None:
    assert parse_engine("threads") == EngineSpec("threads")
    assert parse_engine("processes") == EngineSpec("processes")
    assert parse_engine("processes:3") == EngineSpec("processes", 3)
    assert parse_engine("dask://10.0.0.5:8786") == EngineSpec("dask", None, "10.0.0.5:8786")
    for bad in ("thread", "processes:0", "processes:x", "dask://nohost", "spark://h:1"):
        with pytest.raises(ConfigurationError):
            parse_engine(bad)


def test_a_memory_store_cannot_go_to_workers() -> None:
    from storeswap.migrate.distributed import copy_table_on
    from storeswap.migrate.engine import ThreadEngine

    with pytest.raises(ConfigurationError, match="memory"):
        copy_table_on(ThreadEngine(1), "memory://", "postgresql://h/db", "t_x", state_url="postgresql://h/db")
    with pytest.raises(ConfigurationError, match="bare name"):
        copy_table_on(ThreadEngine(1), "postgres", "postgresql://h/db", "t_x", state_url="postgresql://h/db")


@pytest.fixture(scope="module")
def pg_source() -> Iterator[tuple[str, str]]:
    """A PostgreSQL URL and a table of ITEMS ~1 KB items on it."""
    from storeswap.backends.postgres import provision
    from storeswap.connect import open_store
    from storeswap.migrate.throughput import SPEC

    url = str(provision())
    table = f"engsrc_{uuid.uuid4().hex[:8]}"
    store = open_store(url)
    import attrs

    store.create_table(attrs.evolve(SPEC, name=table))
    items = bulk_items(ITEMS)
    while chunk := [i for _, i in zip(range(5000), items)]:
        store.bulk_put(table, chunk)
    yield url, table
    store.delete_table(table)
    store.close()


def _verify_and_drop(url: str, table: str, target_table: str) -> None:
    from storeswap.connect import open_store
    from storeswap.migrate import verify_tables

    store = open_store(url)
    try:
        vr = verify_tables(store, store, table, target_table)
        assert vr.identical, vr.to_json()
        assert vr.source_items == vr.target_items == ITEMS
    finally:
        store.delete_table(target_table)
        store.close()


@pytest.mark.slow
def test_processes_2_copies_every_item(pg_source: tuple[str, str]) -> None:
    from storeswap.migrate.distributed import copy_table_on
    from storeswap.migrate.engine import open_engine

    url, table = pg_source
    target_table = f"engdst_{uuid.uuid4().hex[:8]}"
    with open_engine("processes:2") as engine:
        assert engine.workers == 2
        report = copy_table_on(engine, url, url, table, target_table=target_table, state_url=url, segments=4,
                               batch=1000)
    assert report.complete and report.items == ITEMS and report.items_this_run == ITEMS
    _verify_and_drop(url, table, target_table)


@pytest.mark.slow
def test_dask_scheduler_survives_a_killed_worker(pg_source: tuple[str, str]) -> None:
    from storeswap.connect import open_store
    from storeswap.migrate.copy import copy_identity
    from storeswap.migrate.distributed import copy_table_on
    from storeswap.migrate.engine import DaskProcesses, open_engine
    from storeswap.migrate.shared_state import SharedCopyState

    url, table = pg_source
    target_table = f"engdst_{uuid.uuid4().hex[:8]}"
    segments = 8
    store = open_store(url)
    copy_id = copy_identity(store, store, table, target_table=target_table, segments=segments, batch=250).digest()
    store.close()
    state = SharedCopyState(url, copy_id)
    killed_at: list[int] = []
    seen: list[int] = []

    def progress(n: int) -> None:
        seen.append(n)

    with DaskProcesses(2) as cluster:
        victim = cluster.workers[0]

        def killer() -> None:
            # Kill one worker mid-copy: once some pages are checkpointed, well before the end.
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                try:
                    total, _ = state.totals()
                except Exception:  # the checkpoint table may not exist yet
                    total = 0
                if total >= ITEMS // 10:
                    victim.kill()
                    killed_at.append(total)
                    return
                time.sleep(0.05)

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        with open_engine(cluster.engine) as engine:
            report = copy_table_on(engine, url, url, table, target_table=target_table, state_url=url,
                                   segments=segments, batch=250, progress=progress)
            t.join()
            assert victim.poll() is not None, "the worker was not killed"
            # verify's bucket digests as tasks on the surviving worker: the same report as on threads
            from storeswap.migrate import verify_tables
            from storeswap.migrate.distributed import digests_on

            store = open_store(url)
            on_engine = verify_tables(store, store, table, target_table, digests=digests_on(engine, url, url))
            on_threads = verify_tables(store, store, table, target_table)
            store.close()
            assert on_engine.identical and on_engine.source_items == ITEMS
            assert (on_engine.source_digest, on_engine.target_digest) == (
                on_threads.source_digest,
                on_threads.target_digest,
            )
    state.close()
    assert killed_at and killed_at[0] < ITEMS, "the kill came after the copy had finished"
    assert report.complete and report.items == ITEMS
    assert sum(seen) == ITEMS  # progress aggregated from the workers' checkpoints
    _verify_and_drop(url, table, target_table)  # 0 lost, 0 duplicated


@pytest.mark.slow
def test_a_dynamodb_source_with_thousands_of_segments() -> None:
    """Segments are units of work, not threads: 2,000 segments of a DynamoDB (moto) table on 8 threads."""
    import attrs

    from storeswap.adapters.memory import MemoryStore
    from storeswap.backends.dynamodb import provision
    from storeswap.connect import open_store
    from storeswap.migrate import copy_table, verify_tables
    from storeswap.migrate.throughput import SPEC

    source = open_store(str(provision()))
    table = f"segs_{uuid.uuid4().hex[:8]}"
    source.create_table(attrs.evolve(SPEC, name=table))
    try:
        source.bulk_put(table, bulk_items(600, size=200))
        target = MemoryStore()
        report = copy_table(source, target, table, segments=2000, workers=8, batch=100)
        assert report.complete and report.items == 600 and report.workers == 8
        vr = verify_tables(source, target, table, segments=2000)
        assert vr.identical and vr.target_items == 600
    finally:
        source.delete_table(table)
        source.close()
