"""A library of deliberately broken stores, each a few lines over the memory store.

Each store breaks one thing a careless adapter could break, and only through
the port's public methods, so the contract suite and ``evaluate`` see it the
way they would see a real adapter's bug.  :data:`BROKEN_STORES` maps a name
to ``(class, part)``: ``part`` is the part of ``evaluate`` that must find the
breakage (``verify`` when the copy of the matrix table shows it, ``contract``
when only a call the copy does not make shows it).

Every class has a contract-suite factory ``make_<name>`` in this module
(``--store-factory tests/broken_store.py:make_index_empty``); ``make`` is the
historical binary-dropping one.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from decimal import Context, Decimal
from typing import Any

import attrs

from storeswap.adapters.memory import MemoryStore
from storeswap.core.requests import Page
from storeswap.core.schema import TableSpec
from storeswap.core.values import BinarySet, Item, NumberSet, StringSet, item_size

__all__ = ["BROKEN_STORES", "BrokenStore", "BinaryDroppingStore", "DropsReplayedWritesStore", "factory_spec", "make"]


class BrokenStore(MemoryStore):
    """A memory store whose reads pass through :meth:`distort` (identity here); ``breakage`` says what is wrong."""

    breakage = "nothing"

    def distort(self, item: Item) -> Item:
        """What a read returns instead of ``item``."""
        return item

    def _items(self, items: Iterable[Item]) -> list[Item]:
        return [self.distort(i) for i in items]

    def get(self, table: str, key: Mapping[str, Any], **kwargs: Any) -> Item | None:
        item = super().get(table, key, **kwargs)
        return None if item is None else self.distort(item)

    def query(self, table: str, key_condition: Any, **kwargs: Any) -> Page:
        page = super().query(table, key_condition, **kwargs)
        return attrs.evolve(page, items=self._items(page.items))

    def scan(self, table: str, **kwargs: Any) -> Page:
        page = super().scan(table, **kwargs)
        return attrs.evolve(page, items=self._items(page.items))

    def batch_get(self, requests: Mapping[str, Any], **kwargs: Any) -> dict[str, list[Item]]:
        return {t: self._items(items) for t, items in super().batch_get(requests, **kwargs).items()}

    def transact_get(self, gets: Any) -> list[Item | None]:
        return [None if i is None else self.distort(i) for i in super().transact_get(gets)]


def _walk(value: Any, leaf: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, leaf) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, leaf) for v in value]
    return leaf(value)


class IndexEmptyStore(BrokenStore):
    """Queries and scans of a secondary index return nothing."""

    breakage = "index queries return nothing"

    def query(self, table: str, key_condition: Any, **kwargs: Any) -> Page:
        return Page([], None) if kwargs.get("index") else super().query(table, key_condition, **kwargs)

    def scan(self, table: str, **kwargs: Any) -> Page:
        return Page([], None) if kwargs.get("index") else super().scan(table, **kwargs)


class IndexMissesUpdatesStore(BrokenStore):
    """An item last written by ``update`` is missing from every secondary index."""

    breakage = "index misses items written by update"

    def __init__(self) -> None:
        super().__init__()
        self.updated: set[tuple[str, str]] = set()

    def _mark(self, table: str, key: Mapping[str, Any], updated: bool) -> None:
        ident = (table, repr(sorted((k, repr(key[k])) for k in self.spec(table).key_names)))
        (self.updated.add if updated else self.updated.discard)(ident)

    def update(self, table: str, key: Mapping[str, Any], update: Any, **kwargs: Any) -> Item | None:
        out = super().update(table, key, update, **kwargs)
        self._mark(table, key, True)
        return out

    def put(self, table: str, item: Mapping[str, Any], **kwargs: Any) -> Item | None:
        out = super().put(table, item, **kwargs)
        self._mark(table, item, False)
        return out

    def _hidden(self, table: str, items: list[Item]) -> list[Item]:
        keep = []
        for i in items:
            ident = (table, repr(sorted((k, repr(i[k])) for k in self.spec(table).key_names)))
            if ident not in self.updated:
                keep.append(i)
        return keep

    def query(self, table: str, key_condition: Any, **kwargs: Any) -> Page:
        page = super().query(table, key_condition, **kwargs)
        return attrs.evolve(page, items=self._hidden(table, page.items)) if kwargs.get("index") else page

    def scan(self, table: str, **kwargs: Any) -> Page:
        page = super().scan(table, **kwargs)
        return attrs.evolve(page, items=self._hidden(table, page.items)) if kwargs.get("index") else page


class CasefoldOrderStore(BrokenStore):
    """Query pages come back sorted by the case-folded sort key (a linguistic collation), not by UTF-8 bytes."""

    breakage = "sort order by casefold"

    def query(self, table: str, key_condition: Any, **kwargs: Any) -> Page:
        page = super().query(table, key_condition, **kwargs)
        sort_key = self.spec(table).index(kwargs.get("index")).sort_key
        if sort_key is None or sort_key.type != "S":
            return page
        items = sorted(
            page.items,
            key=lambda i: str(i.get(sort_key.name, "")).casefold(),
            reverse=not kwargs.get("forward", True),
        )
        return attrs.evolve(page, items=items)


_FIFTEEN = Context(prec=15)


class RoundedNumbersStore(BrokenStore):
    """Numbers come back rounded to 15 significant digits (a float64 somewhere)."""

    breakage = "numbers rounded to 15 digits"

    def distort(self, item: Item) -> Item:
        def leaf(v: Any) -> Any:
            if isinstance(v, Decimal):
                return _FIFTEEN.plus(v)
            if isinstance(v, NumberSet):
                return NumberSet(_FIFTEEN.plus(x) for x in v)
            return v

        keys = set(item) & {"pk", "sk"}
        return {k: v if k in keys else _walk(v, leaf) for k, v in item.items()}


class SetsAsListsStore(BrokenStore):
    """String, number and binary sets come back as plain lists."""

    breakage = "sets returned as lists"

    def distort(self, item: Item) -> Item:
        def leaf(v: Any) -> Any:
            return sorted(v) if isinstance(v, (StringSet, NumberSet, BinarySet)) else v

        return {k: _walk(v, leaf) for k, v in item.items()}


class BinaryAsStrStore(BrokenStore):
    """Non-key binary values come back as base64 text."""

    breakage = "binary returned as str"

    def distort(self, item: Item) -> Item:
        def leaf(v: Any) -> Any:
            return base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v

        return {k: _walk(v, leaf) for k, v in item.items()}


class EmptyStringsDroppedStore(BrokenStore):
    """Attributes holding an empty string vanish (top level and inside maps)."""

    breakage = "empty strings dropped"

    def distort(self, item: Item) -> Item:
        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items() if x != ""}
            if isinstance(v, list):
                return [clean(x) for x in v]
            return v

        return clean(item)  # type: ignore[no-any-return]


#: Items larger than this are silently lost by :class:`BigItemsDroppedStore`'s bulk writes.
DROP_ABOVE = 300_000


class BigItemsDroppedStore(BrokenStore):
    """Bulk writes (``bulk_put``, ``bulk_load``, ``batch_write``) silently drop items over 300 KB and still report them written."""

    breakage = "items over 300 KB silently dropped by bulk writes"

    def bulk_put(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        items = list(items)
        super().bulk_put(table, [i for i in items if item_size(i) <= DROP_ABOVE])
        return len(items)

    bulk_load = bulk_put  # the migration's load goes the same broken way

    def batch_write(self, requests: Any) -> None:
        kept = [r for r in requests if getattr(r, "item", None) is None or item_size(r.item) <= DROP_ABOVE]
        if kept:
            super().batch_write(kept)


class TtlDroppedStore(BrokenStore):
    """``describe_table`` forgets the TTL attribute (items are kept, the setting is lost)."""

    breakage = "TTL spec dropped"

    def describe_table(self, name: str) -> TableSpec:
        return attrs.evolve(super().describe_table(name), ttl_attribute=None)


class StalePageStore(BrokenStore):
    """A page resumed from a cursor starts one item early: the last item of the previous page comes back."""

    breakage = "a stale page on resume"

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[str, Item] = {}

    def _resume(self, page: Page, cursor: str | None) -> Page:
        items = list(page.items)
        if cursor is not None and cursor in self.last:
            items.insert(0, self.last[cursor])
        if page.cursor is not None and page.items:
            self.last[page.cursor] = page.items[-1]
        return attrs.evolve(page, items=items)

    def query(self, table: str, key_condition: Any, **kwargs: Any) -> Page:
        return self._resume(super().query(table, key_condition, **kwargs), kwargs.get("cursor"))

    def scan(self, table: str, **kwargs: Any) -> Page:
        return self._resume(super().scan(table, **kwargs), kwargs.get("cursor"))


class BinaryDroppingStore(BrokenStore):
    """Every top-level non-key B and BS attribute is lost — like a careless codec."""

    breakage = "binary values dropped"

    def distort(self, item: Item) -> Item:
        return {k: v for k, v in item.items() if k in ("pk", "sk") or not isinstance(v, (bytes, BinarySet))}


class DropsReplayedWritesStore(BrokenStore):
    """Silently loses some of the writes a follower replays: every other delete, every other put of a written item.

    The copy's items pass; only items that carry the live writer's marker
    (``storeswap_live_note``, written by ``evaluate --live``) and deletes
    (the copy never deletes) are dropped — and reported done.  Not in
    :data:`BROKEN_STORES`: only ``evaluate --live`` replays writes, so only it can find this.
    """

    breakage = "replayed writes silently dropped"

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.dropped = 0

    def _drop(self) -> bool:
        self.seen += 1
        if self.seen % 2 == 0:
            self.dropped += 1
            return True
        return False

    def bulk_put(self, table: str, items: Iterable[Mapping[str, Any]]) -> int:
        items = list(items)
        super().bulk_put(table, [i for i in items if "storeswap_live_note" not in i or not self._drop()])
        return len(items)

    bulk_load = bulk_put  # the follower replays through bulk_load

    def batch_write(self, requests: Any) -> None:
        kept = [r for r in requests if getattr(r, "item", None) is not None or not self._drop()]
        if kept:
            super().batch_write(kept)


#: name -> (store class, the evaluate part that must find it).
BROKEN_STORES: dict[str, tuple[type[BrokenStore], str]] = {
    "index_empty": (IndexEmptyStore, "verify"),
    "index_misses_updates": (IndexMissesUpdatesStore, "contract"),
    "casefold_order": (CasefoldOrderStore, "verify"),
    "rounded_numbers": (RoundedNumbersStore, "verify"),
    "sets_as_lists": (SetsAsListsStore, "verify"),
    "binary_as_str": (BinaryAsStrStore, "verify"),
    "empty_strings_dropped": (EmptyStringsDroppedStore, "verify"),
    "big_items_dropped": (BigItemsDroppedStore, "verify"),
    "ttl_dropped": (TtlDroppedStore, "verify"),
    "stale_page": (StalePageStore, "contract"),
    "binary_dropped": (BinaryDroppingStore, "verify"),
}


#: The port's own gaps (no TTL sweeper, no change stream yet): the suite marks them for the built-in stores
#: only, so a factory declares them itself — else every store here would fail S1-S4 and a healthy store
#: given by factory would not be SAFE.
PORT_GAPS: dict[str, tuple[str, type[BaseException]]] = {
    name: ("the port has no TTL sweeper or change stream yet", AttributeError)
    for name in (
        "test_expired_items_are_removed_by_the_system",
        "test_a_ttl_delete_is_a_system_remove_event",
        "test_insert_modify_remove_events_in_item_order",
        "test_stream_view_types",
        "test_a_write_that_changes_nothing_emits_no_event",
    )
}


def _factory(name: str, cls: type[BrokenStore]) -> Callable[[], BrokenStore]:
    def factory() -> BrokenStore:
        return cls()

    factory.gaps = PORT_GAPS  # type: ignore[attr-defined]
    factory.__name__ = f"make_{name}"
    factory.store_name = f"broken-{name}".replace("_", "-")  # type: ignore[attr-defined]
    factory.__doc__ = f"A fresh {cls.__name__} ({cls.breakage})."
    return factory


for _name, (_cls, _part) in BROKEN_STORES.items():
    globals()[f"make_{_name}"] = _factory(_name, _cls)
#: The control: the same wrapper with nothing broken, given by factory like the others (must be SAFE).
make_unbroken = _factory("unbroken", BrokenStore)

#: The historical factory (``--store-factory tests/broken_store.py:make``): binary values dropped.
make = _factory("binary_dropped", BinaryDroppingStore)
make.store_name = "broken"  # type: ignore[attr-defined]


def factory_spec(name: str) -> str:
    """The ``--store-factory`` spec of broken store ``name``."""
    return f"{__file__}:make_{name}"
