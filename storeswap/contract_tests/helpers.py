"""Small helpers shared by the contract tests: typed comparison, snapshots, condition probes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from storeswap.core.errors import ConditionFailed
from storeswap.core.keys import order_value
from storeswap.core.port import ItemStore
from storeswap.core.values import BinarySet, NumberSet, StringSet, normalize_value, type_tag

__all__ = [
    "typed",
    "expect",
    "item_sort_key",
    "snapshot",
    "unchanged",
    "condition_holds",
    "filter_holds",
    "eventually",
    "drain_query",
    "drain_scan",
]


def typed(value: Any) -> Any:
    """A comparable, type-tagged form of a value.

    Plain ``==`` says ``True == Decimal(1)`` and ``{"a"} == StringSet({"a"})``;
    the contract needs the type to survive too, so comparisons go through this.
    """
    if isinstance(value, dict):
        return ("M", tuple(sorted((k, typed(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("L", tuple(typed(v) for v in value))
    if isinstance(value, (StringSet, NumberSet, BinarySet)):
        return (type_tag(value), tuple(sorted(order_value(e) for e in value)))
    if isinstance(value, (set, frozenset)):
        return ("untyped-set", tuple(sorted(repr(e) for e in value)))
    if isinstance(value, Decimal):
        return ("N", str(value))
    if isinstance(value, bool):
        return ("BOOL", value)
    if value is None:
        return ("NULL", None)
    if isinstance(value, str):
        return ("S", value)
    if isinstance(value, bytes):
        return ("B", value)
    # Anything else (int, float, bytearray ...) is not what a store may return.
    return (f"python-{type(value).__name__}", repr(value))


def expect(value: Any) -> Any:
    """``typed`` of an expected value written the easy way (``int`` for numbers, plain sets)."""
    return typed(normalize_value(value))


def item_sort_key(item: Mapping[str, Any]) -> str:
    """A total order over items of any shape (for comparing unordered results)."""
    return repr(typed(dict(item)))


def snapshot(store: ItemStore, table: str) -> list[Any]:
    """Every item of ``table``, typed and sorted: equal snapshots mean equal contents."""
    return sorted((typed(i) for i in store.scan_all(table, consistent=True)), key=repr)


@contextmanager
def unchanged(store: ItemStore, *tables: str) -> Iterator[None]:
    """Assert that the block leaves every item of ``tables`` exactly as it was (section X)."""
    before = {t: snapshot(store, t) for t in tables}
    yield
    after = {t: snapshot(store, t) for t in tables}
    assert after == before, "the failed call changed the store"


def condition_holds(
    store: ItemStore,
    table: str,
    item: Mapping[str, Any],
    condition: Any,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> bool:
    """Write ``item``, then rewrite it under ``condition``; True when the condition held."""
    store.put(table, item)
    try:
        store.put(table, item, condition=condition, values=values, names=names)
    except ConditionFailed:
        return False
    return True


def filter_holds(
    store: ItemStore,
    table: str,
    item: Mapping[str, Any],
    condition: Any,
    values: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
) -> bool:
    """Write ``item`` alone in ``table`` and scan it with ``condition`` as the filter; True when it passes."""
    store.put(table, item)
    items = list(store.scan_all(table, filter=condition, values=values, names=names, consistent=True))
    assert len(items) <= 1
    return bool(items)


def eventually(store: ItemStore, check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Run ``check`` until it stops raising AssertionError (only on stores whose indexes lag).

    Stores declare ``index_lag = True`` when global index reads may be stale
    (DynamoDB); on every other store the check runs exactly once, so a stale
    index there is a failure, not a retry.
    """
    if not getattr(store, "index_lag", False):
        return check()
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def drain_query(store: ItemStore, table: str, key_condition: Any, limit: int, **kwargs: Any) -> list[list[Any]]:
    """Every page of a query with ``limit``, as a list of pages (checks the cursor rules on the way)."""
    pages: list[list[Any]] = []
    cursor = None
    for _ in range(10_000):
        page = store.query(table, key_condition, limit=limit, cursor=cursor, **kwargs)
        assert len(page.items) <= limit, "P1: a page holds at most `limit` items"
        pages.append(page.items)
        if len(page.items) < limit:
            assert page.cursor is None, "P2: a page with fewer than `limit` items has no cursor"
        else:
            assert page.cursor is not None, "P2: a full page has a cursor"
        if page.cursor is None:
            return pages
        cursor = page.cursor
    raise AssertionError("the query never ended")


def drain_scan(store: ItemStore, table: str, limit: int, **kwargs: Any) -> list[list[Any]]:
    """Every page of a scan with ``limit``, as a list of pages (checks the cursor rules on the way)."""
    pages: list[list[Any]] = []
    cursor = None
    for _ in range(10_000):
        page = store.scan(table, limit=limit, cursor=cursor, **kwargs)
        assert len(page.items) <= limit, "P1: a page holds at most `limit` items"
        pages.append(page.items)
        if len(page.items) < limit:
            assert page.cursor is None, "P2: a page with fewer than `limit` items has no cursor"
        else:
            assert page.cursor is not None, "P2: a full page has a cursor"
        if page.cursor is None:
            return pages
        cursor = page.cursor
    raise AssertionError("the scan never ended")
