"""PostgreSQL change log and TTL sweeper: atomic with the write (S10), ordered under concurrency (S5-S7),
durable across store instances, the TTL index, bulk loads, and a consumer killed with SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url() -> str:
    from storeswap.backends.postgres import provision

    return provision()


@pytest.fixture(scope="module")
def store(url: str) -> Iterator[Any]:
    from storeswap.adapters.postgres import PostgresStore

    s = PostgresStore(url, pool_size=12)
    yield s
    s.close()


@pytest.fixture
def table(store: Any) -> Iterator[str]:
    name = f"log-{uuid.uuid4().hex[:12]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), KeyAttribute("sk"), ttl_attribute="exp", stream="NEW_AND_OLD_IMAGES"))
    yield name
    store.delete_table(name)


def _all(store: Any, table: str, after: str | None = None) -> list[Any]:
    return list(store.iter_changes(table, after=after))


def test_a_rolled_back_write_has_no_record_and_a_committed_one_has(store: Any, table: str) -> None:
    physical = store.physical_table(table)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    with psycopg.connect(store.conninfo) as conn, conn.transaction(force_rollback=True):
        conn.execute(f'DELETE FROM "{physical}"')
        rows = conn.execute("SELECT count(*) FROM storeswap_changes").fetchone()
        assert rows is not None
    assert [r.kind for r in _all(store, table)] == ["INSERT"]
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute(f'DELETE FROM "{physical}"')  # a writer that knows nothing of streams still records
    assert [r.kind for r in _all(store, table)] == ["INSERT", "REMOVE"]


def test_concurrent_writers_never_let_a_reader_skip_a_record(store: Any, table: str) -> None:
    """Readers checkpoint while writers commit: the per-shard counters keep commit order = sequence order."""
    stop = threading.Event()
    written: dict[str, int] = {}
    lock = threading.Lock()

    def writer(w: int) -> None:
        i = 0
        while not stop.is_set() and i < 60:
            pk = f"p{random.randrange(8)}"  # few partitions: the same shards, contended
            store.update(table, {"pk": pk, "sk": f"w{w}"}, "SET n = if_not_exists(n, :z) + :one",
                         values={":z": 0, ":one": 1})
            with lock:
                written[f"{pk}/w{w}"] = written.get(f"{pk}/w{w}", 0) + 1
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    seen: dict[str, list[Decimal]] = {}
    position = None
    while True:
        alive = any(t.is_alive() for t in threads)
        page = store.changes(table, after=position, limit=7)
        for r in page.records:
            seen.setdefault(f"{r.keys['pk']}/{r.keys['sk']}", []).append(r.new_image["n"])
        position = page.position
        if not page.records and not alive:
            break
    for t in threads:
        t.join()
    # Every counter value 1..n exactly once, in order: nothing skipped, nothing repeated.
    assert {k: v for k, v in seen.items()} == {k: [Decimal(i) for i in range(1, n + 1)] for k, n in written.items()}


def test_positions_are_durable_across_store_instances(url: str, store: Any, table: str) -> None:
    from storeswap.adapters.postgres import PostgresStore

    store.put(table, {"pk": "a", "sk": "1"})
    position = store.changes(table).position
    store.put(table, {"pk": "a", "sk": "2"})
    with PostgresStore(url, pool_size=1) as other:
        assert [r.keys["sk"] for r in _all(other, table, after=position)] == ["2"]


def test_the_sweep_walks_the_ttl_index(store: Any, table: str) -> None:
    store.bulk_put(table, [{"pk": f"p{i}", "sk": "1", "exp": 10 if i % 50 == 0 else 10**9} for i in range(2000)])
    physical = store.physical_table(table)
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute(f'ANALYZE "{physical}"')
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                f'EXPLAIN SELECT ttl, bucket, pk, sk, item FROM "{physical}" WHERE ttl IS NOT NULL'
                " AND ttl >= -1000 AND ttl <= 100 ORDER BY ttl, bucket, pk, sk LIMIT 1000"
            ).fetchall()
        )
    assert f"{physical}_ttl" in plan and "Seq Scan" not in plan
    assert store.expire(table, now=100) == 40
    removes = [r for r in _all(store, table) if r.kind == "REMOVE"]
    assert len(removes) == 40 and all(r.by_system for r in removes)


def test_bulk_load_records_nothing_and_bulk_put_records_every_item(store: Any, table: str) -> None:
    """A migration's load (bulk_load) stays out of the change log; bulk_put is an application write (S5)."""
    store.bulk_load(table, [{"pk": f"p{i}", "sk": "1"} for i in range(10)])
    assert _all(store, table) == []
    store.bulk_put(table, [{"pk": f"q{i}", "sk": "1"} for i in range(10)])
    assert sorted(r.keys["pk"] for r in _all(store, table)) == sorted(f"q{i}" for i in range(10))
    # A bulk_put over loaded items records their changes too (the direct COPY fails, the upsert path records).
    store.bulk_put(table, [{"pk": f"p{i}", "sk": "1", "n": 1} for i in range(3)])
    assert sorted(r.keys["pk"] for r in _all(store, table) if r.kind == "MODIFY") == ["p0", "p1", "p2"]


def test_enabling_ttl_fills_the_column_for_existing_items(store: Any) -> None:
    name = f"ttl-{uuid.uuid4().hex[:12]}"
    store.create_table(TableSpec(name, KeyAttribute("pk")))
    try:
        store.put(name, {"pk": "old", "exp": 5})
        store.put(name, {"pk": "text", "exp": "5"})
        store.set_ttl(name, "exp")
        store.put(name, {"pk": "new", "exp": 6})
        assert store.expire(name, now=10) == 2
        assert [i["pk"] for i in store.scan_all(name)] == ["text"]
        store.set_ttl(name, None)
        store.put(name, {"pk": "later", "exp": 1})
        assert sorted(i["pk"] for i in store.scan_all(name)) == ["later", "text"]
    finally:
        store.delete_table(name)


def test_the_sweep_spares_an_item_updated_after_it_was_read(store: Any, table: str) -> None:
    """Compare-and-delete: a concurrent TTL extension between the index read and the delete wins."""
    from storeswap.adapters.postgres import changelog

    store.put(table, {"pk": "a", "sk": "1", "exp": 5})
    original = changelog.decode_item

    def decode_then_race(blob: bytes) -> Any:
        item = original(blob)
        if item.get("exp") == Decimal(5):  # the sweeper has just read the expired item: extend its TTL now
            store.update(table, {"pk": "a", "sk": "1"}, "SET exp = :e", values={":e": 10**9})
        return item

    changelog.decode_item = decode_then_race  # type: ignore[assignment]
    try:
        assert store.expire(table, now=100) == 0
    finally:
        changelog.decode_item = original  # type: ignore[assignment]
    assert store.get(table, {"pk": "a", "sk": "1"})["exp"] == Decimal(10**9)


_CONSUMER = r"""
import json, os, sys, time
from storeswap.adapters.postgres import PostgresStore
url, table, out = sys.argv[1:4]
store = PostgresStore(url, pool_size=1)
# The output file holds both the processed records and, after each, the checkpoint ("#position"):
# one atomic rename per record makes processing and checkpointing a single step.
with open(out) as f:
    done = f.read()
marks = [ln[1:] for ln in done.splitlines() if ln.startswith("#")]
position = marks[-1] if marks else None
while True:
    page = store.changes(table, after=position, limit=3)
    for r in page.records:
        line = json.dumps([str(r.keys["pk"]), r.kind, None if r.new_image is None else str(r.new_image["v"])])
        done += line + "\n#" + r.position + "\n"
        with open(out + ".tmp", "w") as f:
            f.write(done)
        os.replace(out + ".tmp", out)
        position = r.position
    if not page.records:
        time.sleep(0.02)
"""


def test_a_consumer_killed_with_sigkill_resumes_without_loss_or_repeat(
    url: str, store: Any, table: str, tmp_path: Path
) -> None:
    """Done when #2: kill -9 the reader at random points under concurrent writers; resume from its checkpoint.

    Each kill comes after the consumer has processed a random number of new records, not after a fixed
    time: a consumer that takes three seconds to start on a loaded machine is still killed mid-stream, and
    the writers keep writing until the third kill, so every kill lands while they run.
    """
    out = tmp_path / "out.txt"
    out.write_text("")
    expected: dict[str, list[list[Any]]] = {}
    stop = threading.Event()

    def writer(w: int) -> None:
        j = 0
        while not stop.is_set() and j < 2000:
            for i in range(3):
                pk = f"w{w}-{i}"
                kind = "INSERT" if j == 0 else "MODIFY"
                store.put(table, {"pk": pk, "sk": "1", "v": j})
                expected.setdefault(pk, []).append([pk, kind, str(j)])
            j += 1
            time.sleep(0.01)

    def processed() -> int:
        return sum(1 for ln in out.read_text().splitlines() if not ln.startswith("#"))

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 90
        while processed() < count:
            assert time.monotonic() < deadline, f"the consumer did not reach {count} records ({processed()})"
            time.sleep(0.01)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), *sys.path])}
    rng = random.Random(7)
    kills = 0
    try:
        while kills < 3:
            proc = subprocess.Popen([sys.executable, "-c", _CONSUMER, url, table, str(out)], env=env)
            try:
                wait_for(processed() + rng.randint(1, 8))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            kills += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert all(len(v) > 1 for v in expected.values()), "the writers stopped before the consumer was killed"
    proc = subprocess.Popen([sys.executable, "-c", _CONSUMER, url, table, str(out)], env=env)
    try:
        wait_for(sum(len(v) for v in expected.values()))
        time.sleep(0.2)  # a consumer that repeats a record would write it after the last expected one
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    seen: dict[str, list[list[Any]]] = {}
    for ln in out.read_text().splitlines():
        if not ln.startswith("#"):
            rec = json.loads(ln)
            seen.setdefault(rec[0], []).append(rec)
    assert seen == expected


def test_transactions_across_shards_under_contention_all_record(store: Any, table: str) -> None:
    """Two-item transactions over disjoint items of the same two shards, in opposite orders: the shard
    counters are the only shared locks, so deadlocks happen and must be retried, never lose a record."""
    from storeswap.core.changes import shard_of
    from storeswap.core.port import TxUpdate

    in_shard: dict[int, list[str]] = {0: [], 1: []}
    i = 0
    while min(len(v) for v in in_shard.values()) < 6:
        shard = shard_of(f"k{i}", 4)
        if shard in in_shard:
            in_shard[shard].append(f"k{i}")
        i += 1
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        pair = [in_shard[0][w], in_shard[1][w]]
        first, second = pair if w % 2 else pair[::-1]
        try:
            for _ in range(15):
                store.transact_write(
                    [
                        TxUpdate(table, {"pk": first, "sk": "1"}, "ADD n :one", values={":one": 1}),
                        TxUpdate(table, {"pk": second, "sk": "1"}, "ADD n :one", values={":one": 1}),
                    ]
                )
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    records = _all(store, table)
    for w in range(6):
        for pk in (in_shard[0][w], in_shard[1][w]):
            values = [r.new_image["n"] for r in records if r.keys["pk"] == pk]
            assert values == [Decimal(n) for n in range(1, 16)]
