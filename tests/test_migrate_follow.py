"""``migrate --follow``: copy while a writer runs, replay the change stream, resume after a stop, refuse gaps."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeswap import ConfigurationError, KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import ConditionFailed, TransactionCanceled, TransactionConflict
from storeswap.core.port import ItemStore
from storeswap.core.requests import BatchDelete, TxDelete, TxPut
from storeswap.migrate import copy_table, verify_tables
from storeswap.migrate.follow import FollowPositionExpired, follow_changes, start_follow

KEYS = 120


def _spec(name: str, stream: Any = "NEW_AND_OLD_IMAGES") -> TableSpec:
    return TableSpec(name, KeyAttribute("pk", "S"), KeyAttribute("sk", "N"), stream=stream)


def _key(i: int) -> dict[str, Any]:
    return {"pk": f"p{i % 17}", "sk": Decimal(i)}


def _seed(store: ItemStore, table: str, view: Any = "NEW_AND_OLD_IMAGES") -> None:
    store.create_table(_spec(table, view))
    store.bulk_put(table, [{**_key(i), "n": Decimal(0), "tag": "seed"} for i in range(KEYS)])


class Writer:
    """Puts, conditional updates, deletes and transactions on random keys until stopped."""

    def __init__(self, store: ItemStore, table: str, seed: int) -> None:
        self.store, self.table = store, table
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.ops = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _one(self) -> None:
        r, i, j = self.rng.random(), self.rng.randrange(KEYS), self.rng.randrange(KEYS)
        if r < 0.35:
            self.store.put(self.table, {**_key(i), "n": Decimal(self.rng.randrange(100)), "tag": "put"})
        elif r < 0.65:
            with contextlib.suppress(ConditionFailed):
                self.store.update(self.table, _key(i), "SET n = n + :one REMOVE tag", condition="attribute_exists(n)",
                                  values={":one": Decimal(1)})  # fmt: skip
        elif r < 0.85:
            self.store.delete(self.table, _key(i))
        elif i != j:
            self.store.transact_write([
                TxPut(self.table, {**_key(i), "n": Decimal(7), "tag": "tx"}), TxDelete(self.table, _key(j)),
            ])  # fmt: skip

    def _run(self) -> None:
        while not self.stop.is_set():
            # A transaction that met a concurrent write is refused whole; the writer just goes on.
            with contextlib.suppress(TransactionCanceled, TransactionConflict):
                self._one()
            self.ops += 1

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


class Recording:
    """A target that records, per key, the images written (None: deleted), to check order."""

    def __init__(self, store: ItemStore) -> None:
        self._store = store
        self.applied: dict[tuple[Any, ...], list[Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def bulk_put(self, table: str, items: Any) -> int:
        items = list(items)
        n = self._store.bulk_put(table, items)
        for it in items:
            self.applied.setdefault((it["pk"], it["sk"]), []).append(dict(it))
        return n

    bulk_load = bulk_put  # the copy and the replay write with bulk_load

    def batch_write(self, requests: Any) -> None:
        self._store.batch_write(requests)
        for r in requests:
            assert isinstance(r, BatchDelete)
            self.applied.setdefault((r.key["pk"], r.key["sk"]), []).append(None)


def _stream_images(source: ItemStore, table: str, start: str) -> dict[tuple[Any, ...], list[Any]]:
    out: dict[tuple[Any, ...], list[Any]] = {}
    for rec in source.iter_changes(table, after=start):
        out.setdefault((rec.keys["pk"], rec.keys["sk"]), []).append(None if rec.kind == "REMOVE" else rec.new_image)
    return out


def _is_subsequence(applied: list[Any], stream: list[Any]) -> bool:
    it = iter(stream)
    return all(any(a == s for s in it) for a in applied)


def _run_follow(
    source: ItemStore, target: ItemStore, table: str, tt: str, state: Path, chunks: int, replay_target: Any = None
) -> tuple[str, int]:
    """Copy under a writer, replay in bounded runs (each one a stopped follower) under the writer, then catch up.

    Returns the start position and the number of records replayed.
    """
    kw: dict[str, Any] = {"target_table": tt, "segments": 3, "batch": 20, "state_path": state}
    start = start_follow(source, target, table, **kw)
    replay_target = replay_target or target
    with Writer(source, table, seed=1) as w:
        copy_table(source, target, table, workers=3, **kw)
        for _ in range(chunks):
            r = follow_changes(source, replay_target, table, max_records=37, page_size=25, **kw)
            assert r.records == 37  # the writer keeps the stream ahead: each run stops at its bound
    final = follow_changes(source, replay_target, table, until_caught_up=True, **kw)
    assert final.caught_up and all(v == 0 for v in final.lag_records.values())
    assert w.ops > 0
    total = sum(len(v) for v in _stream_images(source, table, start).values())
    # Every record since the start position was applied once by the checkpoints: none lost, none counted twice.
    assert final.records_total == total
    return start, total


def test_memory_to_memory_follow_with_writer_and_restarts(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "orders")
    rec = Recording(target)
    start, total = _run_follow(source, target, "orders", "copy", tmp_path / "state.json", chunks=4, replay_target=rec)
    assert total > 4 * 37
    report = verify_tables(source, target, "orders", "copy")
    assert report.identical, report
    # Per key, the images the replay wrote are the stream's images in stream order (a subsequence: within a
    # page only a key's last record is applied), ending with the key's last one; no key was written out of order.
    stream = _stream_images(source, "orders", start)
    assert rec.applied and set(rec.applied) <= set(stream)
    for key, applied in rec.applied.items():
        assert _is_subsequence(applied, stream[key]), key
        assert applied[-1] == stream[key][-1], key


def test_follow_refuses_a_table_without_a_stream(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "plain", view=None)
    with pytest.raises(ConfigurationError, match="no change stream"):
        start_follow(source, target, "plain", state_path=tmp_path / "s.json")
    assert not target.table_exists("plain")


def test_follow_refuses_a_copy_started_without_it(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "orders")
    state = tmp_path / "s.json"
    copy_table(source, target, "orders", target_table="copy", state_path=state, batch=20)
    with pytest.raises(ConfigurationError, match="started without --follow"):
        start_follow(source, target, "orders", target_table="copy", state_path=state, batch=20)


def test_expired_position_is_a_typed_error_not_a_skip(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "orders")
    kw: dict[str, Any] = {"target_table": "copy", "state_path": tmp_path / "s.json", "batch": 20}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    source.put("orders", {**_key(1), "n": Decimal(5)})
    source.trim_changes("orders", retention_s=0)
    with pytest.raises(FollowPositionExpired, match="--restart"):
        follow_changes(source, target, "orders", until_caught_up=True, **kw)
    assert target.get("copy", _key(1))["n"] == 0  # nothing applied past the gap


def test_keys_only_stream_rereads_the_source(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "orders", view="KEYS_ONLY")
    kw: dict[str, Any] = {"target_table": "copy", "state_path": tmp_path / "s.json", "batch": 20}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    source.put("orders", {**_key(1), "n": Decimal(5), "tag": "new"})
    source.delete("orders", _key(2))
    r = follow_changes(source, target, "orders", until_caught_up=True, workers=1, **kw)
    assert (r.records, r.puts, r.deletes) == (2, 1, 1)
    assert verify_tables(source, target, "orders", "copy").identical


@pytest.mark.slow
def test_postgres_to_memory_follow_with_writer(tmp_path: Path) -> None:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    source = PostgresStore(provision(), pool_size=4)
    target = MemoryStore()
    name = f"fol_{uuid.uuid4().hex[:10]}"
    try:
        _seed(source, name)
        _, total = _run_follow(source, target, name, "copy", tmp_path / "s.json", chunks=3)
        assert total > 3 * 37
        assert verify_tables(source, target, name, "copy").identical
    finally:
        if source.table_exists(name):
            source.delete_table(name)
        source.close()


def _state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@pytest.mark.slow
def test_dynamodb_to_memory_follow_with_writer(tmp_path: Path) -> None:
    """DynamoDB Streams (a moto server) as the source: sequence numbers are not dense, the replay is the same."""
    pytest.importorskip("moto")
    from storeswap.backends.dynamodb import provision
    from storeswap.connect import open_store

    source = open_store(provision())
    target = MemoryStore()
    name = f"fol_{uuid.uuid4().hex[:10]}"
    try:
        _seed(source, name)
        _, total = _run_follow(source, target, name, "copy", tmp_path / "s.json", chunks=2)
        assert total > 2 * 37
        assert verify_tables(source, target, name, "copy").identical
    finally:
        if source.table_exists(name):
            source.delete_table(name)
        source.close()


def test_status_in_the_checkpoint_reports_lag(tmp_path: Path) -> None:
    """The checkpoint carries the follower's status (lag per shard, records/s) for a reader elsewhere."""
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "orders")
    state = tmp_path / "s.json"
    kw: dict[str, Any] = {"target_table": "copy", "state_path": state, "batch": 20}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    for i in range(100):
        source.put("orders", {**_key(i), "n": Decimal(i), "tag": "later"})
    r = follow_changes(source, target, "orders", max_records=30, page_size=10, **kw)
    status = _state(state)["follow"]["status"]
    assert (r.records, r.caught_up, sum(r.lag_records.values())) == (30, False, 70)
    assert status["lag_records"] == r.lag_records and status["records_this_run"] == 30 and not status["caught_up"]
    # Seconds per shard: the age of each shard's oldest pending record; 0 where a shard has none pending.
    by_shard = status["lag_seconds_by_shard"]
    assert set(by_shard) == set(r.lag_records)
    for k, age in by_shard.items():  # a pending record's age is known (>= 0: timestamps are coarse); none pending is 0
        assert age is not None and age >= 0 and (r.lag_records[k] > 0 or age == 0), (by_shard, r.lag_records)
    r = follow_changes(source, target, "orders", until_caught_up=True, **kw)
    status = _state(state)["follow"]["status"]
    assert (r.records, r.records_total, r.caught_up, r.lag_seconds) == (70, 100, True, 0.0)
    assert status["caught_up"] and set(status["lag_records"].values()) == {0}
    assert set(status["lag_seconds_by_shard"].values()) == {0.0}
    assert verify_tables(source, target, "orders", "copy").identical


def test_stop_event_ends_a_follower_that_waits_for_changes(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "orders")
    kw: dict[str, Any] = {"target_table": "copy", "state_path": tmp_path / "s.json", "batch": 20}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    stop = threading.Event()
    applied = threading.Event()
    out: list[Any] = []
    follower = threading.Thread(
        target=lambda: out.append(
            follow_changes(source, target, "orders", stop=stop, poll_s=0.01, progress=lambda n: applied.set(), **kw)
        )
    )
    follower.start()
    source.put("orders", {**_key(3), "n": Decimal(9)})
    assert applied.wait(60)
    stop.set()
    follower.join(60)
    assert not follower.is_alive() and out[0].records == 1 and not out[0].caught_up
    assert target.get("copy", _key(3))["n"] == 9


class ReadOnlyEndStore(MemoryStore):
    """A memory store whose shard end is found by reading the shard from its trim horizon (as the DynamoDB adapter
    reads a quiet shard), with sequences treated as not dense, counting the records its shard reads return."""

    kind = "sparse"

    def __init__(self) -> None:
        super().__init__()
        self.records_read = 0

    def _read_shard(self, spec: Any, info: Any, shard: Any, after: str | None, limit: int) -> Any:
        read = super()._read_shard(spec, info, shard, after, limit)
        self.records_read += len(read.records)
        return read

    def _shard_end(self, spec: Any, info: Any, shard: Any) -> str | None:
        position: str | None = None
        while True:
            read = self._read_shard(spec, info, shard, position, 1000)
            if not read.records:
                return position
            position = read.after


def test_lag_on_a_stream_without_dense_sequences_reads_from_the_followers_position(tmp_path: Path) -> None:
    """The status's lag must not re-read the whole retained stream (DynamoDB: up to 24 hours) every second.

    Where sequences are not dense the lag per shard is only "0 or unknown", which reading on from the follower's
    own position answers; finding the shard's end (``latest_position``) reads the stream from its trim horizon.
    """
    source, target = ReadOnlyEndStore(), MemoryStore()
    _seed(source, "orders")
    source.bulk_put("orders", [{"pk": "bulk", "sk": Decimal(i), "n": Decimal(0)} for i in range(3000)])
    kw: dict[str, Any] = {"target_table": "copy", "state_path": tmp_path / "s.json", "batch": 500}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    for i in range(10):
        source.put("orders", {**_key(i), "n": Decimal(i), "tag": "later"})
    source.records_read = 0
    r = follow_changes(source, target, "orders", until_caught_up=True, **kw)
    assert (r.records, r.caught_up) == (10, True) and set(r.lag_records.values()) == {0}
    assert source.records_read < 100, source.records_read  # the 10 new records (and a probe), not the 3,130 before
    # Two records pending, one applied: the lag is unknown (None), not 0.
    source.put("orders", {**_key(1), "n": Decimal(99)})
    source.put("orders", {**_key(18), "n": Decimal(99)})
    r = follow_changes(source, target, "orders", max_records=1, page_size=1, **kw)
    assert r.records == 1 and r.lag_records and set(r.lag_records.values()) == {None}
    r = follow_changes(source, target, "orders", until_caught_up=True, **kw)
    assert (r.records, r.records_total) == (1, 12) and set(r.lag_records.values()) == {0}
    assert verify_tables(source, target, "orders", "copy").identical


class _LagReadFails(MemoryStore):
    """A source whose stream end cannot be read (throttled) while its pages still can."""

    def latest_position(self, table: str) -> str:
        from storeswap.core.errors import Throttled

        raise Throttled("latest_position throttled")


def test_a_failed_lag_read_is_reported_in_the_status_and_does_not_stop_the_replay(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source, "tbl")
    state = tmp_path / "s.json"
    start_follow(source, target, "tbl", target_table="copy", state_path=state)
    copy_table(source, target, "tbl", target_table="copy", state_path=state)
    for i in range(30):
        source.put("tbl", {**_key(i), "n": Decimal(i + 1), "tag": "after"})
    flaky = _LagReadFails()
    flaky.__dict__.update(source.__dict__)  # the same tables and stream, read through the failing subclass
    report = follow_changes(flaky, target, "tbl", target_table="copy", state_path=state, until_caught_up=True)
    assert report.records == 30
    status = json.loads(state.read_text())["follow"]["status"]
    assert "Throttled" in status["lag_error"] and status["lag_records"] == {}
    assert verify_tables(source, target, "tbl", "copy").identical
