"""Two processes' stores on one PostgreSQL: DDL through one is seen by the other (the gateway's ``--workers``).

Each :class:`PostgresStore` caches table specs; ``watch_catalog`` drops a
cached spec when any store announces a change of that table (NOTIFY in the
DDL's transaction), so a table re-created with another schema, or given a
TTL attribute, is not served with the old spec.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stores() -> Iterator[tuple[object, object]]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    url = provision()
    ddl, watching = PostgresStore(url, pool_size=2), PostgresStore(url, pool_size=2)
    watching.watch_catalog()
    yield ddl, watching
    ddl.close()
    watching.close()


def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_table_recreated_with_another_schema_is_seen_by_a_watching_store(stores) -> None:
    ddl, watching = stores
    name = f"watch-{uuid.uuid4().hex[:10]}"
    ddl.create_table(TableSpec(name, KeyAttribute("pk")))
    watching.put(name, {"pk": "a", "v": 1})
    assert watching.spec(name).sort_key is None  # cached now
    ddl.delete_table(name)
    ddl.create_table(TableSpec(name, KeyAttribute("pk"), KeyAttribute("sk", "N")))
    assert _eventually(lambda: watching.spec(name).sort_key is not None)
    watching.put(name, {"pk": "a", "sk": 1, "v": 2})  # the new key schema, on the new table
    assert ddl.get(name, {"pk": "a", "sk": 1}) == {"pk": "a", "sk": 1, "v": 2}
    ddl.delete_table(name)


def test_ttl_enabled_through_one_store_reaches_the_other_store_s_writes(stores) -> None:
    ddl, watching = stores
    name = f"watch-{uuid.uuid4().hex[:10]}"
    ddl.create_table(TableSpec(name, KeyAttribute("pk")))
    assert watching.spec(name).ttl_attribute is None  # cached now
    ddl.set_ttl(name, "expires")
    assert _eventually(lambda: watching.spec(name).ttl_attribute == "expires")
    watching.put(name, {"pk": "old", "expires": 1000})  # written with the TTL column filled
    assert ddl.expire(name, now=2000) == 1
    assert ddl.get(name, {"pk": "old"}, consistent=True) is None
    ddl.delete_table(name)


def test_a_store_that_does_not_watch_keeps_its_cache(stores) -> None:
    """The control: without the watcher the stale spec stays (so the tests above can fail)."""
    from storeswap.adapters.postgres import PostgresStore

    ddl, _ = stores
    other = PostgresStore(_url(), pool_size=1)
    try:
        name = f"watch-{uuid.uuid4().hex[:10]}"
        ddl.create_table(TableSpec(name, KeyAttribute("pk")))
        assert other.spec(name).ttl_attribute is None
        ddl.set_ttl(name, "expires")
        time.sleep(0.3)
        assert other.spec(name).ttl_attribute is None
        ddl.delete_table(name)
    finally:
        other.close()


def _url() -> str:
    from storeswap.backends.postgres import provision

    return provision()
