"""Key columns on PostgreSQL: DynamoDB byte order, NUL in keys, begins_with without wildcards (K1, K2, V5)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.core.keys import BUCKETS, segment_of
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec

pytestmark = pytest.mark.slow

SORT_KEYS = [
    "a",
    "a%",
    "a%b",
    "a_b",
    "axb",
    "a\x00",
    "a\x00b",
    "ab",
    "b",
    "Z",
    "é",
    "\U0001d11e",
    "\uffff",
    "a\U0010ffff",
]


@pytest.fixture(scope="module")
def stores() -> Iterator[tuple[object, MemoryStore]]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    pg = PostgresStore(provision(), pool_size=2)
    yield pg, MemoryStore()
    pg.close()


@pytest.fixture
def tables(stores) -> Iterator[str]:
    name = f"keys-{uuid.uuid4().hex[:10]}"
    spec = TableSpec(
        name,
        KeyAttribute("pk", "S"),
        KeyAttribute("sk", "S"),
        global_indexes=(GlobalIndex("by-g", KeyAttribute("g", "B"), KeyAttribute("sk", "S")),),
    )
    for s in stores:
        s.create_table(spec)
        for i, sk in enumerate(SORT_KEYS):
            s.put(name, {"pk": "p\x00", "sk": sk, "g": b"\xff" if i % 2 else b"\xff\x00", "i": i})
    yield name
    for s in stores:
        s.delete_table(name)


@pytest.mark.parametrize("prefix", ["a", "a%", "a_", "a\x00", "\uffff", "\U0010ffff", "é"])
def test_begins_with_matches_memory(stores, tables, prefix) -> None:
    pg, mem = stores
    kwargs = {"values": {":p": "p\x00", ":s": prefix}}
    got = [i["sk"] for i in pg.query(tables, "pk = :p AND begins_with(sk, :s)", **kwargs)]
    want = [i["sk"] for i in mem.query(tables, "pk = :p AND begins_with(sk, :s)", **kwargs)]
    assert got == want
    if prefix == "a%":
        assert got == ["a%", "a%b"]


@pytest.mark.parametrize("forward", [True, False])
def test_order_and_paging_match_memory(stores, tables, forward) -> None:
    pg, mem = stores
    for index, cond, values in ((None, "pk = :p", {":p": "p\x00"}), ("by-g", "g = :g", {":g": b"\xff"})):
        got = [i["sk"] for i in pg.query_all(tables, cond, index=index, values=values, forward=forward, limit=3)]
        want = [i["sk"] for i in mem.query_all(tables, cond, index=index, values=values, forward=forward, limit=3)]
        assert got == want


def test_scan_and_segments_match_memory(stores, tables) -> None:
    pg, mem = stores
    assert list(pg.scan_all(tables, limit=4)) == list(mem.scan_all(tables, limit=4))
    for total in (1, 2, 3, 7):
        for seg in range(total):
            got = list(pg.scan_all(tables, segment=seg, total_segments=total, limit=2))
            want = list(mem.scan_all(tables, segment=seg, total_segments=total, limit=2))
            assert got == want


def test_segment_bounds_invert_segment_of() -> None:
    from storeswap.adapters.postgres.store import _segment_bounds

    for total in (1, 2, 3, 7, 1000, 999_999, 1_000_000):
        for seg in sorted({0, 1, total // 2, total - 2, total - 1} & set(range(total))):
            lo, hi = _segment_bounds(seg, total)
            assert segment_of(lo, total) == seg and segment_of(hi, total) == seg
            if lo > 0:
                assert segment_of(lo - 1, total) == seg - 1
            if hi < BUCKETS - 1:
                assert segment_of(hi + 1, total) == seg + 1
            if seg == 0:
                assert lo == 0
            if seg == total - 1:
                assert hi == BUCKETS - 1


def test_successor_of_prefixes() -> None:
    from storeswap.adapters.postgres.store import _successor

    assert _successor(b"a") == b"b"
    assert _successor(b"a\xff") == b"b"
    assert _successor(b"\xff\xff") is None
    assert _successor(b"a\x00") == b"a\x01"
