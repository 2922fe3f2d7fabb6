"""What migration reads from: any :class:`ItemStore`, or a DynamoDB export on disk.

``copy``, ``verify`` and ``check`` only need three things from a source — the
table's spec, pages of one parallel-scan segment resumable from a cursor, and
(when cheap) an item count — so they take a :class:`ScanSource`.  A store
becomes one through :class:`StoreSource`; :class:`ExportSource`
(:mod:`storeswap.migrate.export_source`) is one natively.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from storeswap.core.errors import ConfigurationError
from storeswap.core.port import ItemStore
from storeswap.core.requests import Page
from storeswap.core.schema import KeyAttribute, TableSpec

__all__ = [
    "ScanSource",
    "StoreSource",
    "as_source",
    "open_source",
    "parse_key_option",
    "default_segments",
    "EXPORT_SCHEME",
]

EXPORT_SCHEME = "dynamodb-export:"


@runtime_checkable
class ScanSource(Protocol):
    """A readable table: spec, resumable segmented pages, optional count."""

    kind: str

    def describe(self, table: str) -> TableSpec:
        """The spec of ``table`` (TableNotFound when absent)."""
        ...

    def pages(self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int) -> Iterator[Page]:
        """Pages of one segment from ``cursor``; each page's cursor resumes after it, None after the last."""
        ...

    def estimate_count(self, table: str) -> int | None:
        """The number of items when it is cheap to know, else None."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class StoreSource:
    """An :class:`ItemStore` seen as a :class:`ScanSource` (parallel scan with cursors)."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store
        self.kind = store.kind

    def __repr__(self) -> str:
        return f"StoreSource({self.store!r})"

    def describe(self, table: str) -> TableSpec:
        """The table's spec, asked of the store (not a cached one)."""
        return self.store.describe_table(table)

    def pages(
        self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int, *, shared: bool = False
    ) -> Iterator[Page]:
        """Scan one segment page by page; an empty page with a cursor is possible (Q2).

        ``shared``: the pages may hold the store's own item objects rather than copies, where the store's class
        lends them (``lends_scans``, ``scan_shared``: the memory store itself, not a subclass that does not say
        so again); only for a reader that changes and keeps no item (``copy_table`` into a target whose
        ``bulk_reads_only`` is True).
        """
        scan = getattr(self.store, "scan_shared", None) if shared and self.store.lends_scans else None
        while True:
            if scan is not None:
                page = scan(table, limit=limit, cursor=cursor, segment=segment, total_segments=total_segments)
            else:
                page = self.store.scan(
                    table, limit=limit, cursor=cursor, segment=segment, total_segments=total_segments, consistent=True
                )
            yield page
            if page.cursor is None:
                return
            cursor = page.cursor

    def estimate_count(self, table: str) -> int | None:
        """Ask the adapter when it offers ``approximate_item_count``; the memory store knows exactly."""
        counter = getattr(self.store, "approximate_item_count", None)
        if callable(counter):
            try:
                n = counter(table)
            except Exception:  # an estimate is optional; never fail a copy over it
                return None
            return n if isinstance(n, int) and n >= 0 else None
        tables: Any = getattr(self.store, "_tables", None)
        if self.store.kind == "memory" and isinstance(tables, dict) and table in tables:
            # The reference store counts for free; reading its private dict is the only way today.
            return len(tables[table].items)
        return None

    def close(self) -> None:
        """Close the store."""
        self.store.close()


def as_source(obj: ItemStore | ScanSource) -> ScanSource:
    """Wrap a store as a source; a source is returned as it is."""
    if isinstance(obj, ItemStore):
        return StoreSource(obj)
    if isinstance(obj, ScanSource):
        return obj
    raise TypeError(f"not a store or a scan source: {type(obj).__name__}")


def default_segments(source: ScanSource, fallback: int = 4) -> int:
    """The segment count a source reads best in (an export: one per data file), else ``fallback``."""
    preferred = getattr(source, "default_segments", None)
    if callable(preferred):
        n = preferred()
        if isinstance(n, int) and n >= 1:
            return n
    return fallback


def parse_key_option(text: str) -> KeyAttribute:
    """``name:S`` / ``name:N`` / ``name:B`` (type defaults to S) as a :class:`KeyAttribute`."""
    name, _, kind = text.rpartition(":")
    if not name:
        name, kind = text, "S"
    kind = kind.upper()
    if kind not in ("S", "N", "B"):
        raise ConfigurationError(f"a key is given as name:S, name:N or name:B, not {text!r}")
    return KeyAttribute(name, kind)  # type: ignore[arg-type]


def open_source(
    url: str,
    *,
    spec_json: Path | None = None,
    partition_key: str | None = None,
    sort_key: str | None = None,
    checksums: bool = True,
) -> ScanSource:
    """Open ``dynamodb-export:PATH`` (a directory or ``s3://bucket/prefix/``) as an :class:`ExportSource`,
    anything else with ``open_store``.  ``checksums=False`` reads export files whose MD5 differs from the
    manifest's (``--no-checksums``); it changes nothing for a store."""
    if url.startswith(EXPORT_SCHEME):
        from storeswap.migrate.export_source import ExportSource

        where = url[len(EXPORT_SCHEME) :]
        return ExportSource(
            where if where.startswith("s3://") else Path(where),
            spec_json=spec_json,
            partition_key=None if partition_key is None else parse_key_option(partition_key),
            sort_key=None if sort_key is None else parse_key_option(sort_key),
            check_md5=checksums,
        )
    if spec_json is not None or partition_key is not None or sort_key is not None:
        raise ConfigurationError("--spec-json, --partition-key and --sort-key apply to a dynamodb-export: source only")
    from storeswap.connect import open_store

    return StoreSource(open_store(url))
