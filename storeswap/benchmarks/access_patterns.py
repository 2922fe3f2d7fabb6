"""A table's own access patterns as a benchmark workload, and a store-against-store timing loop.

:class:`AccessPatternWorkload` is built from a :class:`TableSpec` and a
sample of items read from the table.  Its operations follow from the key
schema and indexes alone:

- ``get``: a get by table key (keys from the sample);
- ``query partition``: the first page (``limit`` 20) of a sampled partition, when the table has a sort key;
- ``query index <name>``: the first page of a sampled index partition, for each global and local index;
- ``put``: a put of a sampled item;
- ``conditional update``: ``SET`` a counter attribute ``if attribute_exists(<pk>)``.

Reads run on the table itself; writes run on a *scratch* table of the same
spec, seeded with the sample, so that benchmarking never changes the
user's data.  Every store is :meth:`bound <AccessPatternWorkload.bind>` to
its table and scratch table first.

The workload is adapter-only (no raw twin: ``raw_capable`` is False).  The
comparison it exists for is one store against another:
:func:`run_interleaved` runs each drawn operation on every store back to
back, in random order, so all stores share the same moment's noise (the
same idea as the runner's adapter/raw pairs, see
``docs/decisions/0005-bench-interleaved-pairs.md``).
"""

from __future__ import annotations

import contextlib
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from storeswap.benchmarks.raw_twin import RawTwin
from storeswap.benchmarks.runner import summarize
from storeswap.benchmarks.workloads import Call, ThreadContext, Workload
from storeswap.core.errors import TableNotFound
from storeswap.core.port import ItemStore
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import Item

__all__ = ["AccessPatternWorkload", "run_interleaved", "QUERY_LIMIT", "COUNTER_ATTRIBUTE"]

QUERY_LIMIT = 20
#: The attribute the conditional update increments (on the scratch table only).
COUNTER_ATTRIBUTE = "storeswap_bench_n"
_ONE = Decimal(1)
_ZERO = Decimal(0)


@attrs.define
class _Binding:
    table: str
    scratch: str


class AccessPatternWorkload(Workload):
    """The access patterns a table's key schema and indexes allow (see the module docstring)."""

    name = "access-patterns"
    description = "the table's own access patterns: get, partition query, index queries, put, conditional update"

    def __init__(self, spec: TableSpec, sample: Sequence[Mapping[str, Any]]) -> None:
        if not sample:
            raise ValueError(f"table {spec.name} is empty: there is nothing to benchmark")
        self.spec = spec
        self.items: list[Item] = [dict(item) for item in sample]
        self.keys: list[Item] = [{n: item[n] for n in spec.key_names} for item in self.items]
        ops: list[str] = ["get"]
        #: Operation number -> (the index or table queried, the partition key values to query).
        self._queries: dict[int, tuple[IndexKeys, list[Any]]] = {}
        if spec.sort_key is not None:
            self._queries[len(ops)] = (spec.table_keys(), self._distinct(spec.partition_key.name))
            ops.append("query partition")
        for index in spec.indexes():
            values = self._distinct(index.partition_key.name)
            if values:  # an index no sampled item is in cannot be queried meaningfully
                self._queries[len(ops)] = (index, values)
                ops.append(f"query index {index.name}")
        ops += ["put", "conditional update"]
        self.ops = tuple(ops)
        self._bindings: dict[int, _Binding] = {}

    def _distinct(self, name: str) -> list[Any]:
        seen: dict[Any, None] = {}
        for item in self.items:
            v = item.get(name)
            if v is not None and not isinstance(v, (dict, list)):
                seen.setdefault(v, None)
        return list(seen)

    # ------------------------------------------------------------------ binding

    def scratch_spec(self, name: str) -> TableSpec:
        """The spec of a scratch table: the table's own, renamed."""
        return attrs.evolve(self.spec, name=name)

    def bind(self, store: ItemStore, table: str, scratch: str) -> None:
        """Run reads on ``table`` and writes on ``scratch`` for ``store``; (re)creates and seeds ``scratch``."""
        with contextlib.suppress(TableNotFound):
            store.delete_table(scratch)
        store.create_table(self.scratch_spec(scratch))
        store.bulk_load(scratch, self.items)
        self._bindings[id(store)] = _Binding(table, scratch)

    def unbind(self, store: ItemStore) -> None:
        """Delete ``store``'s scratch table (best effort)."""
        binding = self._bindings.pop(id(store), None)
        if binding is not None:
            with contextlib.suppress(Exception):
                store.delete_table(binding.scratch)

    def _binding(self, store: ItemStore) -> _Binding:
        try:
            return self._bindings[id(store)]
        except KeyError:
            raise RuntimeError(f"bind() {store!r} to its tables before running the workload") from None

    # ----------------------------------------------------------- Workload ABC

    def table_spec(self) -> TableSpec:
        """The table's spec."""
        return self.spec

    def new_table(self, records: int) -> None:
        """Nothing to do: the workload runs on an existing table."""

    def load_items(self, start: int, stop: int, rng: random.Random) -> Iterator[dict[str, Any]]:
        """Nothing to load: the workload runs on an existing table."""
        return iter(())

    def prepare(self, records: int, opcount: int) -> None:
        """Nothing to prepare: keys come from the sample."""

    def key_count(self) -> int:
        """Sampled keys."""
        return len(self.keys)

    def choose(self, rng: random.Random) -> int:
        """Every operation equally often."""
        return rng.randrange(len(self.ops))

    def raw_capable(self, op: int, twin: RawTwin) -> bool:
        """Never: raw twins know only the benchmark table's shape."""
        return False

    def raw_call(self, op: int, ctx: ThreadContext, twin: RawTwin, store: ItemStore) -> Call:
        """Not available (see :meth:`raw_capable`)."""
        raise NotImplementedError("the access-pattern workload has no raw twin")

    def adapter_call(self, op: int, ctx: ThreadContext, store: ItemStore) -> Call:
        """Operation ``op`` on ``store`` with a key drawn from ``ctx.rng``."""
        return self.call(op, ctx.rng.randrange(1 << 30), store)

    # ---------------------------------------------------------------- calls

    def call(self, op: int, draw: int, store: ItemStore) -> Call:
        """Operation ``op`` on ``store``; ``draw`` picks the key, so two stores given one draw do the same work."""
        b = self._binding(store)
        name = self.ops[op]
        if name == "get":
            key = self.keys[draw % len(self.keys)]
            return (lambda: store.get(b.table, key)), None
        if name == "put":
            item = self.items[draw % len(self.items)]
            return (lambda: store.put(b.scratch, item)), None
        if name == "conditional update":
            key = self.keys[draw % len(self.keys)]
            names = {"#c": COUNTER_ATTRIBUTE, "#k": self.spec.partition_key.name}
            values = {":one": _ONE, ":zero": _ZERO}
            return (
                lambda: store.update(
                    b.scratch,
                    key,
                    "SET #c = if_not_exists(#c, :zero) + :one",
                    condition="attribute_exists(#k)",
                    names=names,
                    values=values,
                )
            ), None
        index, partitions = self._queries[op]
        value = partitions[draw % len(partitions)]
        names = {"#p": index.partition_key.name}
        values = {":p": value}
        return (
            lambda: store.query(b.table, "#p = :p", index=index.name, names=names, values=values, limit=QUERY_LIMIT)
        ), None


def _timed(fn: Callable[[], Any], errors: Counter[str]) -> int:
    pc = time.perf_counter_ns
    try:
        t0 = pc()
        fn()
        t1 = pc()
    except Exception as e:  # counted, never raised mid-run
        errors[type(e).__name__] += 1
        return -1
    return t1 - t0


def run_interleaved(
    workload: AccessPatternWorkload,
    stores: Sequence[tuple[str, ItemStore]],
    *,
    per_op: int,
    warmup: int = 10,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Time ``per_op`` calls of every operation on every store, interleaved call by call (one thread).

    Each drawn operation runs once on every store, back to back, in a fresh
    random order.  Returns per operation and store the latency statistics of
    :func:`storeswap.benchmarks.runner.summarize` (µs), and per operation the
    median over draws of each store's time divided by the first store's.
    """
    rng = random.Random(seed)
    plan = [op for op in range(len(workload.ops)) for _ in range(per_op)]
    rng.shuffle(plan)
    warm = [op for op in range(len(workload.ops)) for _ in range(warmup)]
    samples: dict[str, list[list[int]]] = {name: [[] for _ in workload.ops] for name, _ in stores}
    errors: dict[str, Counter[str]] = {name: Counter() for name, _ in stores}
    order = list(stores)
    total = len(warm) + len(plan)
    started = time.perf_counter()
    for i, op in enumerate(warm + plan):
        draw = rng.randrange(1 << 30)
        calls = [(name, workload.call(op, draw, store)[0]) for name, store in stores]
        rng.shuffle(order)
        by_name = dict(calls)
        for name, _store in order:
            ns = _timed(by_name[name], errors[name])
            if i >= len(warm):
                samples[name][op].append(ns)
        if progress is not None and (i % 20 == 0 or i == total - 1):
            progress(i + 1, total)
    wall = time.perf_counter() - started
    base = stores[0][0]
    ops: dict[str, Any] = {}
    for op, op_name in enumerate(workload.ops):
        entry: dict[str, Any] = {"stores": {}, "ratio_to_first": {}}
        for name, _store in stores:
            values = samples[name][op]
            stats = summarize([v for v in values if v >= 0], wall)
            stats.pop("throughput_ops_s", None)  # interleaved: a per-store rate would be meaningless
            stats["errors"] = sum(1 for v in values if v < 0)
            entry["stores"][name] = stats
            if name != base:
                pairs = [v / b for v, b in zip(values, samples[base][op]) if v >= 0 and b > 0]
                entry["ratio_to_first"][name] = statistics.median(pairs) if pairs else None
        ops[op_name] = entry
    return {
        "per_op": per_op,
        "warmup": warmup,
        "seed": seed,
        "wall_s": wall,
        "stores": [name for name, _ in stores],
        "ops": ops,
        "errors": {name: dict(c) for name, c in errors.items()},
    }
