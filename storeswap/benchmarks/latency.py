"""Adapter against raw driver, call by call: ``python -m storeswap.benchmarks.latency --store postgres``.

Per store: create ``BENCH_TABLE`` through the adapter, load rows, open the
store's raw twin (:data:`RAW_DRIVERS`), then for each operation (get, put,
conditional update, 10-item query) alternate adapter and raw calls — the
order flips every iteration so neither side always runs on a warmer cache —
after a warm-up, timing each call with ``time.perf_counter_ns``.  Prints p50,
p99 and the adapter/raw p50 ratio per operation.

A store kind gets a raw twin by adding ``"kind": "module:factory"`` to
:data:`RAW_DRIVERS`; the factory takes the opened store and returns a
:class:`~storeswap.benchmarks.raw_base.RawDriver`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from storeswap.benchmarks.raw_base import BENCH_TABLE, RawDriver
from storeswap.core.port import BatchPut, ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec

__all__ = ["RAW_DRIVERS", "OPERATIONS", "open_raw", "run_store", "main", "percentile"]

#: Store kind -> ``"module:factory"`` of its raw-driver twin.
RAW_DRIVERS: dict[str, str] = {
    "postgres": "storeswap.benchmarks.raw_postgres:make_raw",
    "dynamodb": "storeswap.benchmarks.raw_dynamodb:make_raw",
}

OPERATIONS = ("get", "put", "conditional_update", "query")
PARTITIONS = 50
ITEMS_PER_PARTITION = 20
QUERY_LIMIT = 10
_FIELD = "x" * 90


def open_raw(store: ItemStore) -> RawDriver:
    """The raw twin of ``store`` from :data:`RAW_DRIVERS` (KeyError when its kind has none)."""
    target = RAW_DRIVERS[store.kind]
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "make_raw")
    return factory(store)  # type: ignore[no-any-return]


def percentile(sorted_values: list[int], q: float) -> int:
    """The nearest-rank percentile ``q`` (0-100) of already sorted values."""
    if not sorted_values:
        return 0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def _item(p: int, s: int) -> dict[str, Any]:
    """A ~1 KB benchmark item."""
    item: dict[str, Any] = {"pk": f"p{p:05d}", "sk": f"s{s:05d}", "version": Decimal(0), "n": Decimal(0)}
    for f in range(10):
        item[f"field{f}"] = _FIELD
    return item


def _load(store: ItemStore) -> None:
    if store.table_exists(BENCH_TABLE):
        store.delete_table(BENCH_TABLE)
    store.create_table(TableSpec(BENCH_TABLE, KeyAttribute("pk", "S"), KeyAttribute("sk", "S")))
    batch: list[BatchPut] = []
    for p in range(PARTITIONS):
        for s in range(ITEMS_PER_PARTITION):
            batch.append(BatchPut(BENCH_TABLE, _item(p, s)))
            if len(batch) == 25:
                store.batch_write(batch)
                batch = []
    if batch:
        store.batch_write(batch)


def _pairs(store: ItemStore, raw: RawDriver) -> dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]]:
    """Per operation, the adapter call and the raw call, each taking the iteration number."""
    versions: dict[tuple[str, str], Decimal] = {}

    def key(i: int) -> tuple[str, str]:
        return f"p{i % PARTITIONS:05d}", f"s{(i // PARTITIONS) % ITEMS_PER_PARTITION:05d}"

    def a_get(i: int) -> Any:
        pk, sk = key(i)
        return store.get(BENCH_TABLE, {"pk": pk, "sk": sk})

    def r_get(i: int) -> Any:
        return raw.get(*key(i))

    def a_put(i: int) -> Any:
        # Puts go to partitions of their own so they never reset the versions the updates track.
        return store.put(BENCH_TABLE, _item(PARTITIONS + i % PARTITIONS, i % ITEMS_PER_PARTITION))

    def r_put(i: int) -> Any:
        return raw.put(_item(PARTITIONS + i % PARTITIONS, i % ITEMS_PER_PARTITION))

    def current(k: tuple[str, str]) -> Decimal:
        v = versions.get(k)
        if v is None:
            item = store.get(BENCH_TABLE, {"pk": k[0], "sk": k[1]}, consistent=True)
            v = versions[k] = Decimal(0) if item is None else item["version"]
        return v

    def a_update(i: int) -> Any:
        k = key(i)
        v = current(k)
        store.update(
            BENCH_TABLE,
            {"pk": k[0], "sk": k[1]},
            "SET version = version + :one, n = n + :one",
            condition="version = :v",
            values={":one": 1, ":v": v},
        )
        versions[k] = v + 1

    def r_update(i: int) -> Any:
        k = key(i)
        v = current(k)
        if not raw.conditional_update(k[0], k[1], v):
            raise RuntimeError("raw conditional update failed")
        versions[k] = v + 1

    def a_query(i: int) -> Any:
        return store.query(BENCH_TABLE, "pk = :p", values={":p": key(i)[0]}, limit=QUERY_LIMIT)

    def r_query(i: int) -> Any:
        return raw.query(key(i)[0], QUERY_LIMIT)

    return {
        "get": (a_get, r_get),
        "put": (a_put, r_put),
        "conditional_update": (a_update, r_update),
        "query": (a_query, r_query),
    }


def run_store(store: ItemStore, ops: int, warmup: int) -> dict[str, dict[str, float]]:
    """Load ``BENCH_TABLE`` and time every operation interleaved; per operation p50/p99 in microseconds."""
    _load(store)
    raw = open_raw(store)
    results: dict[str, dict[str, float]] = {}
    try:
        for name, (adapter_call, raw_call) in _pairs(store, raw).items():
            adapter_ns: list[int] = []
            raw_ns: list[int] = []
            clock = time.perf_counter_ns
            gc.collect()
            for i in range(warmup + ops):
                # Flip the order each iteration: neither side always follows the other.
                first, second = (adapter_call, raw_call) if i % 2 == 0 else (raw_call, adapter_call)
                t0 = clock()
                first(i)
                t1 = clock()
                second(i)
                t2 = clock()
                if i < warmup:
                    continue
                a, r = (t1 - t0, t2 - t1) if i % 2 == 0 else (t2 - t1, t1 - t0)
                adapter_ns.append(a)
                raw_ns.append(r)
            adapter_ns.sort()
            raw_ns.sort()
            a50, r50 = percentile(adapter_ns, 50), percentile(raw_ns, 50)
            results[name] = {
                "adapter_p50_us": a50 / 1000,
                "adapter_p99_us": percentile(adapter_ns, 99) / 1000,
                "raw_p50_us": r50 / 1000,
                "raw_p99_us": percentile(raw_ns, 99) / 1000,
                "ratio_p50": a50 / r50 if r50 else float("nan"),
            }
    finally:
        raw.close()
    return results


def _print(store_name: str, results: dict[str, dict[str, float]]) -> None:
    print(f"\n{store_name}")
    print(f"{'operation':<20}{'adapter p50':>12}{'adapter p99':>12}{'raw p50':>10}{'raw p99':>10}{'ratio p50':>11}")
    for op, r in results.items():
        print(
            f"{op:<20}{r['adapter_p50_us']:>10.1f}us{r['adapter_p99_us']:>10.1f}us"
            f"{r['raw_p50_us']:>8.1f}us{r['raw_p99_us']:>8.1f}us{r['ratio_p50']:>11.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m storeswap.benchmarks.latency", description=__doc__.split("\n")[0])
    parser.add_argument("--store", action="append", required=True, help="store name or URL (repeatable)")
    parser.add_argument("--ops", type=int, default=2000, help="timed calls per operation and side")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls first")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    from storeswap import open_store

    everything: dict[str, Any] = {}
    for name in args.store:
        store = open_store(name)
        try:
            results = run_store(store, args.ops, args.warmup)
        finally:
            store.close()
        everything[name] = results
        _print(name, results)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(everything, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
