"""``cutover_check`` / ``storeswap cutover``: go only with a caught-up follower and no difference outside the in-flight set."""

from __future__ import annotations

import json
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from broken_store import IndexEmptyStore

from storeswap import ConfigurationError, KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import StoreUnavailable
from storeswap.core.port import ItemStore
from storeswap.core.schema import GlobalIndex
from storeswap.migrate import copy_table
from storeswap.migrate.cutover import CutoverReport, cutover_check
from storeswap.migrate.follow import follow_changes, start_follow
from storeswap.migrate.state import STATE_TABLE

KEYS = 60
FAST: dict[str, Any] = {"quiet_s": 0.2, "poll_s": 0.05}


def _spec(name: str) -> TableSpec:
    return TableSpec(
        name,
        KeyAttribute("pk", "S"),
        KeyAttribute("sk", "N"),
        global_indexes=(GlobalIndex("by_tag", KeyAttribute("tag", "S"), KeyAttribute("n", "N")),),
        stream="NEW_AND_OLD_IMAGES",
    )


def _key(i: int) -> dict[str, Any]:
    return {"pk": f"p{i % 7}", "sk": Decimal(i)}


def _prepare(source: ItemStore, target: ItemStore, table: str, state: Path, tt: str = "copy") -> dict[str, Any]:
    """A followed copy, caught up: returns the keyword arguments that name it."""
    source.create_table(_spec(table))
    source.bulk_put(table, [{**_key(i), "n": Decimal(i), "tag": f"t{i % 3}"} for i in range(KEYS)])
    kw: dict[str, Any] = {"target_table": tt, "segments": 2, "batch": 20, "state_path": state}
    start_follow(source, target, table, **kw)
    copy_table(source, target, table, **kw)
    source.put(table, {**_key(1), "n": Decimal(100), "tag": "after-copy"})
    follow_changes(source, target, table, until_caught_up=True, **kw)
    return kw


def _check(source: ItemStore, target: ItemStore, table: str, kw: dict[str, Any], **extra: Any) -> CutoverReport:
    return cutover_check(
        source, target, table, target_table=kw["target_table"], state_path=kw["state_path"], **{**FAST, **extra}
    )


def test_caught_up_and_identical_is_go(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    r = _check(source, target, "orders", kw)
    assert (r.outcome, r.go, r.reasons) == ("go", True, [])
    assert r.caught_up and r.lag_total == 0 and r.lag_seconds == 0.0 and r.in_flight.count == 0
    assert r.verify is not None and r.verify.identical and [i.name for i in r.verify.indexes] == ["by_tag"]
    assert r.records_replayed == 1
    js = r.to_json()
    assert js["outcome"] == "go" and js["verify"]["identical"] and json.dumps(js)
    assert "GO" in r.summary()


def test_a_missing_item_not_in_flight_is_no_go_naming_it(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    target.delete("copy", _key(5))  # behind the follower's back: no stream record explains it
    r = _check(source, target, "orders", kw)
    assert r.outcome == "no-go" and r.caught_up and r.in_flight.count == 0
    assert [(d["kind"], d["key"]) for d in r.differences if "index" not in d] == [
        ("missing", {"pk": {"S": "p5"}, "sk": {"N": "5"}})
    ]
    assert any("outside the in-flight set" in x and '"p5"' in x for x in r.reasons), r.reasons
    assert "p5" in r.summary()


def test_a_follower_behind_is_no_go_with_lag_and_its_writes_are_in_flight(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    for i in range(5):  # after the follower's checkpoint, and no follower running
        source.put("orders", {**_key(i), "n": Decimal(1000 + i), "tag": "late"})
    source.delete("orders", _key(10))
    r = _check(source, target, "orders", kw, timeout_s=0.3)
    assert r.outcome == "no-go" and not r.caught_up
    assert r.lag_total == 6 and r.lag_seconds is not None and r.lag_seconds >= 0
    assert any("not caught up: 6 record(s)" in x and "did not move" in x for x in r.reasons), r.reasons
    # The changed items differ, but as in-flight items, not as differences.
    assert r.in_flight.count == 6 and r.in_flight.differing == 6
    assert r.differences == [] and not any("outside the in-flight set" in x for x in r.reasons)
    # Once the follower has replayed them: go.
    follow_changes(source, target, "orders", until_caught_up=True, **kw)
    r = _check(source, target, "orders", kw)
    assert r.go, r.reasons
    assert r.records_replayed == 7


def test_waits_for_a_follower_that_catches_up_within_the_timeout(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    for i in range(30):
        source.put("orders", {**_key(i), "n": Decimal(i), "tag": "later"})
    stop = threading.Event()
    follower = threading.Thread(
        target=lambda: follow_changes(source, target, "orders", stop=stop, poll_s=0.02, page_size=5, **kw)
    )
    follower.start()
    try:
        r = _check(source, target, "orders", kw, timeout_s=60)
    finally:
        stop.set()
        follower.join(60)
    assert r.go, r.reasons
    assert r.records_replayed == 31


class _WritesDuringScan(MemoryStore):
    """A source that takes one write in the middle of the verify's first scan (then, optionally, a follower run)."""

    def __init__(self) -> None:
        super().__init__()
        self.arm: Any = None

    def scan(self, table: str, **kwargs: Any) -> Any:
        if self.arm is not None and table == "orders" and not kwargs.get("index"):
            action, self.arm = self.arm, None
            action()
        return super().scan(table, **kwargs)


@pytest.mark.parametrize("replayed", [False, True])
def test_writes_during_the_verify_are_in_flight(tmp_path: Path, replayed: bool) -> None:
    source, target = _WritesDuringScan(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")

    def write() -> None:
        source.put("orders", {"pk": "new", "sk": Decimal(1), "n": Decimal(1), "tag": "during"})
        source.delete("orders", _key(3))
        if replayed:
            follow_changes(source, target, "orders", until_caught_up=True, **kw)

    source.arm = write
    r = _check(source, target, "orders", kw)
    assert r.caught_up and r.in_flight.count == 2 and r.differences == []
    if replayed:  # the follower replayed them: re-read by key, equal, go
        assert r.go, r.reasons
        assert any("re-read by key" in n for n in r.notes)
    else:
        assert r.outcome == "no-go"
        assert any("writes went on during the verify: 2 record(s)" in x for x in r.reasons), r.reasons


class _WritesOnSecondLook(MemoryStore):
    """A source that takes a write when its stream is read the second time (inside the quiet window)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: int | None = None

    def changes(self, table: str, **kwargs: Any) -> Any:
        if self.reads is not None:
            self.reads += 1
            if self.reads == 2:
                super().put(table, {**_key(8), "n": Decimal(8), "tag": "in-the-window"})
        return super().changes(table, **kwargs)


def test_a_write_inside_the_quiet_window_is_not_caught_up(tmp_path: Path) -> None:
    source, target = _WritesOnSecondLook(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    source.reads = 0
    r = _check(source, target, "orders", kw, quiet_s=0.5)
    assert r.outcome == "no-go" and not r.caught_up and r.lag_total == 1, r.reasons
    assert any("not caught up: 1 record(s)" in x for x in r.reasons), r.reasons


def test_an_in_flight_item_the_follower_got_wrong_is_no_go(tmp_path: Path) -> None:
    source, target = _WritesDuringScan(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")

    def write() -> None:
        source.put("orders", {"pk": "new", "sk": Decimal(1), "n": Decimal(1), "tag": "during"})
        follow_changes(source, target, "orders", until_caught_up=True, **kw)
        target.put("copy", {"pk": "new", "sk": Decimal(1), "n": Decimal(2), "tag": "wrong"})

    source.arm = write
    r = _check(source, target, "orders", kw)
    assert r.caught_up and r.in_flight.count == 1 and r.outcome == "no-go"
    assert any("in-flight item(s) still differ" in x and '"new"' in x for x in r.reasons), r.reasons


def test_an_index_broken_on_the_target_is_no_go(tmp_path: Path) -> None:
    source, target = MemoryStore(), IndexEmptyStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    r = _check(source, target, "orders", kw)
    assert r.outcome == "no-go"
    assert r.verify is not None and not r.verify.indexes[0].identical
    assert any(d.get("index") == "by_tag" and d["kind"] == "missing" for d in r.differences)
    assert any("index by_tag" in x for x in r.reasons), r.reasons


def test_an_index_entry_of_an_in_flight_key_is_in_flight(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    source.update("orders", _key(4), "SET tag = :t", values={":t": "moved"})  # moves its index entry
    r = _check(source, target, "orders", kw)
    assert r.outcome == "no-go" and not r.caught_up
    assert r.verify is not None and not r.verify.indexes[0].identical
    assert r.differences == [] and r.in_flight.count == 1 and r.in_flight.differing == 1


def test_fails_closed_without_a_usable_state(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    source.create_table(_spec("orders"))
    source.put("orders", {**_key(1), "n": Decimal(1), "tag": "x"})
    # No state at all: unknown, and no verify that could read as a proof.
    r = cutover_check(source, target, "orders", state_path=tmp_path / "none.json", **FAST)
    assert r.outcome == "unknown" and r.verify is None and "no state found" in r.reasons[0]
    # A copy made without --follow: unknown.
    copy_table(source, target, "orders", state_path=tmp_path / "plain.json")
    r = cutover_check(source, target, "orders", state_path=tmp_path / "plain.json", **FAST)
    assert r.outcome == "unknown" and "no follow position" in r.reasons[0]
    # A followed copy that has not finished: no-go.
    other = MemoryStore()
    start_follow(source, other, "orders", state_path=tmp_path / "f.json")
    r = cutover_check(source, other, "orders", state_path=tmp_path / "f.json", **FAST)
    assert r.outcome == "no-go" and "unfinished copy" in r.reasons[0]


class _NoStream(MemoryStore):
    def changes(self, table: str, **kwargs: Any) -> Any:
        raise StoreUnavailable("the stream endpoint is down")


def test_an_unreadable_stream_is_unknown_and_an_expired_one_no_go(tmp_path: Path) -> None:
    source, target = _NoStream(), MemoryStore()
    source.create_table(_spec("orders"))
    source.put("orders", {**_key(1), "n": Decimal(1), "tag": "x"})
    kw: dict[str, Any] = {"target_table": "copy", "state_path": tmp_path / "s.json"}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    state = json.loads((tmp_path / "s.json").read_text())
    assert state["follow"]["position"]
    r = _check(source, target, "orders", kw)
    assert r.outcome == "unknown" and "cannot read the source's change stream" in r.reasons[0]

    source2, target2 = MemoryStore(), MemoryStore()
    kw2 = _prepare(source2, target2, "orders", tmp_path / "s2.json")
    source2.put("orders", {**_key(2), "n": Decimal(9), "tag": "x"})
    source2.trim_changes("orders", retention_s=0)
    r = _check(source2, target2, "orders", kw2)
    assert r.outcome == "no-go" and "expired" in r.reasons[0] and "--restart" in r.reasons[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quiet_s": -1}, "quiet_s"),
        ({"quiet_s": True}, "quiet_s"),
        ({"poll_s": 0}, "poll_s"),
        ({"timeout_s": "10"}, "timeout_s"),
        ({"timeout_s": float("nan")}, "timeout_s"),
        ({"state_in_target": True}, "not both"),
        ({"state_path": None}, "give a state file"),
        ({"target_table": ""}, "target_table"),
        ({"max_details": 0}, "max_details"),
        ({"segments": 0}, "segments"),
    ],
)
def test_bad_arguments_are_one_typed_error_and_touch_nothing(
    tmp_path: Path, kwargs: dict[str, Any], match: str
) -> None:
    source, target = MemoryStore(), MemoryStore()
    state = tmp_path / "s.json"
    kw = _prepare(source, target, "orders", state)
    before = (state.read_text(), sorted(source.scan_all("orders"), key=repr), sorted(target.scan_all("copy"), key=repr))
    args: dict[str, Any] = {"target_table": "copy", "state_path": state, **FAST, **kwargs}
    with pytest.raises(ConfigurationError, match=match):
        cutover_check(source, target, "orders", **args)
    after = (state.read_text(), sorted(source.scan_all("orders"), key=repr), sorted(target.scan_all("copy"), key=repr))
    assert after == before and not target.table_exists(STATE_TABLE)
    assert kw["target_table"] == "copy"


def test_a_state_of_another_copy_is_refused(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    kw = _prepare(source, target, "orders", tmp_path / "s.json")
    with pytest.raises(ConfigurationError, match="belongs to another copy"):
        cutover_check(source, target, "orders", target_table="elsewhere", state_path=kw["state_path"], **FAST)


def test_state_in_target(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    source.create_table(_spec("orders"))
    source.bulk_put("orders", [{**_key(i), "n": Decimal(i), "tag": "a"} for i in range(10)])
    kw: dict[str, Any] = {"target_table": "copy", "state_in_target": True}
    start_follow(source, target, "orders", **kw)
    copy_table(source, target, "orders", **kw)
    follow_changes(source, target, "orders", until_caught_up=True, **kw)
    r = cutover_check(source, target, "orders", **kw, **FAST)
    assert r.go, r.reasons
    assert r.state_where is not None and STATE_TABLE in r.state_where


def test_postgres_to_memory(tmp_path: Path) -> None:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    source = PostgresStore(provision(), pool_size=2)
    target = MemoryStore()
    name = f"cut_{uuid.uuid4().hex[:10]}"
    try:
        kw = _prepare(source, target, name, tmp_path / "s.json")
        r = _check(source, target, name, kw)
        assert r.go, r.reasons
        source.put(name, {**_key(2), "n": Decimal(7), "tag": "late"})
        target.delete("copy", _key(9))
        r = _check(source, target, name, kw)
        assert r.outcome == "no-go" and r.lag_total == 1 and r.in_flight.count == 1
        assert [d["key"]["sk"] for d in r.differences if "index" not in d] == [{"N": "9"}]
        follow_changes(source, target, name, until_caught_up=True, **kw)
        target.put("copy", source.get(name, _key(9)))
        assert _check(source, target, name, kw).go
    finally:
        if source.table_exists(name):
            source.delete_table(name)
        source.close()


def _live_writer_case(source: ItemStore, target: ItemStore, table: str, tmp_path: Path) -> int:
    """Writers and a follower run throughout: never a false difference; GO once writes stop and the lag drains."""
    from test_migrate_follow import Writer

    kw = _prepare(source, target, table, tmp_path / "s.json")
    stop = threading.Event()
    follower = threading.Thread(
        target=lambda: follow_changes(source, target, table, stop=stop, poll_s=0.01, page_size=50, **kw), daemon=True
    )
    follower.start()
    in_flight = 0
    try:
        with Writer(source, table, seed=3) as w:
            for _ in range(3):
                r = _check(source, target, table, kw, quiet_s=0.1, poll_s=0.02)
                # Whatever the race, a changed item is in flight, never a difference; the writer keeps it from GO.
                assert r.differences == [], r.differences[:3]
                in_flight += r.in_flight.count
                assert r.outcome != "unknown", r.reasons
                assert not any("outside the in-flight set" in x for x in r.reasons), r.reasons
        assert w.ops > 0
        r = _check(source, target, table, kw, quiet_s=0.3, timeout_s=60)
        assert r.go, r.reasons
    finally:
        stop.set()
        follower.join(60)
    return in_flight


def test_live_writer_memory_to_memory(tmp_path: Path) -> None:
    # The memory follower trails the writer by thousands of records (one GIL): items are in flight every time.
    assert _live_writer_case(MemoryStore(), MemoryStore(), "orders", tmp_path) > 0


def test_live_writer_postgres_to_memory(tmp_path: Path) -> None:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    source = PostgresStore(provision(), pool_size=4)
    name = f"cut_{uuid.uuid4().hex[:10]}"
    try:
        _live_writer_case(source, MemoryStore(), name, tmp_path)
    finally:
        if source.table_exists(name):
            source.delete_table(name)
        source.close()


@pytest.mark.slow
def test_dynamodb_to_memory(tmp_path: Path) -> None:
    """DynamoDB Streams (a moto server): sequence numbers are not dense, so lag is counted by reading the stream."""
    pytest.importorskip("moto")
    from storeswap.backends.dynamodb import provision
    from storeswap.connect import open_store

    source = open_store(provision())
    target = MemoryStore()
    name = f"cut_{uuid.uuid4().hex[:10]}"
    try:
        kw = _prepare(source, target, name, tmp_path / "s.json")
        assert _check(source, target, name, kw).go
        source.put(name, {**_key(2), "n": Decimal(7), "tag": "late"})
        target.delete("copy", _key(9))
        r = _check(source, target, name, kw)
        assert r.outcome == "no-go" and r.lag_total == 1 and r.in_flight.count == 1, r.reasons
        assert [d["key"]["sk"] for d in r.differences if "index" not in d] == [{"N": "9"}]
        follow_changes(source, target, name, until_caught_up=True, **kw)
        target.put("copy", source.get(name, _key(9), consistent=True))
        r = _check(source, target, name, kw)
        assert r.go, r.reasons
    finally:
        if source.table_exists(name):
            source.delete_table(name)
        source.close()
