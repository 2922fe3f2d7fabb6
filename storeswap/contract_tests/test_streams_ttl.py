"""S1-S4: time to live and change streams.

The port has no change stream and no TTL sweeper yet, so every store fails
these tests today; each is a strict ``notimpl`` xfail on every built-in
store, raising the AttributeError of the missing method.  They are written
against the intended API so that they start to count the moment it exists:

- ``store.changes(table)`` → the table's change events in order, each with
  ``kind`` (INSERT / MODIFY / REMOVE), ``keys``, ``new_image``,
  ``old_image`` and ``by_system`` (True for TTL deletes);
- ``store.expire(table, now=epoch_seconds)`` → remove the items whose TTL
  attribute has passed, as DynamoDB's background sweeper does.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from storeswap.contract_tests.markers import notimpl
from storeswap.contract_tests.plugin import TableFactory
from storeswap.core.port import ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec

ALL_STORES = ["memory", "postgres", "dynamodb"]
NO_STREAMS = notimpl(ALL_STORES, reason="the port has no change stream (changes) yet", raises=AttributeError)
NO_TTL = notimpl(ALL_STORES, reason="the port has no TTL sweeper (expire) yet", raises=AttributeError)


def _stream_table(table_factory: TableFactory, view: str = "NEW_AND_OLD_IMAGES") -> str:
    spec = TableSpec("placeholder", KeyAttribute("pk"), KeyAttribute("sk"), ttl_attribute="expires", stream=view)  # type: ignore[arg-type]
    return table_factory(spec)


def _events(store: ItemStore, table: str) -> list[Any]:
    return list(store.changes(table))  # type: ignore[attr-defined]


@pytest.mark.req("S1", "S2")
@NO_TTL
def test_expired_items_are_removed_by_the_system(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    now = int(time.time())
    store.put(table, {"pk": "a", "sk": "old", "expires": now - 60})
    store.put(table, {"pk": "a", "sk": "new", "expires": now + 3600})
    store.put(table, {"pk": "a", "sk": "text", "expires": "not a number"})  # S1: other types are ignored
    store.put(table, {"pk": "a", "sk": "ancient", "expires": now - 6 * 365 * 86400})  # S1: > 5 years ago: ignored
    assert store.get(table, {"pk": "a", "sk": "old"}) is not None  # S2: readable until removed
    store.expire(table, now=now)  # type: ignore[attr-defined]
    assert store.get(table, {"pk": "a", "sk": "old"}) is None
    for kept in ("new", "text", "ancient"):
        assert store.get(table, {"pk": "a", "sk": kept}) is not None


@pytest.mark.req("S2", "S3")
@NO_TTL
def test_a_ttl_delete_is_a_system_remove_event(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    now = int(time.time())
    store.put(table, {"pk": "a", "sk": "old", "expires": now - 60})
    store.expire(table, now=now)  # type: ignore[attr-defined]
    events = _events(store, table)
    assert [e.kind for e in events] == ["INSERT", "REMOVE"]
    assert events[-1].by_system is True


@pytest.mark.req("S3")
@NO_STREAMS
def test_insert_modify_remove_events_in_item_order(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.update(table, {"pk": "a", "sk": "1"}, "SET n = n + :one", values={":one": 1})
    store.delete(table, {"pk": "a", "sk": "1"})
    events = _events(store, table)
    assert [e.kind for e in events] == ["INSERT", "MODIFY", "REMOVE"]
    assert events[1].old_image["n"] == Decimal(1) and events[1].new_image["n"] == Decimal(2)
    assert all(e.by_system is False for e in events)


@pytest.mark.req("S3")
@NO_STREAMS
@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_stream_view_types(store: ItemStore, table_factory: TableFactory, view: str) -> None:
    table = _stream_table(table_factory, view)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.put(table, {"pk": "a", "sk": "1", "n": 2})
    event = _events(store, table)[-1]
    assert event.keys == {"pk": "a", "sk": "1"}
    assert (event.new_image is not None) == (view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"))
    assert (event.old_image is not None) == (view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"))


@pytest.mark.req("S4")
@NO_STREAMS
def test_a_write_that_changes_nothing_emits_no_event(store: ItemStore, table_factory: TableFactory) -> None:
    table = _stream_table(table_factory)
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.put(table, {"pk": "a", "sk": "1", "n": 1})
    store.delete(table, {"pk": "a", "sk": "missing"})
    assert [e.kind for e in _events(store, table)] == ["INSERT"]
