"""The benchmark runner: adapter and raw driver interleaved op by op, closed and open loop.

How a figure is made:

- Each operation is prepared (keys drawn, values built) outside the timed
  region; the timed region is ``perf_counter_ns()``, the call,
  ``perf_counter_ns()``.  Nanoseconds go into preallocated ``array('q')``
  buffers; histograms (HdrHistogram) and statistics are built afterwards.
- Closed loop: ``N`` threads, each running pairs back to back: one adapter
  call and one raw call of the same operation kind, in random order per
  pair, so adapter and raw share the same moment's noise.  Operations
  without a raw twin run the adapter alone (the report says ``raw: n/a``).
- Open loop (``rate``): arrivals on a fixed schedule ``t0 + i / rate``;
  each arrival is one call (the two calls of a pair on adjacent arrivals, in
  random order) and its latency is measured from its *intended* start, so a
  stall delays the clock of every arrival behind it (no coordinated
  omission).
- Table size: the table is grown to each size and a closed loop at
  concurrency 1 runs at each.
- Harness overhead: the same workload on :class:`~storeswap.benchmarks.noop.NoopStore`
  and :class:`~storeswap.benchmarks.noop.NoopRaw`.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import statistics
import threading
import time
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from attrs import define, field

from storeswap.benchmarks.environment import capture_backend_log, collect_environment, describe_store
from storeswap.benchmarks.noop import NoopStore
from storeswap.benchmarks.raw_base import BENCH_TABLE
from storeswap.benchmarks.raw_twin import RawTwin, open_raw_twin
from storeswap.benchmarks.workloads import ThreadContext, Workload, make_workload
from storeswap.connect import open_store
from storeswap.core.errors import TableNotFound
from storeswap.core.port import ItemStore
from storeswap.redaction import redact_url

__all__ = ["BenchConfig", "PhaseSamples", "run_bench", "summarize", "RESULTS_SCHEMA"]

RESULTS_SCHEMA = "storeswap-bench/1"
LOAD_CHUNK = 1000
_NOT_RUN = -1
_FAILED = -2
_ADAPTER, _RAW = 0, 1
#: HdrHistogram range: 1 ns to 1 hour, 3 significant digits.
_HDR_MAX_NS = 3_600_000_000_000

ProgressFn = Callable[[str], None]


@define
class BenchConfig:
    """What to run (the ``storeswap bench`` options)."""

    stores: list[str]
    workload: str = "A"
    records: int = 10_000
    ops: int = 5_000
    concurrency: list[int] = field(factory=lambda: [1, 4])
    rate: float | None = None
    sizes: list[int] | None = None
    seed: int = 1
    warmup: int | None = None
    overhead: bool = True

    def effective_sizes(self) -> list[int]:
        """Table sizes for the size study: ``sizes`` or, by default, ``records`` and ``10 * records``."""
        if self.sizes is None:
            return [self.records, self.records * 10]
        return sorted(set(self.sizes))

    def warmup_pairs(self) -> int:
        """Pairs run (and thrown away) before measuring."""
        return self.warmup if self.warmup is not None else min(self.ops, max(50, self.ops // 10))


@define
class PhaseSamples:
    """Raw samples of one phase: per call, the operation, side and nanoseconds (``_NOT_RUN`` / ``_FAILED``)."""

    ops: array[int]
    adapter_ns: array[int]
    raw_ns: array[int]
    wall_ns: int
    errors: Counter[str]
    lag_ns: array[int] | None = None


# ---------------------------------------------------------------- statistics


def summarize(values_ns: Sequence[int], wall_s: float) -> dict[str, Any]:
    """count, percentiles (HdrHistogram), max and exact mean in µs, and throughput over ``wall_s``."""
    from hdrh.histogram import HdrHistogram

    good = [v for v in values_ns if v >= 0]
    if not good:
        return {"count": 0}
    hist = HdrHistogram(1, _HDR_MAX_NS, 3)
    for v in good:
        hist.record_value(min(max(v, 1), _HDR_MAX_NS))
    us = 1000.0
    return {
        "count": len(good),
        "p50_us": hist.get_value_at_percentile(50.0) / us,
        "p90_us": hist.get_value_at_percentile(90.0) / us,
        "p99_us": hist.get_value_at_percentile(99.0) / us,
        "p999_us": hist.get_value_at_percentile(99.9) / us,
        "max_us": max(good) / us,
        "mean_us": sum(good) / len(good) / us,
        "throughput_ops_s": len(good) / wall_s if wall_s > 0 else None,
    }


def _ratio(adapter: dict[str, Any], raw: dict[str, Any], pairs: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("p50_us", "p90_us", "p99_us", "p999_us", "mean_us"):
        a, r = adapter.get(k), raw.get(k)
        out[k.removesuffix("_us")] = a / r if a is not None and r else None
    # Each pair ran back to back, so its ratio shares the moment's noise; the median of those is the
    # steadiest single estimate of what the adapter adds.
    out["paired_median"] = statistics.median(pairs) if pairs else None
    out["pairs"] = len(pairs)
    return out


def phase_figures(samples: PhaseSamples, workload: Workload, raw_notes: dict[str, str]) -> dict[str, Any]:
    """Per-operation statistics of one phase: adapter, raw, ratios."""
    wall_s = samples.wall_ns / 1e9
    per_op: dict[str, Any] = {}
    n = len(samples.ops)
    total_calls = 0
    for code, name in enumerate(workload.ops):
        idx = [i for i in range(n) if samples.ops[i] == code]
        if not idx:
            continue
        a = [samples.adapter_ns[i] for i in idx if samples.adapter_ns[i] != _NOT_RUN]
        r = [samples.raw_ns[i] for i in idx if samples.raw_ns[i] != _NOT_RUN]
        a_stats = summarize(a, wall_s)
        a_stats["errors"] = sum(1 for v in a if v == _FAILED)
        entry: dict[str, Any] = {"adapter": a_stats, "raw": None, "ratio": None, "raw_note": raw_notes.get(name)}
        total_calls += a_stats["count"]
        if r:
            r_stats = summarize(r, wall_s)
            r_stats["errors"] = sum(1 for v in r if v == _FAILED)
            total_calls += r_stats["count"]
            pairs = [
                samples.adapter_ns[i] / samples.raw_ns[i]
                for i in idx
                if samples.adapter_ns[i] >= 0 and samples.raw_ns[i] > 0
            ]
            entry["raw"] = r_stats
            entry["ratio"] = _ratio(a_stats, r_stats, pairs) if r_stats.get("count") else None
            entry["raw_note"] = None
        per_op[name] = entry
    out: dict[str, Any] = {
        "wall_s": wall_s,
        "calls": total_calls,
        "throughput_ops_s": total_calls / wall_s if wall_s > 0 else None,
        "errors": dict(samples.errors),
        "ops": per_op,
    }
    if samples.lag_ns is not None:
        out["start_lag"] = summarize(samples.lag_ns, wall_s)
    return out


# ---------------------------------------------------------------- the loops


def _timed(fn: Callable[[], Any], errors: Counter[str]) -> tuple[int, Any]:
    pc = time.perf_counter_ns
    try:
        t0 = pc()
        result = fn()
        t1 = pc()
    except Exception as e:  # an error is counted and its time thrown away, never raised mid-run
        errors[type(e).__name__] += 1
        return _FAILED, e
    return t1 - t0, result


def _raw_capable(workload: Workload, twin: RawTwin | None) -> list[bool]:
    return [twin is not None and workload.raw_capable(i, twin) for i in range(len(workload.ops))]


def closed_loop(
    store: ItemStore,
    twin: RawTwin | None,
    workload: Workload,
    *,
    concurrency: int,
    pairs: int,
    seed: int,
    twins: Sequence[RawTwin | None] | None = None,
) -> PhaseSamples:
    """``pairs`` adapter/raw pairs spread over ``concurrency`` threads, each thread back to back.

    ``twins[t]``, when given, is thread ``t``'s own raw twin (a driver
    connection is not shared between threads, as the adapter's pool does not
    share one either); otherwise every thread uses ``twin``.
    """
    capable = _raw_capable(workload, twin)
    per_thread_twin = list(twins) if twins is not None else [twin] * concurrency
    per_thread = [pairs // concurrency + (1 if t < pairs % concurrency else 0) for t in range(concurrency)]
    ops_all = array("b", bytes(pairs))
    a_all = array("q", [_NOT_RUN]) * pairs
    r_all = array("q", [_NOT_RUN]) * pairs
    errors: Counter[str] = Counter()
    barrier = threading.Barrier(concurrency + 1)
    offsets = list(itertools.accumulate([0, *per_thread]))
    failures: list[BaseException] = []

    def worker(t: int) -> None:
        n = per_thread[t]
        my_twin = per_thread_twin[t]
        ctx = ThreadContext(random.Random(seed * 1_000_003 + t), t)
        rng = ctx.rng
        ops = array("b", bytes(n))
        a_ns = array("q", [_NOT_RUN]) * n
        r_ns = array("q", [_NOT_RUN]) * n
        errs: Counter[str] = Counter()
        try:
            barrier.wait()
            for i in range(n):
                op = workload.choose(rng)
                ops[i] = op
                a_fn, a_after = workload.adapter_call(op, ctx, store)
                if capable[op]:
                    assert my_twin is not None
                    r_fn, r_after = workload.raw_call(op, ctx, my_twin, store)
                    if rng.random() < 0.5:
                        a_ns[i], a_res = _timed(a_fn, errs)
                        r_ns[i], r_res = _timed(r_fn, errs)
                    else:
                        r_ns[i], r_res = _timed(r_fn, errs)
                        a_ns[i], a_res = _timed(a_fn, errs)
                    if r_after is not None:
                        r_after(r_res)
                else:
                    a_ns[i], a_res = _timed(a_fn, errs)
                if a_after is not None:
                    a_after(a_res)
        except BaseException as e:  # reported to the caller after join
            failures.append(e)
        finally:
            o = offsets[t]
            ops_all[o : o + n] = ops
            a_all[o : o + n] = a_ns
            r_all[o : o + n] = r_ns
            with lock:
                errors.update(errs)

    lock = threading.Lock()
    threads = [threading.Thread(target=worker, args=(t,), name=f"bench-{t}", daemon=True) for t in range(concurrency)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter_ns()
    for th in threads:
        th.join()
    wall = time.perf_counter_ns() - start
    if failures:
        raise failures[0]
    return PhaseSamples(ops_all, a_all, r_all, wall, errors)


def open_loop(
    store: ItemStore,
    twin: RawTwin | None,
    workload: Workload,
    *,
    rate: float,
    pairs: int,
    workers: int,
    seed: int,
    twins: Sequence[RawTwin | None] | None = None,
) -> PhaseSamples:
    """Arrivals at ``rate`` calls per second, latency from each call's intended start.

    A pair's two calls take adjacent arrivals in random order; an operation
    without a raw twin runs on the adapter in both slots.  ``lag_ns`` holds
    how late each call actually started (scheduler and worker shortage).
    """
    capable = _raw_capable(workload, twin)
    per_thread_twin = list(twins) if twins is not None else [twin] * workers
    has_raw = any(capable)
    total = pairs * 2 if has_raw else pairs
    interval = 1e9 / rate
    order = random.Random(seed ^ 0x5EED)
    flips = [order.random() < 0.5 for _ in range(pairs)]
    ops_all = array("b", bytes(total))
    a_all = array("q", [_NOT_RUN]) * total
    r_all = array("q", [_NOT_RUN]) * total
    lag = array("q", [0]) * total
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    arrivals = itertools.count()
    failures: list[BaseException] = []
    barrier = threading.Barrier(workers + 1)
    start_box: list[int] = []
    pc = time.perf_counter_ns

    def worker(t: int) -> None:
        ctx = ThreadContext(random.Random(seed * 1_000_003 + 7919 + t), t)
        my_twin = per_thread_twin[t]
        rng = ctx.rng
        errs: Counter[str] = Counter()
        try:
            barrier.wait()
            t0 = start_box[0]
            while True:
                i = next(arrivals)
                if i >= total:
                    break
                op = workload.choose(rng)
                ops_all[i] = op
                side = _ADAPTER
                if has_raw and capable[op]:
                    side = (i & 1) ^ int(flips[i >> 1])
                if side == _RAW:
                    assert my_twin is not None
                    fn, after = workload.raw_call(op, ctx, my_twin, store)
                else:
                    fn, after = workload.adapter_call(op, ctx, store)
                intended = t0 + int(i * interval)
                # Sleep, never spin: a spinning thread holds the GIL from the thread whose call is due.
                wait = intended - pc()
                if wait > 0:
                    time.sleep(wait / 1e9)
                try:
                    begin = pc()
                    result = fn()
                    end = pc()
                    ns = end - intended
                except Exception as e:
                    errs[type(e).__name__] += 1
                    ns, result, begin = _FAILED, e, pc()
                lag[i] = begin - intended
                if side == _RAW:
                    r_all[i] = ns
                else:
                    a_all[i] = ns
                if after is not None:
                    after(result)
        except BaseException as e:
            failures.append(e)
        finally:
            with lock:
                errors.update(errs)

    threads = [threading.Thread(target=worker, args=(t,), name=f"bench-open-{t}", daemon=True) for t in range(workers)]
    for th in threads:
        th.start()
    start_box.append(pc() + 2_000_000)
    barrier.wait()
    for th in threads:
        th.join()
    wall = pc() - start_box[0]
    if failures:
        raise failures[0]
    return PhaseSamples(ops_all, a_all, r_all, wall, errors, lag)


# ---------------------------------------------------------------- orchestration


def _reset_table(store: ItemStore, workload: Workload) -> None:
    with contextlib.suppress(TableNotFound):
        store.delete_table(BENCH_TABLE)
    store.create_table(workload.table_spec())


def _load(store: ItemStore, workload: Workload, start: int, stop: int, seed: int, progress: ProgressFn) -> float:
    """Load records ``start..stop-1``; returns seconds taken."""
    rng = random.Random(seed * 31 + start)
    began = time.perf_counter()
    items = workload.load_items(start, stop, rng)
    done = start
    while True:
        chunk = list(itertools.islice(items, LOAD_CHUNK))
        if not chunk:
            break
        store.bulk_load(BENCH_TABLE, chunk)
        done = min(stop, done + LOAD_CHUNK)
        progress(f"loading {done}/{stop}")
    return time.perf_counter() - began


class _TwinPool:
    """One raw twin per benchmark thread, opened on demand and kept across phases."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store
        self.first, self.description = open_raw_twin(store)
        self.twins: list[RawTwin] = [] if self.first is None else [self.first]

    def take(self, n: int) -> list[RawTwin | None]:
        if self.first is None:
            return [None] * n
        while len(self.twins) < n:
            twin, _ = open_raw_twin(self.store)
            if twin is None:  # could open one but not more: share the first
                twin = self.first
            self.twins.append(twin)
        return list(self.twins[:n])

    def close(self) -> None:
        seen: set[int] = set()
        for twin in self.twins:
            if id(twin) not in seen:
                seen.add(id(twin))
                with contextlib.suppress(Exception):
                    twin.close()
        self.twins = []


def _raw_notes(workload: Workload, twin: RawTwin | None, reason: str) -> dict[str, str]:
    notes: dict[str, str] = {}
    for code, name in enumerate(workload.ops):
        if twin is None:
            notes[name] = f"raw: n/a ({reason})"
        elif not workload.raw_capable(code, twin):
            notes[name] = "raw: n/a (the raw driver has no twin of this operation)"
    return notes


def _bench_store(
    spec: str,
    store: ItemStore,
    config: BenchConfig,
    progress: ProgressFn,
    backend_log: list[str],
) -> dict[str, Any]:
    workload = make_workload(config.workload)
    info = describe_store(spec, store, backend_log)
    result: dict[str, Any] = {"name": redact_url(spec), "store": info}
    opcount = config.ops * 2 * (len(config.concurrency) + (1 if config.rate else 0) + 1)

    progress(f"{spec}: creating {BENCH_TABLE}")
    _reset_table(store, workload)
    workload.new_table(config.records)
    load_s = _load(store, workload, 0, config.records, config.seed, lambda m: progress(f"{spec}: {m}"))
    result["load"] = {"records": config.records, "seconds": load_s}
    workload.prepare(workload.key_count(), opcount)

    pool = _TwinPool(store)
    twin, twin_desc = pool.first, pool.description
    result["raw_driver"] = twin_desc if twin is not None else None
    result["raw_unavailable"] = None if twin is not None else twin_desc
    notes = _raw_notes(workload, twin, twin_desc)
    runs: list[dict[str, Any]] = []
    try:
        warm = config.warmup_pairs()
        if warm:
            progress(f"{spec}: warm-up ({warm} pairs)")
            c = max(config.concurrency)
            closed_loop(
                store, twin, workload, concurrency=c, pairs=max(warm, c), seed=config.seed + 99, twins=pool.take(c)
            )
        for c in config.concurrency:
            progress(f"{spec}: closed loop, {c} thread(s)")
            samples = closed_loop(
                store, twin, workload, concurrency=c, pairs=config.ops, seed=config.seed + c, twins=pool.take(c)
            )
            runs.append(
                {"mode": "closed", "concurrency": c, "pairs": config.ops, **phase_figures(samples, workload, notes)}
            )
        if config.rate:
            workers = max(max(config.concurrency), 2)
            progress(f"{spec}: open loop at {config.rate:g} calls/s")
            samples = open_loop(
                store,
                twin,
                workload,
                rate=config.rate,
                pairs=config.ops,
                workers=workers,
                seed=config.seed + 500,
                twins=pool.take(workers),
            )
            figures = phase_figures(samples, workload, notes)
            runs.append({"mode": "open", "rate": config.rate, "workers": workers, "pairs": config.ops, **figures})
        result["runs"] = runs
        sizes: list[dict[str, Any]] = []
        for size in config.effective_sizes():

            def loading(message: str, size: int = size) -> None:
                progress(f"{spec}: size {size}: {message}")

            if size < workload.key_count():
                # Smaller than what is there: start again from an empty table (and fresh twins on it).
                pool.close()
                _reset_table(store, workload)
                workload.new_table(size)
                _load(store, workload, 0, size, config.seed, loading)
                pool = _TwinPool(store)
                twin = pool.first
            elif size > workload.key_count():
                _load(store, workload, workload.key_count(), size, config.seed, loading)
            workload.prepare(workload.key_count(), config.ops * 2)
            progress(f"{spec}: size {size}: measuring")
            samples = closed_loop(
                store, twin, workload, concurrency=1, pairs=config.ops, seed=config.seed + size, twins=pool.take(1)
            )
            sizes.append(
                {
                    "size": size,
                    "records": workload.key_count(),
                    "concurrency": 1,
                    "pairs": config.ops,
                    **phase_figures(samples, workload, notes),
                }
            )
        result["sizes"] = sizes
    finally:
        pool.close()
        # Leaving the table behind is not worth failing a finished run.
        with contextlib.suppress(Exception):
            store.delete_table(BENCH_TABLE)
    return result


def harness_overhead(config: BenchConfig, progress: ProgressFn) -> dict[str, Any]:
    """The workload on the no-op store and no-op raw twin: the floor under every figure."""
    store = NoopStore()
    workload = make_workload(config.workload)
    records = min(config.records, 100_000)
    _reset_table(store, workload)
    workload.new_table(records)
    for _ in workload.load_items(0, records, random.Random(0)):
        pass
    workload.prepare(workload.key_count(), config.ops * 4)
    twin, _desc = open_raw_twin(store)
    pairs = max(config.ops, 1000)
    progress("harness overhead (no-op store)")
    closed_loop(store, twin, workload, concurrency=1, pairs=min(pairs, 500), seed=config.seed + 7)
    samples = closed_loop(store, twin, workload, concurrency=1, pairs=pairs, seed=config.seed + 8)
    figures = phase_figures(samples, workload, {})
    return {
        "what": "adapter = the port's validation and preparation on a store that does nothing, plus the harness; "
        "raw = a call that returns at once, through the same harness (the harness alone)",
        "pairs": pairs,
        **figures,
    }


def finite(obj: Any) -> Any:
    """Replace NaN / infinity (not JSON) with ``None``."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite(v) for v in obj]
    return obj


def run_bench(
    config: BenchConfig,
    progress: ProgressFn | None = None,
    opener: Callable[[str], ItemStore] = open_store,
) -> dict[str, Any]:
    """Run the whole benchmark; returns the ``results.json`` document."""
    say: ProgressFn = progress or (lambda _m: None)
    if not config.stores:
        raise ValueError("name at least one store")
    if config.records < 10:
        raise ValueError("--records must be at least 10")
    if config.ops < 1:
        raise ValueError("--ops must be at least 1")
    if any(c < 1 for c in config.concurrency) or not config.concurrency:
        raise ValueError("--concurrency takes positive integers")
    if config.rate is not None and config.rate <= 0:
        raise ValueError("--rate must be positive")
    make_workload(config.workload)  # fail fast on an unknown name
    started = datetime.now(UTC)
    doc: dict[str, Any] = {
        "schema": RESULTS_SCHEMA,
        "started": started.isoformat(timespec="seconds"),
        "config": {
            "stores": [redact_url(s) for s in config.stores],
            "workload": config.workload,
            "records": config.records,
            "ops": config.ops,
            "concurrency": list(config.concurrency),
            "rate": config.rate,
            "sizes": config.effective_sizes(),
            "seed": config.seed,
            "warmup_pairs": config.warmup_pairs(),
        },
        "workload": {
            "name": make_workload(config.workload).name,
            "description": make_workload(config.workload).description,
            "ops": list(make_workload(config.workload).ops),
        },
        "environment": collect_environment(),
        "units": {"latency": "microseconds", "throughput": "calls per second"},
    }
    if config.overhead:
        doc["harness_overhead"] = harness_overhead(config, say)
    stores: list[dict[str, Any]] = []
    for spec in config.stores:
        say(f"{redact_url(spec)}: opening")
        with capture_backend_log() as lines:
            store = opener(spec)
        try:
            stores.append(_bench_store(spec, store, config, say, lines))
        finally:
            store.close()
    doc["stores"] = stores
    doc["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    doc["emulators"] = [s["name"] for s in stores if s["store"].get("emulator")]
    result: dict[str, Any] = finite(doc)
    return result
