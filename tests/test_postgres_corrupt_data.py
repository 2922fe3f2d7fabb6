"""E3: data the PostgreSQL store holds but cannot read is ``StoreCorrupted``, on every read path, and nothing is written.

Each test damages the store's own storage behind its back (an item row, the catalog entry, a change record), as a
disk fault or another program would, and checks every port call that reads it: one typed error, never a driver or
Python exception (E1), never the caller's ``ValidationError``; the gateway in front answers 500 with no detail.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeswap.adapters.postgres.codec import decode_item, encode_item
from storeswap.core.errors import StoreCorrupted, StoreError, ValidationError
from storeswap.core.port import TxGet, TxPut
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec
from storeswap.core.values import NumberSet, StringSet

pytestmark = pytest.mark.slow

#: Bytes in the item column that are not an item: unknown version, a truncated map, a bad tag, a number that is
#: not one, a NaN or an infinity (no stored number is one: the port refuses them), nesting beyond the stack.
_GOOD = encode_item({"pk": "a", "ns": NumberSet({Decimal(1234)}), "n": Decimal(5678)})
DAMAGED = {
    "version": b"\xff\x00garbage",
    "empty": b"",
    "truncated": _GOOD[: len(_GOOD) // 2],
    "trailing": _GOOD + b"x",
    "bad-number": _GOOD.replace(b"5678", b"5x78"),
    "snan-in-set": _GOOD.replace(b"1234", b"sNaN"),
    "nan-in-set": _GOOD.replace(b"1234", b"NaN2"),
    "nan-number": _GOOD.replace(b"5678", b"NaN1"),
    "infinite-number": _GOOD.replace(b"5678", b"-Inf"),
    "deep": b"\x01\x01\x01a" + b"L\x01" * 100_000 + b"Z",
}


@pytest.fixture(scope="module")
def url() -> str:
    from storeswap.backends.postgres import provision

    return provision()


@pytest.fixture(scope="module")
def store(url: str) -> Iterator[Any]:
    from storeswap.adapters.postgres import PostgresStore

    s = PostgresStore(url)
    yield s
    s.close()


@pytest.fixture
def table(store: Any) -> Iterator[str]:
    name = f"corrupt-{uuid.uuid4().hex[:12]}"
    store.create_table(
        TableSpec(
            name, KeyAttribute("pk"), KeyAttribute("sk"), stream="NEW_AND_OLD_IMAGES",
            global_indexes=(GlobalIndex("by_g", KeyAttribute("g")),),
        )
    )  # fmt: skip
    yield name
    store.delete_table(name)


def _damage_items(store: Any, table: str, blob: bytes) -> None:
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute("SET storeswap.changelog = 'off'")  # damage behind the store's back: no change record of it
        conn.execute(f'UPDATE "{store.physical_table(table)}" SET item = %s', (blob,))


def _rows(store: Any, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(store.conninfo) as conn:
        return conn.execute(f'SELECT * FROM "{store.physical_table(table)}" ORDER BY pk').fetchall()


READS = {
    "get": lambda s, t: s.get(t, {"pk": "p", "sk": "1"}),
    "query": lambda s, t: s.query(t, "pk = :p", values={":p": "p"}),
    "query-index": lambda s, t: s.query(t, "g = :g", index="by_g", values={":g": "x"}),
    "scan": lambda s, t: s.scan(t),
    "batch_get": lambda s, t: s.batch_get({t: [{"pk": "p", "sk": "1"}]}),
    "transact_get": lambda s, t: s.transact_get([TxGet(t, {"pk": "p", "sk": "1"})]),
    # writes that read the old item first: a conditional put, an update, a delete returning the old item
    "put-if": lambda s, t: s.put(t, {"pk": "p", "sk": "1", "v": 2}, condition="attribute_exists(pk)"),
    "update": lambda s, t: s.update(t, {"pk": "p", "sk": "1"}, "SET v = :v", values={":v": 2}),
    "delete-old": lambda s, t: s.delete(t, {"pk": "p", "sk": "1"}, return_values="ALL_OLD"),
    "transact_write": lambda s, t: s.transact_write([TxPut(t, {"pk": "p", "sk": "1", "v": 2}, "attribute_exists(pk)")]),
}


@pytest.mark.parametrize("damage", list(DAMAGED), ids=list(DAMAGED))
def test_every_read_of_a_damaged_row_is_store_corrupted_and_writes_nothing(store: Any, table: str, damage: str) -> None:
    store.put(table, {"pk": "p", "sk": "1", "g": "x", "v": 1})
    _damage_items(store, table, DAMAGED[damage])
    before = _rows(store, table)
    for name, call in READS.items():
        with pytest.raises(StoreCorrupted) as caught:
            call(store, table)
        e = caught.value
        assert not isinstance(e, ValidationError), name  # not the caller's fault
        assert e.retryable is False and e.outcome_unknown is False, name
        assert "cannot be read" in str(e), name
    assert _rows(store, table) == before  # nothing written, the damaged row kept for repair
    changes = list(store.iter_changes(table))
    assert [c.kind for c in changes] == ["INSERT"]  # the put's own record only: no call that failed wrote one


def test_a_change_record_with_a_damaged_image_is_store_corrupted(store: Any, table: str) -> None:
    store.put(table, {"pk": "p", "sk": "1", "v": 1})
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        n = conn.execute(
            "UPDATE storeswap_changes SET new_item = %s WHERE stream_id = "
            "(SELECT id FROM storeswap_streams WHERE name = %s AND disabled IS NULL)",
            (DAMAGED["truncated"], table),
        ).rowcount
    assert n == 1
    with pytest.raises(StoreCorrupted):
        list(store.iter_changes(table))


def test_a_change_record_whose_event_disagrees_with_its_images_is_store_corrupted(store: Any, table: str) -> None:
    store.put(table, {"pk": "p", "sk": "1", "v": 1})
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        for event in ("R", "?"):
            conn.execute(
                "UPDATE storeswap_changes SET event = %s WHERE stream_id = "
                "(SELECT id FROM storeswap_streams WHERE name = %s AND disabled IS NULL)",
                (event, table),
            )
            with pytest.raises(StoreCorrupted, match="change record"):
                list(store.iter_changes(table))


def test_a_damaged_stream_row_is_store_corrupted_not_a_stream_without_images(store: Any, table: str) -> None:
    store.put(table, {"pk": "p", "sk": "1", "v": 1})
    assert [c.new_image for c in store.iter_changes(table)] == [{"pk": "p", "sk": "1", "v": 1}]
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute("UPDATE storeswap_streams SET view = 'ALL_THE_IMAGES' WHERE name = %s", (table,))
    with pytest.raises(StoreCorrupted, match="storeswap_streams"):
        list(store.iter_changes(table))


@pytest.mark.parametrize("call", ["query", "scan"])
def test_a_stored_item_without_its_sort_key_is_store_corrupted_when_it_ends_a_page(
    store: Any, table: str, call: str
) -> None:
    for sk in "123":
        store.put(table, {"pk": "p", "sk": sk, "v": 1})
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute("SET storeswap.changelog = 'off'")
        conn.execute(
            f'UPDATE "{store.physical_table(table)}" SET item = %s WHERE sk = \'2\'', (encode_item({"pk": "p", "v": 1}),)
        )
    page = (lambda: store.query(table, "pk = :p", values={":p": "p"}, limit=2)) if call == "query" else (
        lambda: store.scan(table, limit=2))  # fmt: skip
    with pytest.raises(StoreCorrupted, match="lacks its key attribute 'sk'"):
        page()


def test_an_unreadable_expired_row_is_left_in_place_and_the_sweep_goes_on(store: Any) -> None:
    """Rows under the TTL whose bytes do not decode, or decode to an item without its key, are skipped and named;
    the other expired items go; the background sweeper neither dies of them nor skips the table's trim."""
    import time

    from storeswap.core.streams import TtlSweeper

    name = f"corrupt-{uuid.uuid4().hex[:12]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), ttl_attribute="exp", stream="KEYS_ONLY"))
    past = int(time.time()) - 100  # expired, and recent enough for the sweep (TTL_MAX_AGE_SECONDS)
    try:
        for pk in "abcd":
            store.put(name, {"pk": pk, "exp": past})
        with psycopg.connect(store.conninfo, autocommit=True) as conn:
            conn.execute("SET storeswap.changelog = 'off'")
            for pk, blob in (("b", DAMAGED["truncated"]), ("d", encode_item({"exp": Decimal(past)}))):
                conn.execute(f'UPDATE "{store.physical_table(name)}" SET item = %s WHERE pk = %s', (blob, pk.encode()))
        with pytest.raises(StoreCorrupted, match=r"2 row\(s\) under the TTL cannot be read.*removed 2 other") as info:
            store.expire(name, now=past + 50)
        assert info.value.removed == 2  # the count, not only its text
        assert sorted(r[1] for r in _rows(store, name)) == [b"b", b"d"]  # the damaged rows, kept for repair

        store.put(name, {"pk": "e", "exp": past})
        trimmed: list[str] = []
        sweeper = TtlSweeper(store, interval_s=3600)
        original = store.trim_changes
        store.trim_changes = lambda table, **kw: trimmed.append(table) or original(table, **kw)
        store.list_tables = lambda: [name]  # this table only: another test's expired items would count too
        try:
            # The damaged rows fail the expiry (logged), the item beside them still goes and is counted, and the
            # trim still runs.
            assert sweeper.sweep_once() == 1
        finally:
            del store.trim_changes, store.list_tables
        assert name in trimmed and sweeper.removed == 1
        assert sorted(r[1] for r in _rows(store, name)) == [b"b", b"d"]
    finally:
        store.delete_table(name)


def test_a_page_whose_last_item_names_another_key_is_store_corrupted_not_a_loop(store: Any, table: str) -> None:
    """The next page starts after the last item's key, read from its bytes: bytes naming an earlier key restarted
    the same rows for ever (or went back over them), and a key of the wrong type raised AttributeError."""
    from storeswap.adapters.postgres.store import CHUNK_MAX

    assert CHUNK_MAX == 1000  # the damaged row below ends the first chunk
    import threading

    store.bulk_put(table, [{"pk": "p", "sk": f"{i:05d}", "v": 1} for i in range(1200)])
    cases = [({"pk": "p", "sk": "00000"}, {}), ({"pk": "p", "sk": "0"}, {}),
             ({"pk": "p", "sk": Decimal(7)}, {})]  # fmt: skip
    for damaged, kw in cases:
        with psycopg.connect(store.conninfo, autocommit=True) as conn:
            conn.execute("SET storeswap.changelog = 'off'")
            conn.execute(
                f'UPDATE "{store.physical_table(table)}" SET item = %s WHERE sk = %s',
                (encode_item({**damaged, "v": 1}), b"00999"),  # the last row of the first chunk (CHUNK_MAX)
            )
        caught: list[BaseException] = []

        def read(kw: dict[str, Any] = kw, caught: list[BaseException] = caught) -> None:
            try:
                store.query(table, "pk = :p", values={":p": "p"}, **kw)
            except BaseException as e:
                caught.append(e)

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(120)  # a hang guard, not a timing check
        assert not t.is_alive(), f"{damaged}: the query never ends"
        assert len(caught) == 1 and isinstance(caught[0], StoreCorrupted), (damaged, caught)
        store.bulk_put(table, [{"pk": "p", "sk": "00999", "v": 1}])


def test_a_change_record_whose_image_lacks_its_key_is_store_corrupted(store: Any, table: str) -> None:
    store.put(table, {"pk": "p", "sk": "1", "v": 1})
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute(
            "UPDATE storeswap_changes SET new_item = %s WHERE stream_id = "
            "(SELECT id FROM storeswap_streams WHERE name = %s AND disabled IS NULL)",
            (encode_item({"v": 1}), table),
        )
    with pytest.raises(StoreCorrupted, match="an image without its key"):
        list(store.iter_changes(table))


def test_a_damaged_catalog_entry_is_store_corrupted_naming_the_table(store: Any, url: str) -> None:
    from storeswap.adapters.postgres import PostgresStore

    name = f"corrupt-{uuid.uuid4().hex[:12]}"
    store.create_table(TableSpec(name, KeyAttribute("pk")))
    try:
        for spec_text in ('{"x":', '{"name": 1}', "[]", '"' + "[" * 100_000):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("UPDATE storeswap_catalog SET spec = %s WHERE name = %s", (spec_text, name))
            fresh = PostgresStore(url)  # no cached spec: it reads the entry
            try:
                for call in (lambda s=fresh: s.describe_table(name), lambda s=fresh: s.get(name, {"pk": "a"})):
                    with pytest.raises(StoreCorrupted, match=f"table {name}: its entry in storeswap_catalog"):
                        call()
            finally:
                fresh.close()
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("DELETE FROM storeswap_catalog WHERE name = %s RETURNING physical", (name,)).fetchone()
            conn.execute(f'DROP TABLE IF EXISTS "{row[0]}"')


def test_the_gateway_answers_a_damaged_row_with_a_500_and_no_detail(store: Any, table: str) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from storeswap.gateway.server import GatewayServer

    store.put(table, {"pk": "p", "sk": "1", "v": 1})
    _damage_items(store, table, DAMAGED["version"])
    server = GatewayServer(store).start()
    try:
        client = boto3.client(
            "dynamodb", endpoint_url=server.endpoint_url, region_name="us-east-1", aws_access_key_id="x",
            aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip
        with pytest.raises(ClientError) as caught:
            client.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "1"}})
        response = caught.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert response["Error"]["Code"] == "InternalServerError"
        assert response["Error"]["Message"] == "The store behind the gateway holds data it cannot read"
    finally:
        server.stop()


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.binary(max_size=64), st.integers(0, len(_GOOD)), st.binary(min_size=1, max_size=8))
def test_decoding_any_bytes_gives_an_item_or_store_corrupted(tail: bytes, at: int, patch: bytes) -> None:
    for blob in (b"\x01" + tail, _GOOD[:at] + patch + _GOOD[at + len(patch) :]):
        try:
            decode_item(blob)
        except StoreError as e:
            assert isinstance(e, StoreCorrupted)


def test_encoding_a_value_the_port_does_not_hold_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        encode_item({"pk": "a", "f": object()})
    assert decode_item(encode_item({"pk": "a", "ss": StringSet({"x"})})) == {"pk": "a", "ss": StringSet({"x"})}
