"""Measure migration throughput and memory: ``python -m storeswap.migrate.throughput``.

1. items/s of ``copy_table`` memory -> PostgreSQL with ~1 KB items, beside a
   raw psycopg ``COPY`` of the same rows (already encoded, into a plain table
   with the same primary key): the ratio is what the whole migration path
   (scan, validation, encoding, bulk write, checkpoints) costs over the driver.
2. peak RSS of a copy of ``--rss-items`` items (default 1,000,000) from a
   generated source (nothing held in memory) into PostgreSQL, measured in a
   child process (``VmHWM``, else ``resource.getrusage``).

PostgreSQL comes from ``--url`` or the default provisioning
(``storeswap.backends.postgres``).  Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from storeswap.core.requests import Page
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.migrate.sample import bulk_items

__all__ = ["GeneratedSource", "main"]

SPEC = TableSpec("bench_copy", KeyAttribute("pk"), KeyAttribute("sk"))


class GeneratedSource:
    """A :class:`ScanSource` of ``count`` generated ~``size``-byte items; holds nothing, so RSS measures the copy."""

    kind = "generated"

    def __init__(self, count: int, size: int = 1024) -> None:
        self.count = count
        self.size = size

    def describe(self, table: str) -> TableSpec:
        """The spec, renamed."""
        return TableSpec(table, SPEC.partition_key, SPEC.sort_key)

    def pages(self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int) -> Iterator[Page]:
        """Items ``segment, segment + total, ...``; the cursor is the next index."""
        per = range(segment, self.count, total_segments)
        start = 0 if cursor is None else int(cursor)
        while True:
            chunk = per[start : start + limit]
            items = [next(bulk_items(1, size=self.size, offset=i)) for i in chunk]
            start += len(chunk)
            yield Page(items, None if start >= len(per) else str(start))
            if start >= len(per):
                return

    def estimate_count(self, table: str) -> int | None:
        """Exact."""
        return self.count

    def close(self) -> None:
        """Nothing to release."""


def _open(url: str) -> Any:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.core.port import ItemStore

    if PostgresStore._bulk_put is ItemStore._bulk_put:
        # Not wired into the adapter yet: use the COPY path from bulk.py (see its docstring).
        from storeswap.adapters.postgres.bulk import bulk_put

        PostgresStore._bulk_put = lambda self, spec, reqs: bulk_put(self, spec, reqs)  # type: ignore[method-assign]
    from storeswap.connect import open_store

    return open_store(url)


def measure_copy(url: str, items: int, segments: int, batch: int) -> dict[str, Any]:
    """memory -> PostgreSQL copy_table vs raw COPY of the same rows."""
    import psycopg

    from storeswap.adapters.memory import MemoryStore
    from storeswap.adapters.postgres.codec import encode_item
    from storeswap.adapters.postgres.layout import Layout
    from storeswap.migrate import copy_table

    source = MemoryStore()
    source.create_table(SPEC)
    source.bulk_put(SPEC.name, bulk_items(items))
    source.scan(SPEC.name, limit=1, segment=0, total_segments=segments)  # build the scan order before the clock
    pg = _open(url)
    target_table = f"bench_{uuid.uuid4().hex[:8]}"
    report = copy_table(
        source, pg, SPEC.name, target_table=target_table, segments=segments, workers=segments, batch=batch
    )
    lay = Layout.build(SPEC)
    rows = [lay.row_params(i, encode_item(i)) for i in source.scan_all(SPEC.name)]
    raw_table = f"raw_{uuid.uuid4().hex[:8]}"
    conninfo = pg.conninfo
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {raw_table} (bucket bigint, pk bytea, sk bytea, item bytea, PRIMARY KEY (bucket, pk, sk))"
        )
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY {raw_table} (bucket, pk, sk, item) FROM STDIN (FORMAT BINARY)") as cp,
        ):
            cp.set_types(["bigint", "bytea", "bytea", "bytea"])
            for r in rows:
                cp.write_row(r)
        raw_seconds = time.perf_counter() - started
        conn.execute(f"DROP TABLE {raw_table}")
    pg.delete_table(target_table)
    pg.close()
    raw_rate = items / raw_seconds
    return {
        "items": items,
        "item_bytes": 1024,
        "segments": segments,
        "batch": batch,
        "copy_table_items_per_s": round(report.items_per_second),
        "raw_copy_items_per_s": round(raw_rate),
        "ratio": round(report.items_per_second / raw_rate, 3),
    }


def _peak_rss_kb() -> int:
    """This process's peak RSS in KiB.

    Linux keeps ``ru_maxrss`` across ``execve`` (the parent's RSS at fork
    time counts), so ``VmHWM`` of the process's own address space is read
    first; ``getrusage`` is the fallback elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_child(url: str, items: int, segments: int, batch: int) -> None:
    from storeswap.migrate import copy_table

    pg = _open(url)
    target_table = f"rss_{uuid.uuid4().hex[:8]}"
    report = copy_table(
        GeneratedSource(items),
        pg,
        "generated",
        target_table=target_table,
        segments=segments,
        workers=segments,
        batch=batch,
    )
    pg.delete_table(target_table)
    peak_kb = _peak_rss_kb()
    print(
        json.dumps(
            {
                "items": report.items,
                "seconds": round(report.seconds, 1),
                "items_per_s": round(report.items_per_second),
                "peak_rss_mb": round(peak_kb / 1024, 1),
            }
        )
    )


def measure_rss(url: str, items: int, segments: int, batch: int) -> dict[str, Any]:
    """Peak RSS of a generated-source -> PostgreSQL copy, in a fresh child process."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "storeswap.migrate.throughput",
            "--rss-child",
            "--url",
            url,
            "--rss-items",
            str(items),
            "--segments",
            str(segments),
            "--batch",
            str(batch),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print a JSON report."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="PostgreSQL URL (default: storeswap.backends.postgres.provision())")
    p.add_argument("--items", type=int, default=100_000, help="items for the throughput run")
    p.add_argument("--rss-items", type=int, default=1_000_000, help="items for the peak-RSS run (0 to skip)")
    p.add_argument("--segments", type=int, default=4)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    url = args.url
    if url is None:
        from storeswap.backends.postgres import provision

        url = provision()
    if args.rss_child:
        _rss_child(url, args.rss_items, args.segments, args.batch)
        return 0
    report: dict[str, Any] = {"copy": measure_copy(url, args.items, args.segments, args.batch)}
    print(json.dumps(report), flush=True)
    if args.rss_items:
        report["rss"] = measure_rss(url, args.rss_items, args.segments, args.batch)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
