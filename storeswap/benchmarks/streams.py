"""Benchmarks of change streams and TTL (issue 13, item 6): a benchmark, not a timed test.

``python -m storeswap.benchmarks.streams --store postgresql://... [--quick]`` measures:

1. **change-log cost** — put and update latency on a table with a stream
   (``NEW_AND_OLD_IMAGES``) against the same table shape without one, in one
   interleaved run (each pair back to back, in random order, ADR 0005);
   p50 and p99 of each and their ratio (goal: <= 1.3);
2. **consumer throughput** — records per second reading a backlog of
   ``backlog`` records with ``changes`` pages of 1,000;
3. **sweeper throughput** — items per second of one ``expire`` removing
   ``expired`` items from tables of two sizes; with the TTL index the time
   should follow the expired count, not the table size.

It prints one JSON document (and writes it with ``--out``).  Timings on a
shared machine are noisy; the ratios of one interleaved run are the figures
to quote.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from storeswap.connect import open_store
from storeswap.core.port import ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec

__all__ = ["changelog_cost", "consumer_rate", "sweeper_rate", "run", "main"]


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index] / 1000.0  # microseconds


def _table(store: ItemStore, stream: str | None, ttl: str | None = None) -> str:
    name = f"bench_streams_{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk"), KeyAttribute("sk"), ttl_attribute=ttl, stream=stream))  # type: ignore[arg-type]
    return name


def _bulk(
    store: ItemStore, table: str, items: Iterable[dict[str, Any]], *, records: bool, chunk: int = 50_000
) -> None:
    # A bulk call validates all its items before writing: chunks bound the memory of a million-item load.
    # records: bulk_put (an application write, recorded on every store, S5), else bulk_load (a load that
    # stores able to keep out of the stream do).
    write = store.bulk_put if records else store.bulk_load
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= chunk:
            write(table, batch)
            batch = []
    if batch:
        write(table, batch)


def _timed(fn: Callable[[], Any]) -> int:
    start = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - start


def changelog_cost(store: ItemStore, ops: int = 3000, warmup: int = 300, seed: int = 13) -> dict[str, Any]:
    """Interleaved put/update latency with the stream on vs off; percentiles in microseconds and ratios."""
    on, off = _table(store, "NEW_AND_OLD_IMAGES"), _table(store, None)
    rng = random.Random(seed)
    keys = 1000
    payload = "x" * 200
    try:
        for t in (on, off):
            store.bulk_put(t, ({"pk": f"p{i % 100}", "sk": str(i), "n": 0, "body": payload} for i in range(keys)))
        ops_by_name: dict[str, Callable[[str, int], Any]] = {
            "put": lambda t, i: store.put(t, {"pk": f"p{i % 100}", "sk": str(i % keys), "n": i, "body": payload}),
            "update": lambda t, i: store.update(
                t, {"pk": f"p{i % 100}", "sk": str(i % keys)}, "SET n = n + :one", values={":one": 1}
            ),
        }
        out: dict[str, Any] = {}
        for name, op in ops_by_name.items():
            lat: dict[str, list[int]] = {"on": [], "off": []}
            for i in range(warmup + ops):
                a, b = rng.randrange(keys * 10), rng.randrange(keys * 10)
                order = [("on", on, a), ("off", off, b)]
                rng.shuffle(order)
                for label, table, k in order:
                    ns = _timed(lambda table=table, k=k, op=op: op(table, k))
                    if i >= warmup:
                        lat[label].append(ns)
            ratios = sorted(x / y for x, y in zip(lat["on"], lat["off"]))
            out[name] = {
                "on_p50_us": _percentile(lat["on"], 0.5),
                "off_p50_us": _percentile(lat["off"], 0.5),
                "on_p99_us": _percentile(lat["on"], 0.99),
                "off_p99_us": _percentile(lat["off"], 0.99),
                "p50_ratio": round(_percentile(lat["on"], 0.5) / _percentile(lat["off"], 0.5), 3),
                "p99_ratio": round(_percentile(lat["on"], 0.99) / _percentile(lat["off"], 0.99), 3),
                "median_pair_ratio": round(ratios[len(ratios) // 2], 3),
                "ops": ops,
            }
        return out
    finally:
        store.delete_table(on)
        store.delete_table(off)


def _load_with_records(store: ItemStore, table: str, items: Iterable[dict[str, Any]]) -> None:
    # The backlog needs records: bulk_put, which every store records (S5).
    _bulk(store, table, items, records=True)


def consumer_rate(store: ItemStore, backlog: int = 100_000) -> dict[str, Any]:
    """Records per second reading a backlog of ``backlog`` records, pages of 1,000, all shards."""
    table = _table(store, "NEW_AND_OLD_IMAGES")
    try:
        started = time.perf_counter()
        _load_with_records(store, table, ({"pk": f"p{i % 5000}", "sk": str(i), "n": i} for i in range(backlog)))
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        seen = 0
        position = None
        while True:
            page = store.changes(table, after=position, limit=1000)
            seen += len(page.records)
            position = page.position
            if not page.records:
                break
        read_s = time.perf_counter() - started
        return {
            "records": seen,
            "seconds": round(read_s, 3),
            "records_per_s": round(seen / read_s),
            "load_seconds": round(load_s, 3),
        }
    finally:
        store.delete_table(table)


def sweeper_rate(store: ItemStore, expired: int = 100_000, sizes: tuple[int, ...] = (200_000, 1_000_000)) -> list[dict[str, Any]]:
    """Items per second of one sweep removing ``expired`` items from tables of each size (stream on)."""
    out = []
    now = int(time.time())
    for size in sizes:
        table = _table(store, "NEW_AND_OLD_IMAGES", ttl="exp")
        try:
            step = size // expired
            started = time.perf_counter()
            _bulk(
                store,
                table,
                records=False,
                items=(
                    {"pk": f"p{i % 10000}", "sk": str(i), "exp": now - 60 if i % step == 0 else now + 86400}
                    for i in range(size)
                ),
            )
            load_s = time.perf_counter() - started
            started = time.perf_counter()
            removed = store.expire(table, now=now)
            sweep_s = time.perf_counter() - started
            out.append(
                {
                    "table_items": size,
                    "expired": removed,
                    "seconds": round(sweep_s, 3),
                    "items_per_s": round(removed / sweep_s),
                    "load_seconds": round(load_s, 3),
                }
            )
        finally:
            store.delete_table(table)
    return out


def run(url: str, *, quick: bool = False, sizes: tuple[int, ...] | None = None) -> dict[str, Any]:
    """All three benchmarks on one store; ``quick`` shrinks them to a smoke run."""
    store = open_store(url)
    try:
        return {
            "store": store.kind,
            "changelog_cost": changelog_cost(store, ops=200 if quick else 3000, warmup=20 if quick else 300),
            "consumer": consumer_rate(store, backlog=2000 if quick else 100_000),
            "sweeper": sweeper_rate(
                store,
                expired=500 if quick else 100_000,
                sizes=sizes or ((1000, 5000) if quick else (200_000, 1_000_000)),
            ),
        }
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="postgres")
    parser.add_argument("--quick", action="store_true", help="a smoke run with small sizes")
    parser.add_argument("--sizes", help="sweeper table sizes, comma separated (default 200000,1000000)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else None
    result = run(args.store, quick=args.quick, sizes=sizes)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
