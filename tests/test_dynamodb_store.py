"""DynamoStore against an in-process moto: table specs, the page contract, cursors under projections."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
import moto

from storeswap import GlobalIndex, IndexProjection, KeyAttribute, LocalIndex, TableSpec
from storeswap.adapters.dynamodb import DynamoStore
from storeswap.adapters.memory import MemoryStore


@pytest.fixture
def client() -> Iterator[Any]:
    with moto.mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def store(client: Any) -> DynamoStore:
    return DynamoStore("dynamodb://", client=client)


FULL = TableSpec(
    "full_spec",
    KeyAttribute("pk", "S"),
    KeyAttribute("sk", "N"),
    global_indexes=(
        GlobalIndex("by_g", KeyAttribute("g", "B"), KeyAttribute("sk", "N"), IndexProjection("KEYS_ONLY")),
        GlobalIndex("by_h", KeyAttribute("h", "S"), None, IndexProjection("INCLUDE", ("x", "y"))),  # type: ignore[arg-type]
    ),
    local_indexes=(LocalIndex("by_l", KeyAttribute("l", "S")),),
    ttl_attribute="expires",
    stream="NEW_AND_OLD_IMAGES",
)


def test_create_then_describe_round_trips(store: DynamoStore) -> None:
    store.create_table(FULL)
    store.forget(FULL.name)
    assert store.describe_table(FULL.name) == FULL
    assert store.list_tables() == [FULL.name]
    store.delete_table(FULL.name)
    assert store.list_tables() == []


def test_describe_an_existing_table(client: Any, store: DynamoStore) -> None:
    client.create_table(
        TableName="legacy",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    assert store.describe_table("legacy") == TableSpec("legacy", KeyAttribute("id", "N"))
    store.put("legacy", {"id": 1, "v": "x"})
    assert store.get("legacy", {"id": Decimal("1.0")}) == {"id": Decimal(1), "v": "x"}


def test_list_tables_follows_pages() -> None:
    pages: list[dict[str, Any]] = [{"TableNames": ["a1", "b1"], "LastEvaluatedTableName": "b1"}, {"TableNames": ["c1"]}]
    calls: list[dict[str, Any]] = []

    class Client:
        def list_tables(self, **kw: Any) -> dict[str, Any]:
            calls.append(kw)
            return pages[len(calls) - 1]

    assert DynamoStore("dynamodb://h:1", client=Client()).list_tables() == ["a1", "b1", "c1"]
    assert calls == [{}, {"ExclusiveStartTableName": "b1"}]


SPEC = TableSpec("pages", KeyAttribute("pk"), KeyAttribute("sk", "N"),
                 global_indexes=(GlobalIndex("by_g", KeyAttribute("g"), KeyAttribute("sk", "N")),))


def _both(store: DynamoStore) -> list[Any]:
    mem = MemoryStore()
    for s in (mem, store):
        s.create_table(SPEC)
        for i in range(40):
            s.put("pages", {"pk": "p", "sk": i, "g": "g" if i % 3 else "h", "n": i, "big": "x" * 100})
    return [mem, store]


def _collect(s: Any, **kw: Any) -> list[tuple[list[Any], bool]]:
    pages = []
    cursor = None
    values = {":p": "p", **kw.pop("values", {})}
    while True:
        page = s.query("pages", "pk = :p", values=values, cursor=cursor, **kw)
        pages.append((page.items, page.cursor is not None))
        if page.cursor is None:
            return pages
        cursor = page.cursor


@pytest.mark.parametrize("kwargs", [
    {"limit": 7},
    {"limit": 5, "filter": "n > :five AND n < :thirty", "values": {":five": 5, ":thirty": 30}},
    {"limit": 4, "filter": "n = :one", "values": {":one": 1}},
    {"limit": 3, "projection": "n", "forward": False},
    {"limit": 6, "projection": "big", "filter": "n >= :ten", "values": {":ten": 10}},
    {"limit": 40},
    {},
])
def test_query_pages_match_memory(store: DynamoStore, kwargs: dict[str, Any]) -> None:
    mem, ddb = _both(store)
    assert _collect(ddb, **dict(kwargs)) == _collect(mem, **dict(kwargs))


def test_index_query_cursor_with_a_projection_that_drops_the_keys(store: DynamoStore) -> None:
    mem, ddb = _both(store)

    def run(s: Any) -> list[Any]:
        out, cursor = [], None
        while True:
            page = s.query("pages", "g = :g", index="by_g", values={":g": "g"}, projection="n", limit=4,
                           cursor=cursor)
            out.append(page.items)
            if page.cursor is None:
                return out
            cursor = page.cursor

    assert run(ddb) == run(mem)
    assert all(set(i) == {"n"} for p in run(ddb) for i in p)


def test_scan_pages_cover_everything_once(store: DynamoStore) -> None:
    _, ddb = _both(store)
    seen = [i["sk"] for i in ddb.scan_all("pages", limit=6, filter="n <> :seven", values={":seven": 7})]
    assert sorted(seen) == [Decimal(i) for i in range(40) if i != 7]
    segments = [
        [i["sk"] for i in ddb.scan_all("pages", segment=k, total_segments=3, limit=5)] for k in range(3)
    ]
    assert sorted(sk for segment in segments for sk in segment) == [Decimal(i) for i in range(40)]


def test_filtered_pages_grow(store: DynamoStore) -> None:
    """A selective filter does not cost one round trip per evaluated item."""
    _, ddb = _both(store)
    calls: list[int] = []
    real = ddb.client.query

    def counting(**kw: Any) -> Any:
        calls.append(kw.get("Limit", 0))
        return real(**kw)

    ddb._client.query = counting
    page = ddb.query("pages", "pk = :p", filter="n = :last", values={":p": "p", ":last": 39}, limit=1)
    assert [i["n"] for i in page.items] == [Decimal(39)]
    assert len(calls) <= 7 and calls[0] == 1 and calls[1] == 2
