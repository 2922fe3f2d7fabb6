"""S1-S11: time to live and change streams.

The port's API: ``changes(table, shard=, after=, limit=)`` → a page of
:class:`~storeswap.core.changes.ChangeRecord` and a position to resume from;
``iter_changes`` follows every shard; ``shards``; ``latest_position``;
``trim_changes`` (the retention trimmer); ``expire(table, now=)`` (one TTL
sweep); ``set_stream`` / ``set_ttl`` on an existing table;
``start_ttl_sweeper`` (the background sweeper).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from storeswap.contract_tests.markers import never, notyet
from storeswap.contract_tests.tables import TableFactory
from storeswap.core.changes import END, ChangeRecord, UserIdentity, decode_position, sequence_order
from storeswap.core.errors import (
    ConditionFailed,
    NotSupported,
    StreamPositionExpired,
    TransactionCanceled,
    ValidationError,
)
from storeswap.core.port import BatchDelete, BatchPut, ItemStore, TxCheck, TxDelete, TxPut, TxUpdate
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec

MOTO_NO_EXPIRY = notyet(
    ["dynamodb"],
    reason="moto never expires items itself, so expire() falls back to a client-side sweep of user deletes, "
    "whose REMOVE records carry no userIdentity",
)
MOTO_NO_TRIM = never(
    ["dynamodb"],
    reason="DynamoDB trims stream records by itself after 24 hours; no API trims them sooner",
    raises=NotSupported,
)


def _stream_table(table_factory: TableFactory, view: str | None = "NEW_AND_OLD_IMAGES", **kw: Any) -> str:
    spec = TableSpec(
        "placeholder", KeyAttribute("pk"), KeyAttribute("sk"), ttl_attribute="expires", stream=view, **kw  # type: ignore[arg-type]
    )
    return table_factory(spec)


def _records(store: ItemStore, table: str, after: str | None = None) -> list[ChangeRecord]:
    return list(store.iter_changes(table, after=after))


def _kinds(store: ItemStore, table: str) -> list[str]:
    return [r.kind for r in _records(store, table)]


def _eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ------------------------------------------------------------------------ TTL


@pytest.mark.req("S1")
def test_only_top_level_recent_numbers_expire(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    now = int(time.time())
    store.put(table, {"pk": "a", "sk": "old", "expires": now - 60})
    store.put(table, {"pk": "a", "sk": "now", "expires": now})
    store.put(table, {"pk": "a", "sk": "new", "expires": now + 3600})
    store.put(table, {"pk": "a", "sk": "text", "expires": str(now - 60)})
    store.put(table, {"pk": "a", "sk": "set", "expires": {now - 60}})
    store.put(table, {"pk": "a", "sk": "nested", "m": {"expires": now - 60}})
    store.put(table, {"pk": "a", "sk": "ancient", "expires": now - 6 * 365 * 86400})
    assert store.expire(table, now=now) == 2
    left = sorted(i["sk"] for i in store.scan_all(table, consistent=True))
    assert left == ["ancient", "nested", "new", "set", "text"]


@pytest.mark.req("S1")
def test_ttl_is_enabled_and_disabled_on_an_existing_table(store: ItemStore, table_factory: TableFactory) -> None:
    table = table_factory()
    with pytest.raises(ValidationError):
        store.expire(table, now=0)
    assert store.set_ttl(table, "exp").ttl_attribute == "exp"
    assert store.describe_table(table).ttl_attribute == "exp"
    with pytest.raises(ValidationError):
        store.set_ttl(table, "other")  # already enabled, as DynamoDB says
    store.put(table, {"pk": "a", "sk": "1", "exp": 10})
    assert store.expire(table, now=100) == 1
    assert store.set_ttl(table, None).ttl_attribute is None
    with pytest.raises(ValidationError):
        store.set_ttl(table, None)
    with pytest.raises(ValidationError):
        store.set_ttl(table, "pk")


@pytest.mark.req("S2")
def test_expired_items_stay_readable_updatable_and_queryable_until_removed(
    store: ItemStore, table_factory: TableFactory, settle: Callable[..., Any]
) -> None:
    gsi = GlobalIndex("by_g", KeyAttribute("g"), None)
    table = _stream_table(table_factory, global_indexes=(gsi,))
    now = int(time.time())
    store.put(table, {"pk": "a", "sk": "1", "g": "x", "expires": now - 60})
    store.put(table, {"pk": "a", "sk": "2", "g": "x", "expires": now - 60})
    assert store.get(table, {"pk": "a", "sk": "1"}, consistent=True) is not None
    assert len(store.query(table, "pk = :p", values={":p": "a"}, consistent=True).items) == 2
    settle(lambda: _assert_len(store.query(table, "g = :g", index="by_g", values={":g": "x"}).items, 2))
    # An update that moves the expiry into the future saves the item from the sweep.
    store.update(table, {"pk": "a", "sk": "2"}, "SET expires = :e", values={":e": now + 3600})
    assert store.expire(table, now=now) == 1
    assert store.get(table, {"pk": "a", "sk": "1"}, consistent=True) is None
    assert store.get(table, {"pk": "a", "sk": "2"}, consistent=True) is not None
    # Removal also removes the index entries.
    settle(lambda: _assert_len(store.query(table, "g = :g", index="by_g", values={":g": "x"}).items, 1))
    assert store.expire(table, now=now) == 0


def _assert_len(items: list[Any], n: int) -> None:
    assert len(items) == n


@pytest.mark.req("S2", "S3")
@MOTO_NO_EXPIRY
def test_a_ttl_delete_is_a_remove_made_by_the_system(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    now = int(time.time())
    store.put(table, {"pk": "a", "sk": "old", "expires": now - 60})
    store.delete(table, {"pk": "a", "sk": "old"})
    store.put(table, {"pk": "a", "sk": "old", "expires": now - 60})
    assert store.expire(table, now=now) == 1
    records = _records(store, table)
    assert [r.kind for r in records] == ["INSERT", "REMOVE", "INSERT", "REMOVE"]
    assert [r.by_system for r in records] == [False, False, False, True]
    assert records[-1].user_identity == UserIdentity("Service", "dynamodb.amazonaws.com")
    assert records[-1].old_image is not None and records[-1].old_image["expires"] == Decimal(now - 60)


@pytest.mark.req("S2")
def test_ttl_removal_without_stream_still_counts(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory, view=None)
    store.put(table, {"pk": "a", "sk": "1", "expires": 5})
    store.put(table, {"pk": "a", "sk": "2", "expires": 50})
    assert store.expire(table, now=10) == 1
    with pytest.raises(ValidationError):
        store.expire(table, now="10")  # type: ignore[arg-type]


@pytest.mark.req("S11")
def test_the_background_sweeper_removes_expired_items(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1", "expires": int(time.time()) - 10})
    store.put(table, {"pk": "a", "sk": "2", "expires": int(time.time()) + 3600})
    sweeper = store.start_ttl_sweeper(0.05)
    assert sweeper is not None  # every built-in store under test lacks a native sweeper (moto has none)
    try:
        _eventually(lambda: _assert_none(store.get(table, {"pk": "a", "sk": "1"}, consistent=True)))
    finally:
        sweeper.stop()
    assert store.get(table, {"pk": "a", "sk": "2"}, consistent=True) is not None
    with pytest.raises(ValidationError):
        store.start_ttl_sweeper(0)


def _assert_none(value: Any) -> None:
    assert value is None


# -------------------------------------------------------------------- streams


@pytest.mark.req("S3")
def test_insert_modify_remove_in_item_order(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.update(table, {"pk": "a", "sk": "1"}, "SET n = n + :one", values={":one": 1})
    store.delete(table, {"pk": "a", "sk": "1"})
    records = _records(store, table)
    assert [r.kind for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[0].old_image is None and records[0].new_image == {"pk": "a", "sk": "1", "n": Decimal(1)}
    assert records[1].old_image["n"] == Decimal(1) and records[1].new_image["n"] == Decimal(2)  # type: ignore[index]
    assert records[2].new_image is None and records[2].old_image["n"] == Decimal(2)  # type: ignore[index]
    assert all(r.by_system is False and r.user_identity is None for r in records)
    assert all(r.keys == {"pk": "a", "sk": "1"} for r in records)
    for r in records:  # approximate creation time: an aware datetime near the clock
        assert r.created is not None and r.created.tzinfo is not None
        assert abs(r.created.timestamp() - time.time()) < 3600


@pytest.mark.req("S3")
@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_stream_view_types(store: ItemStore, table_factory: TableFactory, view: str) -> None:
    table = _stream_table(table_factory, view)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.put(table, {"pk": "a", "sk": "1", "n": 2})
    record = _records(store, table)[-1]
    assert record.kind == "MODIFY" and record.view == view
    assert record.keys == {"pk": "a", "sk": "1"}
    new = {"pk": "a", "sk": "1", "n": Decimal(2)}
    old = {"pk": "a", "sk": "1", "n": Decimal(1)}
    assert record.new_image == (new if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None)
    assert record.old_image == (old if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None)


@pytest.mark.req("S4")
@notyet(["dynamodb"], reason="moto records a MODIFY for a put or an update that leaves the item as it was")
def test_a_write_that_changes_nothing_records_nothing(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1", "n": 1, "s": {"x", "y"}})
    store.put(table, {"pk": "a", "sk": "1", "n": 1, "s": {"y", "x"}})  # same item
    store.update(table, {"pk": "a", "sk": "1"}, "SET n = :n", values={":n": 1})  # same value
    store.delete(table, {"pk": "a", "sk": "missing"})  # nothing to delete
    with pytest.raises(ConditionFailed):
        store.put(table, {"pk": "a", "sk": "1", "n": 9}, condition="attribute_not_exists(pk)")
    assert _kinds(store, table) == ["INSERT"]


@pytest.mark.req("S4")
def test_a_type_change_is_a_change(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.put(table, {"pk": "a", "sk": "1", "n": True})  # 1 and True differ (C2a)
    assert _kinds(store, table) == ["INSERT", "MODIFY"]


@pytest.mark.req("S5", "S10")
def test_transactions_and_batches_record_each_changed_item_once(
    store: ItemStore, table_factory: TableFactory
) -> None:
    table = _stream_table(table_factory)
    store.batch_write([BatchPut(table, {"pk": f"p{i}", "sk": "1", "n": i}) for i in range(5)])
    store.transact_write(
        [
            TxPut(table, {"pk": "p0", "sk": "1", "n": 100}),
            TxUpdate(table, {"pk": "p1", "sk": "1"}, "SET n = n + :one", values={":one": 1}),
            TxDelete(table, {"pk": "p2", "sk": "1"}),
            TxCheck(table, {"pk": "p3", "sk": "1"}, "attribute_exists(pk)"),
        ]
    )
    with pytest.raises(TransactionCanceled):
        store.transact_write(
            [
                TxPut(table, {"pk": "p4", "sk": "1", "n": 7}),
                TxCheck(table, {"pk": "p3", "sk": "1"}, "attribute_not_exists(pk)"),
            ]
        )
    store.batch_write([BatchDelete(table, {"pk": "p4", "sk": "1"})])
    by_item: dict[str, list[str]] = {}
    for r in _records(store, table):
        by_item.setdefault(str(r.keys["pk"]), []).append(r.kind)
    assert by_item == {
        "p0": ["INSERT", "MODIFY"],
        "p1": ["INSERT", "MODIFY"],
        "p2": ["INSERT", "REMOVE"],
        "p3": ["INSERT"],
        "p4": ["INSERT", "REMOVE"],
    }


@pytest.mark.req("S5")
def test_bulk_put_records_each_changed_item_once(store: ItemStore, table_factory: TableFactory) -> None:
    """bulk_put is an application write: one record per item it changes, on every store (a follower sees it)."""
    table = _stream_table(table_factory)
    store.put(table, {"pk": "p0", "sk": "1", "n": 0})
    # p0 changes, p2-p4 are new; p4 twice in one call: the last wins.
    written = store.bulk_put(
        table,
        [{"pk": "p0", "sk": "1", "n": 10}, {"pk": "p2", "sk": "1", "n": 2}, {"pk": "p3", "sk": "1", "n": 3},
         {"pk": "p4", "sk": "1", "n": 4}, {"pk": "p4", "sk": "1", "n": 44}],
    )  # fmt: skip
    assert written == 5
    by_item: dict[str, list[str]] = {}
    for r in _records(store, table):
        by_item.setdefault(str(r.keys["pk"]), []).append(r.kind)
    assert by_item == {"p0": ["INSERT", "MODIFY"], "p2": ["INSERT"], "p3": ["INSERT"], "p4": ["INSERT"]}
    last = [r for r in _records(store, table) if r.keys["pk"] == "p4"][-1]
    assert last.new_image is not None and last.new_image["n"] == 44


@pytest.mark.req("S5")
def test_bulk_load_writes_what_bulk_put_writes(store: ItemStore, table_factory: TableFactory) -> None:
    """bulk_load (a migration's load) stores the same items; only its change records may be left out."""
    table = _stream_table(table_factory)
    items = [{"pk": f"p{i}", "sk": "1", "n": i, "s": {"a", "b"}} for i in range(30)]
    assert store.bulk_load(table, items) == 30
    got = sorted(store.scan_all(table), key=lambda it: it["pk"])
    assert got == sorted(items, key=lambda it: it["pk"])
    keys = {str(r.keys["pk"]) for r in _records(store, table)}
    # Stores that record loads record each item once; none records an item it did not write.
    assert keys <= {it["pk"] for it in items}
    assert all(len([r for r in _records(store, table) if r.keys["pk"] == k]) == 1 for k in keys)


@pytest.mark.req("S5", "S6")
def test_records_of_one_item_are_in_write_order_in_one_shard(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    for i in range(20):
        for pk in ("a", "b", "c"):
            store.put(table, {"pk": pk, "sk": str(i % 3), "n": i})
    records = _records(store, table)
    assert len(records) == 60
    for pk in ("a", "b", "c"):
        mine = [r for r in records if r.keys["pk"] == pk]
        assert len({r.shard for r in mine}) == 1  # S6: one partition key, one shard
        assert [r.new_image["n"] for r in mine] == [Decimal(i) for i in range(20)]  # type: ignore[index]
    shard_ids = [s.id for s in store.shards(table)]
    for shard in shard_ids:
        seqs = [int(r.sequence) for r in records if r.shard == shard]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # S6: increasing within a shard


@pytest.mark.req("S6")
def test_reading_each_shard_gives_every_record_once(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    for i in range(30):
        store.put(table, {"pk": f"p{i}", "sk": "1"})
    shards = store.shards(table)
    ids = [s.id for s in shards]
    for i, s in enumerate(shards):  # parents before children
        assert s.parent is None or s.parent not in ids or ids.index(s.parent) < i
    seen: list[Any] = []
    for s in shards:
        position = None
        while True:
            page = store.changes(table, shard=s.id, after=position, limit=7)
            assert all(r.shard == s.id for r in page.records)
            seen.extend(r.keys["pk"] for r in page.records)
            if not page.records:
                break
            position = page.position
    assert sorted(seen) == sorted(f"p{i}" for i in range(30))
    with pytest.raises(ValidationError):
        store.changes(table, shard="no-such-shard")


@pytest.mark.req("S7")
def test_positions_resume_exactly_after_the_last_record(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    for i in range(12):
        store.put(table, {"pk": f"p{i % 4}", "sk": str(i)})
    first = store.changes(table, limit=5)
    assert len(first.records) == 5
    rest = _records(store, table, after=first.position)
    assert len(rest) == 7
    everything = _records(store, table)
    assert {(r.shard, r.sequence) for r in first.records + rest} == {(r.shard, r.sequence) for r in everything}
    # Every record's own position resumes right after it.
    middle = everything[3]
    after_middle = _records(store, table, after=middle.position)
    assert [(r.shard, r.sequence) for r in after_middle] == [(r.shard, r.sequence) for r in everything[4:]]
    # A position is a plain string; reading it again gives the same records (nothing is consumed).
    assert [r.sequence for r in _records(store, table, after=first.position)] == [r.sequence for r in rest]


@pytest.mark.req("S7")
def test_latest_position_sees_only_later_changes(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1"})
    latest = store.latest_position(table)
    assert isinstance(latest, str)
    store.put(table, {"pk": "b", "sk": "1"})
    assert [r.keys["pk"] for r in _records(store, table, after=latest)] == ["b"]


#: How long a latest_position may take while a writer runs before the test calls it stuck (a liveness bound
#: far above any store's time here, not a speed goal: the call reads at most the shard once).
LATEST_STUCK_S = 120.0


class _EndlessWriter:
    """A thread putting ``item(n)`` for n = 0, 1, ... until the block ends; ``acked`` counts acknowledged puts."""

    def __init__(self, store: ItemStore, table: str, item: Callable[[int], dict[str, Any]]) -> None:
        self.acked = 0
        self._failed: list[BaseException] = []
        self._stop = threading.Event()

        def write() -> None:
            try:
                while not self._stop.is_set():
                    store.put(table, item(self.acked))
                    self.acked += 1
            except BaseException as e:  # reported by check()
                self._failed.append(e)

        self._thread = threading.Thread(target=write, daemon=True)

    def __enter__(self) -> _EndlessWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(LATEST_STUCK_S)

    def check(self) -> None:
        """Raise what stopped the writer, if anything did."""
        assert not self._failed, self._failed

    def wait_for(self, puts: int) -> None:
        def reached() -> None:
            self.check()
            assert self.acked >= puts

        _eventually(reached)


def _within_liveness_bound(call: Callable[[], Any], stuck: str) -> Any:
    """``call()``'s result, run in a thread given LATEST_STUCK_S; its own error is raised as itself."""
    result: list[Any] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as e:  # reported below
            raised.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(LATEST_STUCK_S)
    if raised:
        raise raised[0]
    assert result, f"{stuck} in {LATEST_STUCK_S:.0f} s while a writer kept writing"
    return result[0]


@pytest.mark.req("S7")
def test_latest_position_is_found_while_writes_never_pause(store: ItemStore, table_factory: TableFactory) -> None:
    """A writer that never pauses: the position is the end of the stream at a moment during the call.

    The writer puts one item with an increasing ``v``; ``acked`` counts its acknowledged puts.  Reading from
    the position must return no put acknowledged before the call began and every put begun after it returned,
    each once, in order.  (Reading "until a page comes back empty" to find a DynamoDB shard's tip never ended.)
    """
    table = _stream_table(table_factory)
    with _EndlessWriter(store, table, lambda n: {"pk": "w", "sk": "1", "v": n}) as writer:
        writer.wait_for(20)  # a stream with a past
        before = writer.acked
        latest = _within_liveness_bound(lambda: store.latest_position(table), "latest_position did not return")
        after = writer.acked
        writer.wait_for(after + 5)  # puts begun after the call returned
    writer.check()
    seen = [int(r.new_image["v"]) for r in _records(store, table, after=latest) if r.new_image is not None]
    assert seen, "no record after the position, though puts were made after it"
    assert before <= seen[0] <= after + 1, (before, seen[0], after)
    assert seen == list(range(seen[0], writer.acked)), "records after the position are lost, repeated or out of order"


def _by_shard(records: list[ChangeRecord]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in records:
        out.setdefault(r.shard, []).append(r.sequence)
    return out


@pytest.mark.req("S7")
def test_iter_changes_until_a_position_ends_there_while_writes_never_pause(
    store: ItemStore, table_factory: TableFactory
) -> None:
    """``iter_changes(until=latest)`` reads each shard up to ``latest`` and ends, though a writer keeps writing.

    What it returns, followed by what a read from the last record's position returns, is the whole stream: per
    shard, in order, each record once; and it holds every put acknowledged before ``latest`` was taken.
    """
    table = _stream_table(table_factory)
    # Five keys: more than one shard.
    with _EndlessWriter(store, table, lambda n: {"pk": f"w{n % 5}", "sk": "1", "v": n}) as writer:
        writer.wait_for(30)
        before = writer.acked
        until = store.latest_position(table)
        bounded: list[ChangeRecord] = _within_liveness_bound(
            lambda: list(store.iter_changes(table, until=until)), "iter_changes(until=...) did not end"
        )
        writer.wait_for(writer.acked + 5)  # puts after the read ended
    writer.check()
    assert {int(r.new_image["v"]) for r in bounded if r.new_image is not None} >= set(range(before))
    resume = bounded[-1].position
    rest = _records(store, table, after=resume)
    everything = _by_shard(_records(store, table))
    joined = _by_shard(bounded + rest)
    assert joined == everything, "the bounded read and the read after it lose, repeat or reorder records"
    # Exactly what the stream held at `until`, shard by shard: no record after it, none before it left out.
    end = decode_position(until, table).shards

    def held_at_until(shard: str, sequence: str) -> bool:
        last = end.get(shard)
        return last is not None and (last == END or sequence_order(sequence) <= sequence_order(last))

    upto = {shard: [q for q in seqs if held_at_until(shard, q)] for shard, seqs in everything.items()}
    assert _by_shard(bounded) == {shard: seqs for shard, seqs in upto.items() if seqs}
    assert _records(store, table, after=until) != []  # the writer wrote after `until`: there was more to leave


@pytest.mark.req("S7")
def test_iter_changes_until_refuses_follow_and_another_streams_position(
    store: ItemStore, table_factory: TableFactory
) -> None:
    table = _stream_table(table_factory)
    other = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1"})
    store.put(other, {"pk": "a", "sk": "1"})
    until = store.latest_position(table)
    with pytest.raises(ValidationError):
        next(store.iter_changes(table, until=until, follow=True))
    with pytest.raises(ValidationError):
        next(store.iter_changes(table, until=store.latest_position(other)))  # another table's
    assert [r.keys["pk"] for r in store.iter_changes(table, until=until)] == ["a"]


@pytest.mark.req("S7")
def test_bad_positions_and_limits_are_rejected(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    other = _stream_table(table_factory)
    store.put(other, {"pk": "a", "sk": "1"})
    with pytest.raises(ValidationError):
        store.changes(table, after=store.changes(other).position)
    for bad in ("", "garbage", "ssp1.!!!", 42):
        with pytest.raises(ValidationError):
            store.changes(table, after=bad)  # type: ignore[arg-type]
    for limit in (0, -1, 1001, True, "5"):
        with pytest.raises(ValidationError):
            store.changes(table, limit=limit)  # type: ignore[arg-type]
    plain = table_factory()
    with pytest.raises(ValidationError):
        store.changes(plain)  # no stream ever


@pytest.mark.req("S8")
@MOTO_NO_TRIM
def test_a_reader_behind_the_retention_window_is_told(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1"})
    early = store.changes(table, limit=1).position
    store.put(table, {"pk": "a", "sk": "2"})
    store.put(table, {"pk": "a", "sk": "3"})
    time.sleep(0.01)
    assert store.trim_changes(table, retention_s=0) == 3
    with pytest.raises(StreamPositionExpired):
        store.changes(table, after=early)
    store.put(table, {"pk": "a", "sk": "4"})
    # From the trim horizon, only what is retained; a fresh reader is not an expired one.
    assert [r.keys["sk"] for r in _records(store, table)] == ["4"]


@pytest.mark.req("S9")
def test_a_stream_enabled_on_an_existing_table(store: ItemStore, table_factory: TableFactory) -> None:
    table = table_factory()
    store.put(table, {"pk": "a", "sk": "before"})
    assert store.set_stream(table, "KEYS_ONLY").stream == "KEYS_ONLY"
    assert store.describe_table(table).stream == "KEYS_ONLY"
    with pytest.raises(ValidationError):
        store.set_stream(table, "NEW_IMAGE")  # disable first, as on DynamoDB
    with pytest.raises(ValidationError):
        store.set_stream(table, "ALL")  # type: ignore[arg-type]
    store.put(table, {"pk": "a", "sk": "during"})
    records = _records(store, table)
    assert [(r.kind, r.keys["sk"], r.view) for r in records] == [("INSERT", "during", "KEYS_ONLY")]
    assert records[0].new_image is None and records[0].old_image is None


@pytest.mark.req("S9")
@notyet(
    ["dynamodb"],
    reason="moto: after a stream is disabled PutItem and DescribeStream fail with HTTP 500, "
    "and a disabled stream cannot be enabled again (ResourceInUseException)",
)
def test_a_stream_disabled_and_enabled_again(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory, "KEYS_ONLY")
    store.put(table, {"pk": "a", "sk": "during"})
    assert store.set_stream(table, None).stream is None
    with pytest.raises(ValidationError):
        store.set_stream(table, None)
    store.put(table, {"pk": "a", "sk": "after"})
    # The disabled stream's records stay readable, and it records nothing more.
    assert [r.keys["sk"] for r in _records(store, table)] == ["during"]
    old_position = store.changes(table).position
    store.set_stream(table, "NEW_IMAGE")
    store.put(table, {"pk": "a", "sk": "again"})
    second = _records(store, table)
    assert [(r.keys["sk"], r.view) for r in second] == [("again", "NEW_IMAGE")]
    assert second[0].new_image == {"pk": "a", "sk": "again"}
    # A position of the earlier stream still reads that stream (until it is trimmed).
    assert _records(store, table, after=old_position) == []


@pytest.mark.req("S7", "S5", "S6")
def test_a_killed_consumer_resumes_without_loss_or_repeat(store: ItemStore, table_factory: TableFactory) -> None:
    """Writers run concurrently; a consumer is killed at random points and resumes from its checkpoint."""
    table = _stream_table(table_factory)
    rng = random.Random(13)
    writers, items_per_writer, writes_per_item = 3, 4, 6
    expected: dict[str, list[tuple[str, Any]]] = {}

    def write(w: int) -> None:
        r = random.Random(w)
        plan = [(f"w{w}-{i}", j) for j in range(writes_per_item) for i in range(items_per_writer)]
        for pk, j in plan:
            key = {"pk": pk, "sk": "1"}
            if j == writes_per_item - 1 and r.random() < 0.5:
                store.delete(table, key)
                expected.setdefault(pk, []).append(("REMOVE", None))
            else:
                store.put(table, {**key, "v": j})
                existed = any(k != "REMOVE" for k, _ in expected.get(pk, [])[-1:])
                expected.setdefault(pk, []).append(("MODIFY" if existed else "INSERT", Decimal(j)))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    checkpoint: str | None = None
    seen: dict[str, list[tuple[str, Any]]] = {}
    kills = 0

    class Killed(Exception):
        pass

    def consume_until_killed(deadline_records: int) -> None:
        nonlocal checkpoint
        processed = 0
        while True:
            page = store.changes(table, after=checkpoint, limit=rng.randint(1, 5))
            for record in page.records:
                if processed >= deadline_records:
                    raise Killed()
                # Processing and checkpointing are one step (the consumer's own transaction).
                image = record.new_image["v"] if record.new_image is not None else None
                seen.setdefault(str(record.keys["pk"]), []).append((record.kind, image))
                checkpoint = record.position
                processed += 1
            if not page.records:
                if not any(t.is_alive() for t in threads):
                    return
                time.sleep(0.01)
            else:
                checkpoint = page.position

    while True:
        try:
            consume_until_killed(rng.randint(0, 7))
            break
        except Killed:
            kills += 1  # the reader object is gone; only the checkpoint string survives
    for t in threads:
        t.join()
    consume_until_killed(10**9)  # drain what the writers wrote after the last empty page
    assert kills > 0
    assert seen == expected
