"""``--max-rcu``: the token bucket's arithmetic on a fake clock, and scans of a moto table paced by it.

No test measures wall time: the bucket runs on a fake clock whose ``sleep``
advances it, and the moto runs count requests, units charged and waits.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from storeswap import ConfigurationError, KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.connect import open_store
from storeswap.core.values import item_size
from storeswap.migrate import copy_table, verify_tables
from storeswap.migrate.engine import ThreadEngine
from storeswap.migrate.read_capacity import (
    TokenBucket,
    estimate_read_units,
    limit_read_capacity,
    parse_max_rcu,
    per_worker_rcu,
)
from storeswap.migrate.sources import StoreSource


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


@pytest.mark.parametrize("bad", [0, -1, "0", "-5", "abc", "", "nan", "inf", float("nan"), None, True, [3]])
def test_bad_max_rcu_is_one_typed_error(bad: Any) -> None:
    with pytest.raises(ConfigurationError, match="--max-rcu takes a positive number"):
        parse_max_rcu(bad)


def test_good_values_and_the_split_per_worker() -> None:
    assert parse_max_rcu("250") == 250.0 and parse_max_rcu(0.5) == 0.5 and parse_max_rcu(" 12.5 ") == 12.5
    assert per_worker_rcu(1000, 4) == 250.0 and per_worker_rcu(10, 3) == pytest.approx(10 / 3)
    assert per_worker_rcu(10, 0) == 10.0


def test_bucket_arithmetic_on_a_fake_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    assert bucket.tokens == 10  # one second's worth to start
    assert bucket.acquire() == 0.0
    bucket.charge(25)  # one large response: 15 units of debt
    assert bucket.tokens == -15
    waited = bucket.acquire()  # pays the debt back at 10/s, plus a sliver so the bucket holds more than 0
    assert waited == pytest.approx(1.5, abs=0.001) and clock.now == pytest.approx(1001.5, abs=0.001)
    clock.now += 100  # idle time refills only up to the burst
    assert bucket.tokens == 10
    assert (bucket.stats.requests, bucket.stats.charged, bucket.stats.waits) == (2, 25, 1)
    with pytest.raises(ValueError):
        bucket.charge(-1)


def test_a_long_run_is_held_at_the_rate() -> None:
    """200 reads of 5 units at 20 units/s: 1000 units take (1000 - 20 burst) / 20 = 49 s of fake time."""
    clock = FakeClock()
    bucket = TokenBucket(20, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(200):
        bucket.acquire()
        bucket.charge(5)
    # The last charge is not waited for: the time is that of the first 995 units beyond the burst.
    assert clock.now - start == pytest.approx((995 - 20) / 20, abs=0.1)
    assert bucket.stats.charged == 1000 and bucket.stats.waits == 200 - 4  # the burst covers the first four


def test_threads_share_one_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(50, clock=clock, sleep=clock.sleep)

    def reader() -> None:
        for _ in range(25):
            bucket.acquire()
            bucket.charge(2)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bucket.stats.charged == 200 and bucket.stats.requests == 100
    # Four threads together, not four times the rate: 200 units at 50/s, less the burst, less the last charge.
    assert clock.now - 1000.0 >= (200 - 50 - 2) / 50 - 0.01


def test_estimate_is_4_kb_per_unit_half_when_eventually_consistent() -> None:
    item = {"pk": "a" * 4094}
    assert item_size(item) == 4096
    assert estimate_read_units([item], consistent=True) == 1.0
    assert estimate_read_units([item, {"pk": "b"}], consistent=True) == 2.0
    assert estimate_read_units([item, {"pk": "b"}], consistent=False) == 1.0
    assert estimate_read_units([], consistent=True) == 1.0 and estimate_read_units([], consistent=False) == 0.5


def test_only_a_dynamodb_source_can_be_capped() -> None:
    with pytest.raises(ConfigurationError, match="dynamodb"):
        limit_read_capacity(StoreSource(MemoryStore()), 100)


# --------------------------------------------------------------------- moto

ITEMS = 120
ITEM_BYTES = 1000


@pytest.fixture(scope="module")
def dynamo_table() -> Iterator[tuple[str, str, MemoryStore]]:
    """A moto DynamoDB table of ITEMS items of exactly ITEM_BYTES bytes each, and a memory copy of it."""
    from storeswap.backends.dynamodb import start_moto

    url = start_moto()
    table = f"rcu_{uuid.uuid4().hex[:8]}"
    spec = TableSpec(table, KeyAttribute("pk"))
    items = []
    for i in range(ITEMS):
        pk = f"k{i:04d}"
        item = {"pk": pk, "pad": ""}
        item["pad"] = "x" * (ITEM_BYTES - item_size(item))
        assert item_size(item) == ITEM_BYTES
        items.append(item)
    store = open_store(url)
    store.create_table(spec)
    store.bulk_put(table, items)
    store.close()
    reference = MemoryStore()
    reference.create_table(spec)
    reference.bulk_put(table, items)
    yield url, table, reference


class ScanLog:
    """Every Scan answered: the ConsumedCapacity units and the item count it carried."""

    def __init__(self, client: Any, *, strip_capacity: bool = False) -> None:
        self.calls: list[tuple[float | None, int]] = []
        self._strip = strip_capacity
        self._lock = threading.Lock()
        client.meta.events.register("after-call.dynamodb.Scan", self._after)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kw: Any) -> None:
        units = (parsed.get("ConsumedCapacity") or {}).get("CapacityUnits")
        if self._strip:
            parsed.pop("ConsumedCapacity", None)
        with self._lock:
            self.calls.append((units, len(parsed.get("Items", ()))))


def _record_params(client: Any, into: list[dict[str, Any]]) -> None:
    def before(params: dict[str, Any], **kw: Any) -> None:
        into.append(dict(params))

    client.meta.events.register("provide-client-params.dynamodb.Scan", before)


def test_moto_scans_are_paced_by_consumed_capacity(dynamo_table: tuple[str, str, MemoryStore]) -> None:
    url, table, reference = dynamo_table
    store = open_store(url)
    sent: list[dict[str, Any]] = []
    _record_params(store.client, sent)
    log = ScanLog(store.client)
    clock = FakeClock()
    source = StoreSource(store)
    limiter = limit_read_capacity(source, 2, clock=clock, sleep=clock.sleep)
    target = MemoryStore()
    # One reader thread, so the arithmetic is exact (threads share the bucket: test_threads_share_one_bucket).
    copy_table(source, target, table, segments=3, workers=1, batch=10)
    assert verify_tables(reference, target, table).identical
    calls = len(log.calls)
    assert calls >= ITEMS // 10 and all(p.get("ReturnConsumedCapacity") == "TOTAL" for p in sent)
    # moto answers every Scan with a ConsumedCapacity (a flat 1.0 units, whatever the size): that is charged.
    returned = [u for u, _ in log.calls]
    assert None not in returned
    st = limiter.stats
    assert st.requests == calls and st.charged == pytest.approx(sum(returned)) and st.estimated == 0
    # At 2 units/s with a 2-unit burst every request after the first two waited, and the fake clock moved
    # by the units charged beyond the burst before the last request (whose charge is never waited for).
    assert st.waits == calls - 2
    assert clock.now - 1000.0 == pytest.approx((sum(returned[:-1]) - 2) / 2, abs=0.01)
    store.close()


def test_without_consumed_capacity_the_size_estimate_is_charged(dynamo_table: tuple[str, str, MemoryStore]) -> None:
    url, table, reference = dynamo_table
    store = open_store(url)
    log = ScanLog(store.client, strip_capacity=True)  # as an endpoint that returns none
    clock = FakeClock()
    source = StoreSource(store)
    limiter = limit_read_capacity(source, 1000, clock=clock, sleep=clock.sleep)
    target = MemoryStore()
    copy_table(source, target, table, segments=2, workers=1, batch=25)
    assert verify_tables(reference, target, table).identical
    # The copy reads strongly consistent: one unit per 4 KB of the page, rounded up, at least one.
    expected = sum(max(1, math.ceil(n * ITEM_BYTES / 4096)) for _, n in log.calls)
    assert limiter.stats.charged == expected and limiter.stats.estimated == expected
    assert limiter.stats.waits == 0  # 1000 RCU/s is far above what this copy needs
    store.close()


class RecordingEngine(ThreadEngine):
    """A thread engine that says it has ``processes`` worker processes and keeps the tasks it ran."""

    def __init__(self, processes: int) -> None:
        super().__init__(2)
        self._processes = processes
        self.tasks: list[Any] = []

    @property
    def processes(self) -> int:
        return self._processes

    def run(self, fn: Any, args: Any, *, tick: Any = None) -> list[Any]:
        self.tasks.extend(args)
        return super().run(fn, args, tick=tick)


def test_distributed_tasks_carry_each_workers_share(dynamo_table: tuple[str, str, MemoryStore]) -> None:
    from storeswap.backends.postgres import provision
    from storeswap.migrate.distributed import copy_table_on, digests_on

    url, table, reference = dynamo_table
    pg = str(provision())
    target_table = f"rcu_pg_{uuid.uuid4().hex[:8]}"
    engine = RecordingEngine(processes=4)
    report = copy_table_on(engine, url, pg, table, target_table=target_table, state_url=pg, segments=4, batch=20,
                           max_rcu=400)  # fmt: skip
    assert report.items == ITEMS
    assert [t.max_rcu for t in engine.tasks] == [100.0] * 4
    dst = open_store(pg)
    try:
        assert verify_tables(reference, dst, table, target_table).identical
        engine.tasks.clear()
        runner = digests_on(engine, url, pg, max_rcu=400)
        spec = reference.describe_table(table)
        runner("source", table, spec, 16, 2, 50)
        runner("target", target_table, spec, 16, 2, 50)
        # The cap is on the DynamoDB source: its digest tasks carry the share, the target's none.
        assert [t.max_rcu for t in engine.tasks] == [100.0, 100.0, None, None]
    finally:
        dst.delete_table(target_table)
        dst.close()
    with pytest.raises(ConfigurationError, match="dynamodb"):
        copy_table_on(engine, pg, pg, target_table, target_table="x_" + target_table, state_url=pg, max_rcu=5)


def test_cli_max_rcu(dynamo_table: tuple[str, str, MemoryStore], tmp_path: Any, capsys: Any) -> None:
    url, table, _ = dynamo_table
    base = ["migrate", "--source", url, "--target", "memory://", "--table", table, "--state", str(tmp_path / "s.json")]
    for bad in ("0", "-3", "lots"):
        assert main([*base, "--max-rcu", bad]) == 2
        err = capsys.readouterr().err
        assert "--max-rcu takes a positive number" in err and len(err.strip().splitlines()) == 1
    assert main(["migrate", "--source", "memory://", "--target", "memory://", "--table", "tx", "--max-rcu", "5"]) == 2
    assert "caps reads from a dynamodb:// source" in capsys.readouterr().err
    assert main([*base, "--max-rcu", "100000", "--verify"]) == 0
    out = capsys.readouterr().out
    assert f"copied {ITEMS} items" in out and "IDENTICAL" in out
    assert "read capacity (this process):" in out and "--max-rcu 100000" in out
    assert main(["verify", "--source", url, "--target", url, "--table", table, "--max-rcu", "50000"]) == 0
    assert "read capacity (this process):" in capsys.readouterr().out
    # cutover verifies the source too and takes the same cap (this table has no stream: refused after the cap)
    cut = ["cutover", "--source", url, "--target", url, "--table", table, "--state", str(tmp_path / "none.json")]
    assert main([*cut, "--max-rcu", "lots"]) == 2
    assert "--max-rcu takes a positive number" in capsys.readouterr().err
    assert main([*cut, "--max-rcu", "50000"]) == 2
    assert "has no change stream to follow" in capsys.readouterr().err


@pytest.mark.slow
def test_processes_engine_paces_each_worker(dynamo_table: tuple[str, str, MemoryStore], capsys: Any) -> None:
    """--engine processes:2 --max-rcu: every worker process attaches its own limiter of N / 2 and charges it."""
    from storeswap.backends.postgres import provision
    from storeswap.migrate.distributed import copy_table_on, read_capacity_stats
    from storeswap.migrate.engine import open_engine

    url, table, reference = dynamo_table
    pg = str(provision())
    target_table = f"rcu_proc_{uuid.uuid4().hex[:8]}"
    with open_engine("processes:2") as engine:
        report = copy_table_on(engine, url, pg, table, target_table=target_table, state_url=pg, segments=4,
                               batch=20, max_rcu=100_000)  # fmt: skip
        limiters = engine.client.run(read_capacity_stats)
    dst = open_store(pg)
    try:
        assert report.items == ITEMS and verify_tables(reference, dst, table, target_table).identical
        assert len(limiters) == 2
        rates = [lim["max_rcu"] for found in limiters.values() for lim in found]
        requests = sum(lim["requests"] for found in limiters.values() for lim in found)
        assert set(rates) == {50_000.0} and requests >= ITEMS // 20
    finally:
        dst.delete_table(target_table)
        dst.close()


@pytest.mark.slow
def test_cli_processes_engine_reports_each_workers_share(
    dynamo_table: tuple[str, str, MemoryStore], capsys: Any
) -> None:
    from storeswap.backends.postgres import provision

    url, table, _ = dynamo_table
    pg = str(provision())
    target_table = f"rcu_cli_{uuid.uuid4().hex[:8]}"
    rc = main(["migrate", "--source", url, "--target", pg, "--table", table, "--target-table", target_table,
               "--engine", "processes:2", "--max-rcu", "60000", "--batch", "20"])  # fmt: skip
    out = capsys.readouterr().out
    dst = open_store(pg)
    try:
        assert rc == 0, out
        shares = [line for line in out.splitlines() if line.startswith("read capacity on ")]
        # One line per worker that ran a segment (the scheduler may give all four to one of them).
        assert 1 <= len(shares) <= 2 and all("its share: 30000 RCU/s" in line for line in shares), out
    finally:
        dst.delete_table(target_table)
        dst.close()
