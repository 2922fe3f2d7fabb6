"""What a table holds and which requirements of ``docs/semantics.md`` it relies on.

:class:`ProfilingSource` profiles a table during the readiness check's own
scan (:func:`profile_table` reads it separately when needed): it records the value
types, NUL characters, nesting and sizes it finds, and keeps an evenly
spread sample of items for the benchmark.  :func:`requirement_usage` turns
the table's spec and profile into "used" or "not used, because ..." per
requirement id: a requirement counts as used unless the table visibly cannot
exercise it (no index, no set value, no TTL attribute, ...), since the
application's own calls are not visible from the data.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from attrs import define, field

from storeswap.core.port import ItemStore
from storeswap.core.requests import Page
from storeswap.core.schema import TableSpec
from storeswap.core.values import BinarySet, Item, NumberSet, StringSet, item_size
from storeswap.migrate.sources import ScanSource, as_source

__all__ = ["TableProfile", "Profiler", "ProfilingSource", "profile_table", "requirement_usage"]


@define
class TableProfile:
    """Facts about the items read from a table."""

    items_read: int = 0
    complete: bool = True
    types: Counter[str] = field(factory=Counter)
    nul: bool = False
    empty_values: bool = False
    max_depth: int = 0
    max_item_bytes: int = 0
    total_bytes: int = 0
    index_items: dict[str, int] = field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "items_read": self.items_read,
            "complete": self.complete,
            "types": dict(sorted(self.types.items())),
            "nul": self.nul,
            "empty_values": self.empty_values,
            "max_depth": self.max_depth,
            "max_item_bytes": self.max_item_bytes,
            "mean_item_bytes": round(self.total_bytes / self.items_read) if self.items_read else 0,
            "index_items": self.index_items,
        }


def _walk(value: Any, profile: TableProfile, depth: int) -> None:
    if isinstance(value, str):
        profile.types["S"] += 1
        profile.nul |= "\0" in value
        profile.empty_values |= value == ""
    elif isinstance(value, bool):
        profile.types["BOOL"] += 1
    elif value is None:
        profile.types["NULL"] += 1
    elif isinstance(value, (Decimal, int)):
        profile.types["N"] += 1
    elif isinstance(value, (bytes, bytearray)):
        profile.types["B"] += 1
        profile.empty_values |= len(value) == 0
    elif isinstance(value, Mapping):
        profile.types["M"] += 1
        profile.max_depth = max(profile.max_depth, depth + 1)
        for k, v in value.items():
            profile.nul |= "\0" in k
            _walk(v, profile, depth + 1)
    elif isinstance(value, list):
        profile.types["L"] += 1
        profile.max_depth = max(profile.max_depth, depth + 1)
        for v in value:
            _walk(v, profile, depth + 1)
    elif isinstance(value, StringSet):
        profile.types["SS"] += 1
        profile.nul |= any("\0" in s for s in value)
    elif isinstance(value, NumberSet):
        profile.types["NS"] += 1
    elif isinstance(value, BinarySet):
        profile.types["BS"] += 1


class Profiler:
    """Builds a :class:`TableProfile` and an evenly spread sample from items fed to it (thread-safe)."""

    def __init__(self, spec: TableSpec, sample: int = 300) -> None:
        self.spec = spec
        self.sample = sample
        self.profile = TableProfile()
        self._kept: list[Item] = []
        self._every = 1
        self._lock = threading.Lock()

    def add(self, item: Item) -> None:
        """Account for one item."""
        walked = TableProfile()
        for name, value in item.items():
            walked.nul |= "\0" in name
            _walk(value, walked, 0)
        size = item_size(item)
        in_index = [i.name or "" for i in self.spec.indexes() if all(n in item for n in i.key_names)]
        with self._lock:
            p = self.profile
            p.items_read += 1
            p.max_item_bytes = max(p.max_item_bytes, size)
            p.total_bytes += size
            p.types.update(walked.types)
            p.nul |= walked.nul
            p.empty_values |= walked.empty_values
            p.max_depth = max(p.max_depth, walked.max_depth)
            for name in in_index:
                p.index_items[name] = p.index_items.get(name, 0) + 1
            # An even spread without knowing the count: keep every `every`-th item, halve when full.
            if (p.items_read - 1) % self._every == 0:
                self._kept.append(item)
                if len(self._kept) >= 2 * self.sample:
                    self._kept = self._kept[::2]
                    self._every *= 2

    def result(self) -> tuple[TableProfile, list[Item]]:
        """The profile and up to ``sample`` items."""
        with self._lock:
            step = max(1, len(self._kept) // self.sample) if self.sample else 1
            return self.profile, self._kept[::step][: self.sample]


class ProfilingSource:
    """A :class:`~storeswap.migrate.sources.ScanSource` over a store that feeds every item read to a :class:`Profiler`.

    Handed to ``check_table``, it profiles the table during the check's own
    scan instead of a second one.  A segment read twice (the check's second
    pass over number keys) is fed once.
    """

    def __init__(self, source: ItemStore | ScanSource, profiler: Profiler) -> None:
        self._inner = as_source(source)
        self.kind = self._inner.kind
        self.profiler = profiler
        self._fed: set[tuple[int, int]] = set()
        self._lock = threading.Lock()

    def describe(self, table: str) -> TableSpec:
        """The table's spec."""
        return self._inner.describe(table)

    def pages(self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int) -> Iterator[Page]:
        """The store's pages, each item also given to the profiler (first read of a segment only)."""
        with self._lock:
            feed = (segment, total_segments) not in self._fed
            self._fed.add((segment, total_segments))
        for page in self._inner.pages(table, segment, total_segments, cursor, limit):
            if feed:
                for item in page.items:
                    self.profiler.add(item)
            yield page

    def estimate_count(self, table: str) -> int | None:
        """As the store source says."""
        return self._inner.estimate_count(table)

    def close(self) -> None:
        """Nothing: the store belongs to the caller."""


def profile_table(
    source: ItemStore | ScanSource, table: str, *, limit: int = 20_000, sample: int = 300
) -> tuple[TableProfile, list[Item]]:
    """Read up to ``limit`` items of ``table``; returns the profile and ``sample`` items spread over them."""
    src = as_source(source)
    profiler = Profiler(src.describe(table), sample)
    for page in src.pages(table, 0, 1, None, min(1000, limit)):
        for item in page.items:
            if profiler.profile.items_read >= limit:
                profiler.profile.complete = False
                return profiler.result()
            profiler.add(item)
    return profiler.result()


def requirement_usage(spec: TableSpec, profile: TableProfile, requirement_ids: list[str]) -> dict[str, str | None]:
    """Per requirement id: ``None`` when the table relies on it, else why it does not."""
    partial = "" if profile.complete else f" (in the first {profile.items_read:,} items read)"
    unused: dict[str, str] = {}
    if not spec.global_indexes and not spec.local_indexes:
        for req in ("K3", "Q5", "Q6"):
            unused[req] = "the table has no secondary index"
    elif not spec.global_indexes:
        unused["Q5"] = "the table has no global secondary index"
    if not (profile.types["SS"] or profile.types["NS"] or profile.types["BS"]):
        unused["V3"] = f"no set values{partial}"
    if not profile.nul:
        unused["V5"] = f"no U+0000 in any name or value{partial}"
    if profile.max_depth < 2:
        unused["V7"] = f"no nested lists or maps{partial}"
    if spec.ttl_attribute is None:
        unused["S1"] = unused["S2"] = "the table has no TTL attribute"
    if spec.stream is None:
        unused["S3"] = unused["S4"] = "the table has no change stream"
    return {req: unused.get(req) for req in requirement_ids}
