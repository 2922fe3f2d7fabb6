"""Measure migration throughput and memory: ``python -m storeswap.migrate.throughput``.

1. items/s of ``copy_table`` memory -> PostgreSQL with ~1 KB items (by default
   one segment per core, at most 4, and 5,000-item pages: :func:`copy_segments`,
   :data:`COPY_BATCH`), beside a
   raw psycopg ``COPY`` of the same rows (already encoded, into a plain table
   with the same primary key): the ratio is what the whole migration path
   (scan, validation, encoding, bulk write, checkpoints) costs over the driver.
   ``--repeat`` pairs run interleaved (ABBA); the report gives the first
   pair's ratio and the median of the paired ratios, and the same against
   one raw COPY per segment run in parallel (``ratio_parallel``).
2. ``--engines`` (e.g. ``threads,processes:2,dask``): items/s of the same
   copy from a generated source on each engine (``dask`` starts a scheduler
   and two workers as separate processes on loopback), each beside a raw
   COPY taken right before it, and each worker's peak RSS.
3. peak RSS of a copy of ``--rss-items`` items (default 1,000,000) from a
   generated source (nothing held in memory) into PostgreSQL, measured in a
   child process (``VmHWM``, else ``resource.getrusage``).

Engines are started before the clock, as the memory source's scan order is
built before it: the figures are of the copy, not of starting a cluster.

PostgreSQL comes from ``--url`` or the default provisioning
(``storeswap.backends.postgres``).  Prints one JSON report.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from storeswap.core.requests import Page
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import Item, item_size
from storeswap.migrate.sample import bulk_items

__all__ = ["COPY_BATCH", "GeneratedSource", "copy_segments", "generated_item", "main"]

SPEC = TableSpec("bench_copy", KeyAttribute("pk"), KeyAttribute("sk"))

#: Items per page of the measured copy: one unlocked COPY of that many rows per page (decision 0037).
COPY_BATCH = 5000


def copy_segments() -> int:
    """The measured copy's segments (and threads): the machine's cores, at most 4 (decision 0037).

    The client and the server share the machine here, and every segment is one COPY backend: more segments
    than cores only make the backends take turns.
    """
    return max(1, min(4, os.cpu_count() or 1))


def generated_item(i: int, size: int = 1024) -> Item:
    """Item ``i`` of :func:`~storeswap.migrate.sample.bulk_items` (the same dict), sized from a cache."""
    n = Decimal(i)
    item: Item = {"pk": f"user#{i % 1000:06d}", "sk": f"order#{i:09d}", "n": n, "blob": ""}
    digits = str(i)
    key = (len(digits), len(digits.rstrip("0")), size)
    blob = _BLOBS.get(key)
    if blob is None:
        blob = _BLOBS[key] = "y" * max(0, size - item_size(item))
    item["blob"] = blob
    return item


# An item's size depends on i only through n's digit count and trailing zeros (pk and sk have fixed widths).
_BLOBS: dict[tuple[int, int, int], str] = {}


class GeneratedSource:
    """A :class:`ScanSource` of ``count`` generated ~``size``-byte items; holds nothing, so RSS measures the copy."""

    kind = "generated"

    def __init__(self, count: int, size: int = 1024) -> None:
        self.count = count
        self.size = size

    def describe(self, table: str) -> TableSpec:
        """The spec, renamed."""
        return TableSpec(table, SPEC.partition_key, SPEC.sort_key)

    def __repr__(self) -> str:
        # Stable across processes and runs: it names the source in a checkpoint's identity.
        return f"GeneratedSource({self.count}, {self.size})"

    def pages(self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int) -> Iterator[Page]:
        """Items ``segment, segment + total, ...``; the cursor is the next index."""
        per = range(segment, self.count, total_segments)
        start = 0 if cursor is None else int(cursor)
        while True:
            chunk = per[start : start + limit]
            items = [generated_item(i, self.size) for i in chunk]
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
    from storeswap.connect import open_store

    return open_store(url)


def _raw_copy(conninfo: str, rows: list[list[Any]]) -> float:
    """Seconds of a raw psycopg binary COPY of ``rows`` into a plain table with the same primary key."""
    return _raw_copy_parallel(conninfo, [rows])


def _raw_copy_parallel(conninfo: str, parts: list[list[list[Any]]]) -> float:
    """Seconds of one raw psycopg binary COPY per part, each on its own connection and thread, all at once.

    With one part, the single COPY of the issue's baseline; with one part per segment, what a user loading
    the same rows in parallel with the driver would write (the copy's segments run in parallel too).  Whether
    it beats one COPY depends on the cores: on two, shared with the client, it did not (docs/scale.md).
    """
    import threading

    import psycopg

    raw_table = f"raw_{uuid.uuid4().hex[:8]}"
    conns: list[Any] = []
    try:
        for _ in parts:
            conns.append(psycopg.connect(conninfo, autocommit=True))
        conns[0].execute(
            f"CREATE TABLE {raw_table} (bucket bigint, pk bytea, sk bytea, item bytea, PRIMARY KEY (bucket, pk, sk))"
        )
        errors: list[BaseException] = []

        def load(conn: Any, rows: list[list[Any]]) -> None:
            try:
                with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy(f"COPY {raw_table} (bucket, pk, sk, item) FROM STDIN (FORMAT BINARY)") as cp,
                ):
                    cp.set_types(["bigint", "bytea", "bytea", "bytea"])
                    for r in rows:
                        cp.write_row(r)
            except BaseException as exc:  # re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=load, args=(c, rows)) for c, rows in zip(conns, parts)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - started
        if errors:
            raise errors[0]
    finally:
        if conns:
            with contextlib.suppress(psycopg.Error):  # the original error, if any, is the one to see
                conns[0].execute(f"DROP TABLE IF EXISTS {raw_table}")
        for c in conns:
            c.close()
    return seconds


def measure_copy(url: str, items: int, segments: int, batch: int, repeat: int = 3) -> dict[str, Any]:
    """memory -> PostgreSQL copy_table vs raw COPY of the same rows, ``repeat`` interleaved pairs.

    Each pair is one copy_table into a fresh table and one raw COPY into another, the order alternating
    between pairs (ABBA: a server warming up does not favour either side).  A full garbage collection runs
    before each side's clock, so neither pays for collecting the set-up's objects.  ``ratio`` is the first pair's;
    ``median_ratio`` the median of the paired ratios, the figure to quote on a shared machine.  Each round also
    runs the parallel baseline, one raw COPY per segment on as many connections at once
    (``raw_parallel_items_per_s``, ``ratio_parallel``): the copy's segments are parallel, so a single COPY
    alone would flatter it wherever the machine has cores that one COPY leaves idle.
    """
    import statistics

    from storeswap.adapters.memory import MemoryStore
    from storeswap.adapters.postgres.codec import encode_item
    from storeswap.adapters.postgres.layout import Layout
    from storeswap.migrate import copy_table

    source = MemoryStore()
    source.create_table(SPEC)
    source.bulk_load(SPEC.name, bulk_items(items))
    source.scan(SPEC.name, limit=1, segment=0, total_segments=segments)  # build the scan order before the clock
    pg = _open(url)
    lay = Layout.build(SPEC)
    rows = [lay.row_params(i, encode_item(i)) for i in source.scan_all(SPEC.name)]
    parts = [
        [lay.row_params(i, encode_item(i)) for i in source.scan_all(SPEC.name, segment=s, total_segments=segments)]
        for s in range(segments)
    ]

    def copy_rate() -> float:
        target_table = f"bench_{uuid.uuid4().hex[:8]}"
        gc.collect()  # the set-up's garbage (the source, the raw rows) is collected before either clock starts
        report = copy_table(
            source, pg, SPEC.name, target_table=target_table, segments=segments, workers=segments, batch=batch
        )
        pg.delete_table(target_table)
        return report.items_per_second

    def raw_rate() -> float:
        gc.collect()
        return items / _raw_copy(pg.conninfo, rows)

    def parallel_rate() -> float:
        gc.collect()
        return items / _raw_copy_parallel(pg.conninfo, parts)

    runs = []
    for n in range(max(1, repeat)):
        if n % 2 == 0:
            c = copy_rate()
            r = raw_rate()
            rp = parallel_rate()
        else:
            rp = parallel_rate()
            r = raw_rate()
            c = copy_rate()
        c, r, rp = round(c), round(r), round(rp)  # each ratio is of the figures the report shows beside it
        runs.append({
            "copy_table_items_per_s": c,
            "raw_copy_items_per_s": r,
            "ratio": round(c / r, 3),
            "raw_parallel_items_per_s": rp,
            "ratio_parallel": round(c / rp, 3),
        })  # fmt: skip
    pg.close()
    first = runs[0]
    return {
        "items": items,
        "item_bytes": 1024,
        "segments": segments,
        "batch": batch,
        "copy_table_items_per_s": first["copy_table_items_per_s"],
        "raw_copy_items_per_s": first["raw_copy_items_per_s"],
        "ratio": first["ratio"],
        "runs": runs,
        "median_copy_table_items_per_s": round(statistics.median(x["copy_table_items_per_s"] for x in runs)),
        "median_raw_copy_items_per_s": round(statistics.median(x["raw_copy_items_per_s"] for x in runs)),
        "median_ratio": round(statistics.median(x["ratio"] for x in runs), 3),
        "median_raw_parallel_items_per_s": round(statistics.median(x["raw_parallel_items_per_s"] for x in runs)),
        "median_ratio_parallel": round(statistics.median(x["ratio_parallel"] for x in runs), 3),
    }


def measure_engines(url: str, items: int, segments: int, batch: int, engines: list[str]) -> list[dict[str, Any]]:
    """The generated-source copy on each engine, each beside a raw COPY of the same rows taken just before."""
    from storeswap.adapters.postgres.codec import encode_item
    from storeswap.adapters.postgres.layout import Layout
    from storeswap.migrate.distributed import copy_table_on
    from storeswap.migrate.engine import DaskProcesses, open_engine, worker_peak_rss_mb

    lay = Layout.build(SPEC)
    rows = [lay.row_params(item, encode_item(item)) for item in map(generated_item, range(items))]
    pg = _open(url)
    conninfo = pg.conninfo
    pg.close()
    out = []
    for name in engines:
        cluster = DaskProcesses(2) if name == "dask" else None
        try:
            with open_engine(cluster.engine if cluster is not None else name, threads=segments) as engine:
                raw_rate = items / _raw_copy(conninfo, rows)
                target_table = f"eng_{uuid.uuid4().hex[:8]}"
                report = copy_table_on(
                    engine, GeneratedSource(items), url, "generated", target_table=target_table,
                    state_url=url, segments=segments, batch=batch,
                )
                rss = worker_peak_rss_mb(engine)
        finally:
            if cluster is not None:
                cluster.close()
        pg = _open(url)
        pg.delete_table(target_table)
        pg.close()
        out.append(
            {
                "engine": name,
                "workers": report.workers,
                "items_per_s": round(report.items_per_second),
                "raw_copy_items_per_s": round(raw_rate),
                "ratio": round(round(report.items_per_second) / round(raw_rate), 3),
                "peak_rss_mb_per_worker": rss,
            }
        )
        print(json.dumps(out[-1]), flush=True)
    return out


def _rss_child(url: str, items: int, segments: int, batch: int) -> None:
    from storeswap.migrate import copy_table
    from storeswap.migrate.engine import peak_rss_kb

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
    peak_kb = peak_rss_kb()
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
    p.add_argument(
        "--segments",
        type=int,
        default=copy_segments(),
        help="segments and threads of the copy (default: the machine's cores, at most 4: one COPY backend per core)",
    )
    p.add_argument(
        "--batch", type=int, default=COPY_BATCH, help=f"items per page, one COPY each (default {COPY_BATCH:,})"
    )
    p.add_argument("--repeat", type=int, default=3, help="interleaved copy/raw pairs for the throughput run")
    p.add_argument(
        "--engines",
        default="",
        help="comma-separated engines for the generated-source copy: threads, processes:N, dask (two workers)",
    )
    p.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    url = args.url
    if url is None:
        from storeswap.backends.postgres import provision

        url = provision()
    if args.rss_child:
        _rss_child(url, args.rss_items, args.segments, args.batch)
        return 0
    report: dict[str, Any] = {"copy": measure_copy(url, args.items, args.segments, args.batch, args.repeat)}
    print(json.dumps(report), flush=True)
    if args.engines:
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        report["engines"] = measure_engines(url, args.items, args.segments, args.batch, engines)
    if args.rss_items:
        report["rss"] = measure_rss(url, args.rss_items, args.segments, args.batch)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":  # the guard matters: Dask's worker processes import this module
    sys.exit(main())
