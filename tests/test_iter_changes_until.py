"""``iter_changes(until=)``: where the bounded read stops, what it refuses, and what it never skips (memory store).

The contract suite (``test_streams_ttl``) runs it on every store under a writer that never pauses; these cases
need a store that misbehaves on purpose, or a stream enabled twice.
"""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.core.changes import Position, ShardRead, decode_position, encode_position
from storeswap.core.errors import ValidationError
from storeswap.core.schema import KeyAttribute, TableSpec


def _table(store: MemoryStore, name: str = "orders") -> str:
    store.create_table(TableSpec(name, KeyAttribute("pk"), stream="NEW_IMAGE"))
    return name


class DropsNoOps(MemoryStore):
    """Reads at most two records at a time and drops those marked ``noop``, moving on past them.

    As PostgreSQL's change log does with rows that record no change: a page can come back empty with its
    position moved on, which is not the end of the shard.
    """

    def _read_shard(self, spec: Any, info: Any, shard: Any, after: str | None, limit: int) -> ShardRead:
        read = super()._read_shard(spec, info, shard, after, min(limit, 2))
        kept = [r for r in read.records if not (r.new_image or {}).get("noop")]
        return attrs.evolve(read, records=kept)


def test_a_page_emptied_by_dropped_records_is_not_the_end_of_the_shard() -> None:
    store = DropsNoOps()
    table = _table(store)
    for n in range(4):
        store.put(table, {"pk": "a", "n": n, "noop": True})
    store.put(table, {"pk": "a", "n": 9})
    until = store.latest_position(table)
    store.put(table, {"pk": "a", "n": 10})  # after `until`
    got = [r.new_image["n"] for r in store.iter_changes(table, until=until) if r.new_image is not None]
    assert got == [9]


def test_until_of_an_earlier_stream_reads_that_stream_not_the_current_one() -> None:
    store = MemoryStore()
    table = _table(store)
    store.put(table, {"pk": "a", "n": 1})
    first = store.latest_position(table)
    store.set_stream(table, None)
    store.set_stream(table, "NEW_IMAGE")
    store.put(table, {"pk": "b", "n": 2})
    assert [r.keys["pk"] for r in store.iter_changes(table, until=first)] == ["a"]
    second = store.changes(table).position  # a position of the current stream
    with pytest.raises(ValidationError, match="two different streams"):
        next(store.iter_changes(table, after=second, until=first))


@pytest.mark.parametrize("value", ["latest", "abc", "", "-1", "\u00b2", "\u0661"])
def test_until_holding_what_is_not_a_sequence_number_is_a_validation_error(value: str) -> None:
    store = MemoryStore()
    table = _table(store)
    store.put(table, {"pk": "a"})
    real = decode_position(store.latest_position(table), table)
    bogus = encode_position(Position(table, real.stream, {shard: value for shard in real.shards}))
    with pytest.raises(ValidationError, match="not a position to stop at"):
        next(store.iter_changes(table, until=bogus))


@pytest.mark.parametrize("bad", [42, "", b"x", None.__class__, "ssp1.garbage"])
def test_a_bad_until_is_a_validation_error(bad: Any) -> None:
    store = MemoryStore()
    table = _table(store)
    with pytest.raises(ValidationError):
        next(store.iter_changes(table, until=bad))


def test_stop_ends_the_bounded_read_between_pages() -> None:
    store = MemoryStore()
    table = _table(store)
    for n in range(2500):  # three pages of at most 1000
        store.put(table, {"pk": "a", "n": n})
    until = store.latest_position(table)
    stop = threading.Event()
    seen = 0
    for _ in store.iter_changes(table, until=until, stop=stop):
        seen += 1
        if seen == 10:
            stop.set()
    assert seen == 1000  # the page in hand is finished, the next is not read


class Stalls(MemoryStore):
    """A store whose reads of the shards in ``stalled`` return nothing and do not move on (DynamoDB's empty
    pages inside a shard, as the port sees them)."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled: set[str] = set()
        self.stalled_reads = 0

    def _read_shard(self, spec: Any, info: Any, shard: Any, after: str | None, limit: int) -> ShardRead:
        if shard.id in self.stalled:
            self.stalled_reads += 1
            if self.stalled_reads > 20:  # a read that waits for a stalled shard would never end: fail instead
                raise RuntimeError("a stalled shard was read 20 times")
            return ShardRead([], after, False)
        return super()._read_shard(spec, info, shard, after, limit)


def test_a_shard_that_stops_short_of_until_is_left_for_the_next_read_never_skipped() -> None:
    store = Stalls()
    table = _table(store)
    for n in range(40):
        store.put(table, {"pk": f"k{n}", "n": n})
    everything = [(r.shard, r.sequence) for r in store.iter_changes(table)]
    shards = sorted({shard for shard, _ in everything})
    assert len(shards) > 1, "the test needs records in more than one shard"
    until = store.latest_position(table)
    store.stalled = {shards[0]}
    first = list(store.iter_changes(table, until=until))
    assert first and all(r.shard != shards[0] for r in first)  # it ended; the stalled shard's records are left
    store.stalled = set()
    rest = [(r.shard, r.sequence) for r in store.iter_changes(table, after=first[-1].position)]
    assert sorted([(r.shard, r.sequence) for r in first] + rest) == sorted(everything)
    assert {shard for shard, _ in rest} == {shards[0]}
