"""Verify of secondary indexes: what a reader of each index sees, in index order, on both sides.

For every index of the source spec, the entries of each index partition are
read in index order (index sort key, then the table key, K3) — by querying
the index where the side is a store, or, for a source that cannot be queried
(a DynamoDB export), by deriving the entries from its items with the
reference rules (sparse membership Q6, projection, order).  Each partition
gets a count and an ordered digest (SHA-256 chained over the canonical
encoding of each entry, so order counts); partitions whose counts or digests
differ are compared entry by entry: missing, extra and differing entries by
table key, or, when the same entries come back in another order, the first
position where the order differs.

A global index may lag behind the table on a store that declares
``index_lag = True`` (DynamoDB): there a differing partition of a global
index is read again a few times, a second apart, before it counts as
different.  On every other store a difference counts at once.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from attrs import define, field

from storeswap.core.engine import in_index, index_view
from storeswap.core.errors import StoreError
from storeswap.core.expressions.builders import Key
from storeswap.core.keys import item_order
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import Item
from storeswap.migrate.canonical import canonical_bytes, canonical_item, canonical_key
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.diff import diff_items
from storeswap.migrate.sources import ScanSource, StoreSource

__all__ = ["IndexEntryDifference", "IndexReport", "verify_index", "SETTLE_ATTEMPTS"]

#: Reads of a differing partition before it counts as different (eventually consistent global indexes).
SETTLE_ATTEMPTS = 3
_SETTLE_SECONDS = 1.0


@define(frozen=True)
class IndexEntryDifference:
    """One entry of an index that differs: ``kind`` is missing (on the target), extra, changed or order."""

    kind: str
    partition: Any
    key: dict[str, Any]
    fields: tuple[str, ...] = ()
    position: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form; key values in DynamoDB JSON."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "partition": marshal_item({"v": self.partition})["v"],
            "key": marshal_item(self.key),
        }
        if self.fields:
            out["fields"] = list(self.fields)
        if self.position is not None:
            out["position"] = self.position
        return out


@define
class IndexReport:
    """The comparison of one index: entry counts, ordered digests, and the differences found."""

    name: str
    source_entries: int = 0
    target_entries: int = 0
    source_digest: str = ""
    target_digest: str = ""
    partitions: int = 0
    differing_partitions: int = 0
    missing: int = 0
    extra: int = 0
    changed: int = 0
    order: int = 0
    #: Why the index could not be read on a side (absent from its spec, a read error); then not identical.
    error: str | None = None
    details: list[IndexEntryDifference] = field(factory=list)
    details_truncated: bool = False

    @property
    def identical(self) -> bool:
        """Same entries, same projected content, same order, in every partition."""
        return self.error is None and self.differing_partitions == 0 and self.source_digest == self.target_digest

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "identical": self.identical,
            "source_entries": self.source_entries,
            "target_entries": self.target_entries,
            "source_digest": self.source_digest,
            "target_digest": self.target_digest,
            "partitions": self.partitions,
            "differing_partitions": self.differing_partitions,
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "order": self.order,
            "error": self.error,
            "details": [d.to_json() for d in self.details],
            "details_truncated": self.details_truncated,
        }


class _Side:
    """How one side's index is read: queried on a store, derived from the items of any other source."""

    def __init__(self, src: ScanSource, table: str, spec: TableSpec, index: IndexKeys, batch: int) -> None:
        self.src, self.table, self.spec, self.index, self.batch = src, table, spec, index, batch
        self.derived: dict[bytes, list[Item]] | None = None
        self.values: dict[bytes, Any] = {}

    def partitions(self) -> dict[bytes, Any]:
        """Every index partition value on this side, by canonical encoding."""
        pk = self.index.partition_key.name
        if isinstance(self.src, StoreSource):
            for item in self.src.store.scan_all(self.table, index=self.index.name, limit=self.batch):
                if pk in item:
                    self.values.setdefault(canonical_bytes(item[pk]), item[pk])
            return self.values
        groups: dict[bytes, list[Item]] = defaultdict(list)
        for seg_page in self.src.pages(self.table, 0, 1, None, self.batch):
            for item in seg_page.items:
                if in_index(self.index, item):
                    c = canonical_bytes(item[pk])
                    self.values.setdefault(c, item[pk])
                    groups[c].append(index_view(self.index, self.spec, item))
        for entries in groups.values():
            entries.sort(key=lambda i: item_order(self.index, self.spec, i))
        self.derived = dict(groups)
        return self.values

    def entries(self, partition: bytes, value: Any) -> Iterator[Item]:
        """The partition's entries in index order."""
        if self.derived is not None:
            yield from self.derived.get(partition, [])
            return
        assert isinstance(self.src, StoreSource)
        yield from self.src.store.query_all(
            self.table, Key(self.index.partition_key.name).eq(value), index=self.index.name, limit=self.batch
        )


def _ordered(entries: Iterable[Item], cap: int) -> tuple[int, str, list[Item] | None]:
    """Count, ordered digest, and the entries themselves while there are at most ``cap`` of them."""
    h = hashlib.sha256()
    n = 0
    held: list[Item] | None = []
    for item in entries:
        n += 1
        h.update(hashlib.sha256(canonical_item(item)).digest())
        if held is not None:
            held.append(item)
            if len(held) > cap:
                held = None
    return n, h.hexdigest(), held


def _diff_partition(
    spec: TableSpec, value: Any, a: list[Item], b: list[Item], out: list[IndexEntryDifference]
) -> tuple[int, int, int, int]:
    def key_of(item: Item) -> dict[str, Any]:
        return {n: item[n] for n in spec.key_names if n in item}

    sa = {canonical_key(spec, i): i for i in a}
    sb = {canonical_key(spec, i): i for i in b}
    missing = extra = changed = order = 0
    for k, item in sa.items():
        other = sb.get(k)
        if other is None:
            missing += 1
            out.append(IndexEntryDifference("missing", value, key_of(item)))
        elif canonical_item(other) != canonical_item(item):
            changed += 1
            paths = tuple(f"{d.path} {d.kind}" for d in diff_items(item, other))
            out.append(IndexEntryDifference("changed", value, key_of(item), paths))
    for k, item in sb.items():
        if k not in sa:
            extra += 1
            out.append(IndexEntryDifference("extra", value, key_of(item)))
    if not (missing or extra or changed):
        for pos, (x, y) in enumerate(zip(a, b)):
            if canonical_key(spec, x) != canonical_key(spec, y):
                order += 1
                out.append(IndexEntryDifference("order", value, key_of(y), position=pos))
                break
    return missing, extra, changed, order


def verify_index(
    src: ScanSource,
    dst: ScanSource,
    table: str,
    target_table: str,
    spec: TableSpec,
    target_spec: TableSpec,
    name: str,
    *,
    batch: int = 1000,
    max_details: int = 100,
    diff_budget: int = 100_000,
    sleep: Any = time.sleep,
) -> IndexReport:
    """Compare index ``name`` of ``table`` on ``src`` with the same index of ``target_table`` on ``dst``."""
    report = IndexReport(name)
    index = spec.index(name)
    try:
        target_index = target_spec.index(name)
    except StoreError:
        report.error = "the target table has no index of that name"
        return report
    a, b = _Side(src, table, spec, index, batch), _Side(dst, target_table, target_spec, target_index, batch)
    lags = index.is_global and isinstance(dst, StoreSource) and bool(getattr(dst.store, "index_lag", False))
    attempts = SETTLE_ATTEMPTS if lags else 1
    try:
        pa, pb = a.partitions(), b.partitions()
        keys = sorted(set(pa) | set(pb))
        report.partitions = len(keys)
        whole_a, whole_b = hashlib.sha256(), hashlib.sha256()
        for k in keys:
            value = pa.get(k, pb.get(k))
            na, da, ea = _ordered(a.entries(k, value), diff_budget)
            for attempt in range(attempts):
                nb, db, eb = _ordered(b.entries(k, value), diff_budget)
                if (na, da) == (nb, db) or attempt == attempts - 1:
                    break
                sleep(_SETTLE_SECONDS)
            report.source_entries += na
            report.target_entries += nb
            whole_a.update(k + da.encode())
            whole_b.update(k + db.encode())
            if (na, da) == (nb, db):
                continue
            report.differing_partitions += 1
            if ea is None or eb is None:
                report.details_truncated = True
                continue
            found: list[IndexEntryDifference] = []
            m, e, c, o = _diff_partition(spec, value, ea, eb, found)
            report.missing += m
            report.extra += e
            report.changed += c
            report.order += o
            room = max_details - len(report.details)
            report.details.extend(found[:room])
            if len(found) > room:
                report.details_truncated = True
        report.source_digest, report.target_digest = whole_a.hexdigest(), whole_b.hexdigest()
    except StoreError as e:
        report.error = f"{type(e).__name__}: {e}"
    return report
