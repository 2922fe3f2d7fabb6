"""Key redesigns and write sharding: a transform maps each source item to zero or more target items.

A transform is a plain function ``fn(item) -> item | iterable of items | None``
named ``module:function`` (or ``path/to/file.py:function``), e.g. re-keying
``USER#id`` to ``TENANT#t#USER#id``, or adding a shard suffix ``#0..#9`` to a
hot partition key (use :func:`storeswap.repository.shard_of`, so the
repository finds the items again).  It receives a copy of the item, so it
may change it in place.  Raising :class:`RejectItem` refuses an item with a
reason; any other exception refuses it too (fail closed).

Three pieces, each usable alone:

- :func:`load_transform` — import the function;
- :func:`check_transform` — the pre-flight check: run the transform over the
  whole source *before anything is written* and report collisions (two
  items mapping to one target key), items it rejects, items it turns into
  invalid items, and key-size overflows (partition key > 2048 bytes, sort
  key > 1024 bytes);
- :class:`TransformedSource` — the source as the transform sees it, a
  :class:`~storeswap.migrate.sources.ScanSource`: hand it to
  ``copy_table`` to write the transformed items, and to ``verify_tables`` to
  prove the target equals the transform of the source (verify streams it
  and digests it like any source).  :func:`transformed_items` is the same
  stream as a plain item iterator (for ``bulk_load``).

The transform must be deterministic: verify runs it again and compares.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Union

import attrs
from attrs import define, field

from storeswap.callables import load_callable
from storeswap.core.errors import StoreError, ValidationError
from storeswap.core.keys import check_item_keys
from storeswap.core.port import ItemStore
from storeswap.core.requests import Page
from storeswap.core.schema import TableSpec
from storeswap.core.values import MAX_PARTITION_KEY_SIZE, MAX_SORT_KEY_SIZE, Item, normalize_item, value_size
from storeswap.migrate.canonical import canonical_key
from storeswap.migrate.sources import ScanSource, as_source

__all__ = [
    "Transform",
    "RejectItem",
    "TransformError",
    "load_transform",
    "transform_identity",
    "apply_transform",
    "transformed_items",
    "TransformedSource",
    "TransformProblem",
    "TransformCheck",
    "check_transform",
    "copy_transformed",
]

TransformResult = Union[Mapping[str, Any], Iterable[Mapping[str, Any]], None]
#: A transform: one source item in, zero or more target items out.
Transform = Callable[[Item], TransformResult]


class RejectItem(Exception):
    """Raised by a transform to refuse one item; the message is the reason the check reports."""


class TransformError(ValidationError):
    """The transform refused an item or produced an invalid one while items were being written or verified.

    ``source_key`` is the key of the source item it happened on; ``report``
    the pre-flight check's findings when :func:`copy_transformed` refused to write.
    """

    def __init__(
        self, message: str, *, source_key: Mapping[str, Any] | None = None, report: TransformCheck | None = None
    ) -> None:
        super().__init__(message)
        self.source_key = dict(source_key or {})
        self.report = report


def load_transform(spec: str) -> Transform:
    """Import ``module:function`` or ``path/to/file.py:function`` (:class:`ConfigurationError` when it cannot)."""
    return load_callable(spec, label="--transform", noun="function")


def transform_identity(fn: Transform) -> str:
    """``module:function@<12 hex of the module's source SHA-256>``: what a checkpoint binds a transform by.

    The hash covers the whole module, so editing the function (or what it
    calls in its module) between a killed copy and its resume is noticed.
    Without readable source only the name is used.
    """
    name = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', type(fn).__name__)}"
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    try:
        text = inspect.getsource(module) if module is not None else inspect.getsource(fn)
    except (OSError, TypeError):
        return name
    return f"{name}@{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"


def _outputs(fn: Transform, item: Item) -> list[Item]:
    """The transform's items for one source item; RejectItem / TypeError say why not."""
    result = fn(copy.deepcopy(item))
    if result is None:
        return []
    if isinstance(result, Mapping):
        return [dict(result)]
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        raise TypeError(f"the transform returned {type(result).__name__}, not an item, items or None")
    out = []
    for r in result:
        if not isinstance(r, Mapping):
            raise TypeError(f"the transform yielded {type(r).__name__}, not an item")
        out.append(dict(r))
    return out


def _source_key(spec: TableSpec, item: Mapping[str, Any]) -> dict[str, Any]:
    return {n: item[n] for n in spec.key_names if n in item}


def apply_transform(fn: Transform, items: Iterable[Item], spec: TableSpec) -> Iterator[Item]:
    """The transformed items of ``items``; :class:`TransformError` on the first refused item.

    ``spec`` is the *source* table's spec (it names the source key in errors).
    """
    for item in items:
        try:
            outs = _outputs(fn, item)
        except RejectItem as e:
            raise TransformError(f"the transform rejected an item: {e}", source_key=_source_key(spec, item)) from None
        except Exception as e:
            raise TransformError(f"the transform failed on an item: {type(e).__name__}: {e}",
                                 source_key=_source_key(spec, item)) from None
        yield from outs


class TransformedSource:
    """A :class:`ScanSource` whose items are the transform of another source's items.

    ``spec`` is the target table's spec (default: the source's, when the
    transform keeps the key schema).  Pages keep the source's cursors, so a
    copy through it resumes where it stopped; a page may hold more or fewer
    items than ``limit`` when the transform fans out or drops items.
    """

    def __init__(self, source: ItemStore | ScanSource, fn: Transform, *, spec: TableSpec | None = None) -> None:
        self.source = as_source(source)
        self.fn = fn
        #: What a copy's checkpoint binds this transform by (:func:`transform_identity`).
        self.identity = transform_identity(fn)
        self._spec = spec
        self.kind = f"{self.source.kind}+transform"

    def __repr__(self) -> str:
        return f"TransformedSource({self.source!r}, {getattr(self.fn, '__qualname__', self.fn)!r})"

    def describe(self, table: str) -> TableSpec:
        """The target spec (renamed to ``table``), else the source's spec."""
        if self._spec is not None:
            return attrs.evolve(self._spec, name=table)
        return self.source.describe(table)

    def pages(self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int) -> Iterator[Page]:
        """The source's pages, each transformed (cursors unchanged)."""
        source_spec = self.source.describe(table)
        for page in self.source.pages(table, segment, total_segments, cursor, limit):
            yield Page(list(apply_transform(self.fn, page.items, source_spec)), page.cursor)

    def estimate_count(self, table: str) -> int | None:
        """Unknown: a transform may drop or multiply items."""
        return None

    def close(self) -> None:
        """Close the underlying source."""
        self.source.close()


def transformed_items(
    source: ItemStore | ScanSource, table: str, fn: Transform, *, batch: int = 1000
) -> Iterator[Item]:
    """Every transformed item of ``table``, streamed one page at a time."""
    src = as_source(source)
    spec = src.describe(table)
    for page in src.pages(table, 0, 1, None, batch):
        yield from apply_transform(fn, page.items, spec)


# ------------------------------------------------------------------- the check


@define(frozen=True)
class TransformProblem:
    """One finding: ``kind`` is collision, rejected, invalid or key_too_large."""

    kind: str
    source_key: dict[str, Any]
    detail: str
    target_key: dict[str, Any] | None = None
    other_source_key: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form (keys in DynamoDB JSON, so their types show)."""
        from storeswap.migrate.ddbjson import marshal_item

        out: dict[str, Any] = {"kind": self.kind, "source_key": marshal_item(self.source_key), "detail": self.detail}
        if self.target_key is not None:
            out["target_key"] = marshal_item(self.target_key)
        if self.other_source_key is not None:
            out["other_source_key"] = marshal_item(self.other_source_key)
        return out


KINDS = ("collision", "rejected", "invalid", "key_too_large")


@define
class TransformCheck:
    """What :func:`check_transform` found; ``ok`` only when the whole source was read and nothing was found."""

    table: str
    target_spec: TableSpec
    source_items: int = 0
    target_items: int = 0
    dropped: int = 0
    max_fan_out: int = 0
    counts: dict[str, int] = field(factory=lambda: dict.fromkeys(KINDS, 0))
    problems: list[TransformProblem] = field(factory=list)
    problems_truncated: bool = False
    complete: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every item was checked and no collision, rejection or invalid item was found."""
        return self.complete and self.error is None and not any(self.counts.values())

    @property
    def verdict(self) -> str:
        """``safe`` / ``unsafe``, or ``unknown`` when the check could not read the whole source (fail closed)."""
        if not self.complete or self.error is not None:
            return "unknown"
        return "safe" if self.ok else "unsafe"

    def lines(self, limit: int = 5) -> list[str]:
        """The report as text lines (the CLI prints them): totals, counts by kind, the first ``limit`` problems."""
        out = [
            f"transform check {self.table}: {self.verdict.upper()}; {self.source_items} source items -> "
            f"{self.target_items} target items ({self.dropped} dropped, fan-out up to {self.max_fan_out})"
        ]
        if self.error is not None:
            out.append(f"  the source could not be read to the end: {self.error}")
        for kind, n in self.counts.items():
            if n:
                out.append(f"  {kind}: {n} item(s)")
        for p in self.problems[:limit]:
            js = p.to_json()
            line = f"    e.g. {p.kind} source key {json.dumps(js['source_key'], ensure_ascii=True)}: {p.detail}"
            if "other_source_key" in js:
                line += f" (as does {json.dumps(js['other_source_key'], ensure_ascii=True)})"
            out.append(line)
        return out

    def to_json(self) -> dict[str, Any]:
        """A machine-readable report."""
        return {
            "table": self.table,
            "verdict": self.verdict,
            "source_items": self.source_items,
            "target_items": self.target_items,
            "dropped": self.dropped,
            "max_fan_out": self.max_fan_out,
            "counts": dict(self.counts),
            "problems": [p.to_json() for p in self.problems],
            "problems_truncated": self.problems_truncated,
            "complete": self.complete,
            "error": self.error,
        }


def _key_overflow(spec: TableSpec, item: Item) -> str | None:
    for attr, limit in ((spec.partition_key, MAX_PARTITION_KEY_SIZE), (spec.sort_key, MAX_SORT_KEY_SIZE)):
        if attr is None or attr.name not in item:
            continue
        value = item[attr.name]
        if isinstance(value, (str, bytes)) and value_size(value) > limit:
            return f"key attribute {attr.name!r} is {value_size(value)} bytes; the limit is {limit}"
    return None


def check_transform(
    source: ItemStore | ScanSource,
    table: str,
    fn: Transform,
    *,
    target_spec: TableSpec | None = None,
    max_problems: int = 100,
    batch: int = 1000,
) -> TransformCheck:
    """Run ``fn`` over every item of ``table`` and report what would go wrong, writing nothing.

    Each output is validated as a put would validate it against
    ``target_spec`` (default: the source's spec): values, item size, key
    types, key sizes.  Collisions are found by a set of 16-byte digests of
    the target keys, so memory grows by about 100 bytes per target item;
    the source key of each target key is kept only to name both items of a
    collision.  A source that cannot be read ends the check with
    ``verdict == "unknown"``, never "safe".
    """
    src = as_source(source)
    source_spec = src.describe(table)
    spec = target_spec if target_spec is not None else source_spec
    report = TransformCheck(table, spec)
    owners: dict[bytes, dict[str, Any]] = {}

    def note(problem: TransformProblem) -> None:
        report.counts[problem.kind] += 1
        if len(report.problems) < max_problems:
            report.problems.append(problem)
        else:
            report.problems_truncated = True

    try:
        for page in src.pages(table, 0, 1, None, batch):
            for item in page.items:
                report.source_items += 1
                skey = _source_key(source_spec, item)
                try:
                    outs = _outputs(fn, item)
                except RejectItem as e:
                    note(TransformProblem("rejected", skey, str(e) or "rejected by the transform"))
                    continue
                except Exception as e:  # any failure refuses the item: fail closed
                    note(TransformProblem("rejected", skey, f"{type(e).__name__}: {e}"))
                    continue
                if not outs:
                    report.dropped += 1
                report.max_fan_out = max(report.max_fan_out, len(outs))
                for out in outs:
                    report.target_items += 1
                    try:
                        normalized = normalize_item(out)
                    except ValidationError as e:  # ItemTooLarge included
                        note(TransformProblem("invalid", skey, str(e)))
                        continue
                    overflow = _key_overflow(spec, normalized)
                    if overflow is not None:
                        note(TransformProblem("key_too_large", skey, overflow))
                        continue
                    try:
                        tkey = check_item_keys(spec, normalized)
                    except ValidationError as e:
                        note(TransformProblem("invalid", skey, str(e)))
                        continue
                    digest = hashlib.blake2b(canonical_key(spec, tkey), digest_size=16).digest()
                    first = owners.get(digest)
                    if first is not None:
                        note(TransformProblem("collision", skey, "two items map to one target key", tkey, first))
                    else:
                        owners[digest] = skey
    except StoreError as e:
        report.error = f"{type(e).__name__}: {e}"
        return report
    report.complete = True
    return report


def copy_transformed(
    source: ItemStore | ScanSource,
    target: ItemStore,
    table: str,
    fn: Transform,
    *,
    target_table: str | None = None,
    target_spec: TableSpec | None = None,
    batch: int = 1000,
) -> TransformCheck:
    """Check the transform over the whole source, then (only if the check is safe) write its items.

    The target table is created from ``target_spec`` (default: the source's
    spec) when it does not exist.  When the check finds anything — or could
    not finish — nothing is written and :class:`TransformError` carries the
    report (``error.report``).  Writes go through ``bulk_load``, ``batch``
    items at a time.  Returns the check's report.
    """
    report = check_transform(source, table, fn, target_spec=target_spec, batch=batch)
    if not report.ok:
        counts = ", ".join(f"{n} {k}" for k, n in report.counts.items() if n) or report.error or "incomplete"
        raise TransformError(f"the transform check failed ({counts}); nothing was written", report=report)
    name = target_table or table
    if not target.table_exists(name):
        target.create_table(attrs.evolve(report.target_spec, name=name))
    chunk: list[Item] = []
    for item in transformed_items(source, table, fn, batch=batch):
        chunk.append(item)
        if len(chunk) >= batch:
            target.bulk_load(name, chunk)
            chunk = []
    if chunk:
        target.bulk_load(name, chunk)
    return report
