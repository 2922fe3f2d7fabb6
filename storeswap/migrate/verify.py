"""``verify_tables``: prove two tables read back the same, without trusting the copy that made them.

Compared: the table spec (keys, every index with its key schema and
projection, order-independently; the TTL attribute; the stream setting —
any difference makes the tables not identical), every base-table item
(below), and every secondary index's content in index order
(:mod:`storeswap.migrate.verify_index`).

Pass 1 streams both tables (parallel segments on each side) and keeps, per
hash bucket (``partition_bucket(pk) % buckets``), an item count and the sum
modulo 2**256 of the SHA-256 of each item's canonical encoding
(:mod:`storeswap.migrate.canonical`).  Memory is O(buckets), whatever the
table size.  Buckets whose count or digest differ are then re-read (pass 2)
a group at a time — groups sized so that at most ``diff_budget`` source
items are held — and compared by key: items missing on the target, extra
items, and items that differ, each with a field-level diff.

Pass 2 re-scans whole tables and keeps only the differing buckets, because
stores do not share a segment layout (DynamoDB's parallel-scan segments are
its own), so a bucket cannot be read on its own everywhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
from attrs import define, field

from storeswap.core.errors import StoreError
from storeswap.core.keys import partition_bucket
from storeswap.core.port import ItemStore
from storeswap.core.schema import TableSpec
from storeswap.core.values import Item, normalize_value
from storeswap.migrate.canonical import DIGEST_MODULUS, canonical_bytes, canonical_key, item_digest
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.diff import FieldDifference, diff_items
from storeswap.migrate.engine import MAX_LOCAL_THREADS
from storeswap.migrate.sources import ScanSource, as_source
from storeswap.migrate.verify_index import IndexReport, verify_index

__all__ = [
    "verify_tables",
    "VerifyReport",
    "BucketDifference",
    "ItemDifference",
    "FieldDifference",
    "diff_items",
    "spec_differences",
    "IndexReport",
    "bucket_of",
    "segment_digests",
    "combine_digests",
    "DigestRunner",
    "DEFAULT_BUCKETS",
]

DEFAULT_BUCKETS = 1024


@define(frozen=True)
class ItemDifference:
    """An item that is missing on the target, extra on the target, or changed (with field differences)."""

    kind: str
    key: dict[str, Any]
    fields: tuple[FieldDifference, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"kind": self.kind, "key": marshal_item(self.key)}
        if self.fields:
            out["fields"] = [f.to_json() for f in self.fields]
        return out


@define(frozen=True)
class BucketDifference:
    """A hash bucket whose count or digest differs."""

    bucket: int
    source_count: int
    target_count: int
    source_digest: str
    target_digest: str


@define
class VerifyReport:
    """The outcome of :func:`verify_tables`; ``identical`` is the verdict."""

    table: str
    target_table: str
    buckets: int
    source_items: int = 0
    target_items: int = 0
    source_digest: str = ""
    target_digest: str = ""
    spec_differences: list[str] = field(factory=list)
    indexes: list[IndexReport] = field(factory=list)
    differing_buckets: list[BucketDifference] = field(factory=list)
    missing: int = 0
    extra: int = 0
    changed: int = 0
    details: list[ItemDifference] = field(factory=list)
    details_truncated: bool = False
    seconds: float = 0.0

    @property
    def identical(self) -> bool:
        """True when both sides have the same spec, the same items, and every index reads back the same."""
        return (
            not self.differing_buckets
            and not self.spec_differences
            and self.source_digest == self.target_digest
            and all(i.identical for i in self.indexes)
        )

    @property
    def compared(self) -> dict[str, Any]:
        """What this verify compared (``--json``): spec fields, base-table items, and which indexes."""
        return {
            "spec": list(SPEC_FIELDS),
            "items": "every base-table item: per-bucket counts and digests, then a field diff of differing buckets",
            "indexes": [i.name for i in self.indexes],
            "index_method": "per index partition, in index order: counts and ordered digests, then an entry diff",
        }

    def to_json(self) -> dict[str, Any]:
        """A machine-readable report (``storeswap verify --json``)."""
        return {
            "identical": self.identical,
            "table": self.table,
            "target_table": self.target_table,
            "buckets": self.buckets,
            "source_items": self.source_items,
            "target_items": self.target_items,
            "source_digest": self.source_digest,
            "target_digest": self.target_digest,
            "compared": self.compared,
            "spec_differences": self.spec_differences,
            "indexes": [i.to_json() for i in self.indexes],
            "differing_buckets": [attrs.asdict(b) for b in self.differing_buckets],
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
            "details": [d.to_json() for d in self.details],
            "details_truncated": self.details_truncated,
            "seconds": round(self.seconds, 3),
        }


def bucket_of(spec: TableSpec, item: Mapping[str, Any], buckets: int) -> int:
    """The verify bucket of an item: its partition key's hash bucket modulo ``buckets``."""
    value = item.get(spec.partition_key.name)
    try:
        return partition_bucket(normalize_value(value)) % buckets
    except (StoreError, TypeError):
        # An item a store could not hold (read from an export): still bucketed deterministically.
        return int.from_bytes(canonical_bytes(value)[-8:].rjust(8, b"\0"), "big") % buckets


#: The parts of a table spec verify compares (every one a reader can observe).
SPEC_FIELDS = ("partition_key", "sort_key", "global_indexes", "local_indexes", "ttl_attribute", "stream")


def _index_forms(spec: TableSpec) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind, entries in (("global", spec.to_dict()["global_indexes"]), ("local", spec.to_dict()["local_indexes"])):
        for entry in entries:
            form = {k: v for k, v in entry.items() if k != "name"}
            form["projection"] = {**form["projection"], "include": sorted(form["projection"]["include"])}
            out[entry["name"]] = {"kind": kind, **form}
    return out


def spec_differences(a: TableSpec, b: TableSpec) -> list[str]:
    """Every difference between two specs a reader could observe, names aside; indexes compared by name."""
    da, db = a.to_dict(), b.to_dict()
    out = []
    for name in ("partition_key", "sort_key", "ttl_attribute", "stream"):
        if da[name] != db[name]:
            out.append(f"{name}: source {da[name]} target {db[name]}")
    ia, ib = _index_forms(a), _index_forms(b)
    for name in sorted(set(ia) | set(ib)):
        if name not in ib:
            out.append(f"index {name}: missing on the target (source {ia[name]})")
        elif name not in ia:
            out.append(f"index {name}: extra on the target ({ib[name]})")
        elif ia[name] != ib[name]:
            out.append(f"index {name}: source {ia[name]} target {ib[name]}")
    return out


def _stream(src: ScanSource, table: str, segments: int, batch: int, make: Callable[[], Callable[[Item], None]]) -> None:
    """Feed every item of ``table`` to a per-segment consumer, segments in parallel threads."""

    def run(seg: int) -> None:
        consume = make()
        for page in src.pages(table, seg, segments, None, batch):
            for item in page.items:
                consume(item)

    with ThreadPoolExecutor(max_workers=min(segments, MAX_LOCAL_THREADS), thread_name_prefix="storeswap-verify") as pool:
        for f in [pool.submit(run, s) for s in range(segments)]:
            f.result()


def segment_digests(
    src: ScanSource, table: str, spec: TableSpec, buckets: int, segment: int, segments: int, batch: int
) -> tuple[list[int], list[int]]:
    """Per-bucket item counts and digest sums of one scan segment (a task on a distributed engine)."""
    c = [0] * buckets
    s = [0] * buckets
    for page in src.pages(table, segment, segments, None, batch):
        for item in page.items:
            b = bucket_of(spec, item, buckets)
            c[b] += 1
            s[b] += item_digest(item)
    return c, s


def combine_digests(partials: Iterable[tuple[list[int], list[int]]], buckets: int) -> tuple[list[int], list[int]]:
    """Add up per-segment ``(counts, sums)`` into the table's, sums modulo :data:`DIGEST_MODULUS`."""
    counts = [0] * buckets
    sums = [0] * buckets
    for c, s in partials:
        for b in range(buckets):
            counts[b] += c[b]
            sums[b] = (sums[b] + s[b]) % DIGEST_MODULUS
    return counts, sums


#: Computes one side's digests: ``(side, table, spec, buckets, segments, batch) -> (counts, sums)``;
#: side is "source" or "target".  The default runs segments on threads; see ``distributed.digests_on``.
DigestRunner = Callable[[str, str, TableSpec, int, int, int], tuple[list[int], list[int]]]


def _digests(
    src: ScanSource, table: str, spec: TableSpec, buckets: int, segments: int, batch: int
) -> tuple[list[int], list[int]]:
    with ThreadPoolExecutor(max_workers=min(segments, MAX_LOCAL_THREADS), thread_name_prefix="storeswap-verify") as pool:
        futures = [
            pool.submit(segment_digests, src, table, spec, buckets, seg, segments, batch) for seg in range(segments)
        ]
        return combine_digests((f.result() for f in futures), buckets)


def _groups(diff: list[BucketDifference], budget: int) -> Iterable[set[int]]:
    group: set[int] = set()
    size = 0
    for d in diff:
        n = max(d.source_count, d.target_count)
        if group and size + n > budget:
            yield group
            group, size = set(), 0
        group.add(d.bucket)
        size += n
    if group:
        yield group


def verify_tables(
    source: ItemStore | ScanSource,
    target: ItemStore | ScanSource,
    table: str,
    target_table: str | None = None,
    buckets: int = DEFAULT_BUCKETS,
    *,
    segments: int = 4,
    batch: int = 1000,
    max_details: int = 100,
    diff_budget: int = 100_000,
    digests: DigestRunner | None = None,
) -> VerifyReport:
    """Compare ``table`` on ``source`` with ``target_table`` on ``target`` item by item (see the module docstring).

    ``digests`` computes pass 1's bucket digests elsewhere (as tasks on an engine); by default threads here.

    ``max_details`` caps the differences listed (the counts are always
    complete); ``diff_budget`` caps the source items held at once in pass 2.
    """
    if buckets < 1 or segments < 1:
        raise ValueError("buckets and segments must be at least 1")
    src, dst = as_source(source), as_source(target)
    target_table = target_table or table
    started = time.perf_counter()
    spec = src.describe(table)
    tspec = dst.describe(target_table)
    report = VerifyReport(table, target_table, buckets)
    report.spec_differences = spec_differences(spec, tspec)

    with ThreadPoolExecutor(max_workers=2) as pool:
        if digests is None:
            fs = pool.submit(_digests, src, table, spec, buckets, segments, batch)
            ft = pool.submit(_digests, dst, target_table, spec, buckets, segments, batch)
        else:
            fs = pool.submit(digests, "source", table, spec, buckets, segments, batch)
            ft = pool.submit(digests, "target", target_table, spec, buckets, segments, batch)
        (sc, ss), (tc, ts) = fs.result(), ft.result()
    report.source_items, report.target_items = sum(sc), sum(tc)
    report.source_digest = f"{sum(ss) % DIGEST_MODULUS:064x}"
    report.target_digest = f"{sum(ts) % DIGEST_MODULUS:064x}"
    report.differing_buckets = [
        BucketDifference(b, sc[b], tc[b], f"{ss[b]:064x}", f"{ts[b]:064x}")
        for b in range(buckets)
        if sc[b] != tc[b] or ss[b] != ts[b]
    ]

    for group in _groups(report.differing_buckets, diff_budget):
        _diff_group(src, dst, table, target_table, spec, buckets, group, segments, batch, max_details, report)
    report.indexes = [
        verify_index(
            src,
            dst,
            table,
            target_table,
            spec,
            tspec,
            ix.name,
            batch=batch,
            max_details=max_details,
            diff_budget=diff_budget,
        )
        for ix in spec.indexes()
        if ix.name is not None
    ]
    report.seconds = time.perf_counter() - started
    return report


def _diff_group(
    src: ScanSource,
    dst: ScanSource,
    table: str,
    target_table: str,
    spec: TableSpec,
    buckets: int,
    group: set[int],
    segments: int,
    batch: int,
    max_details: int,
    report: VerifyReport,
) -> None:
    lock = threading.Lock()
    held: dict[bytes, Item] = {}

    def make_source() -> Callable[[Item], None]:
        def consume(item: Item) -> None:
            if bucket_of(spec, item, buckets) in group:
                k = canonical_key(spec, item)
                with lock:
                    held[k] = item

        return consume

    _stream(src, table, segments, batch, make_source)

    def note(diff: ItemDifference) -> None:
        if len(report.details) < max_details:
            report.details.append(diff)
        else:
            report.details_truncated = True

    def key_of(item: Item) -> dict[str, Any]:
        return {n: item[n] for n in spec.key_names if n in item}

    def make_target() -> Callable[[Item], None]:
        def consume(item: Item) -> None:
            if bucket_of(spec, item, buckets) not in group:
                return
            k = canonical_key(spec, item)
            with lock:
                original = held.pop(k, None)
                if original is None:
                    report.extra += 1
                    note(ItemDifference("extra", key_of(item)))
                    return
            fields = diff_items(original, item)
            if fields:
                with lock:
                    report.changed += 1
                    note(ItemDifference("changed", key_of(original), tuple(fields)))

        return consume

    _stream(dst, target_table, segments, batch, make_target)
    for item in held.values():
        report.missing += 1
        note(ItemDifference("missing", key_of(item)))
