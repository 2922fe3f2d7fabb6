"""Benchmark workloads: YCSB core workloads A-F and a multi-tenant single-table workload.

Every operation is drawn once and prepared twice — as an adapter call on the
:class:`ItemStore` and as the raw-driver call with the same semantics — so
the runner can time the two interleaved.  Preparing (choosing keys,
building values) happens outside the timed region; the runner times only
the call.

YCSB mapping (``site.ycsb.workloads.CoreWorkload``, default properties):

- records: 10 fields ``field0..field9`` of 100 characters (~1 KB);
- key number ``n`` (YCSB's ``keynum``) becomes ``pk = "user" + str(fnvhash64(n) % P)`` and
  ``sk = f"{n:010d}"`` on the benchmark table (pk S, sk S), with ``P = records // 100``
  partitions fixed when the table is created: the hash scatters keys over
  partitions (YCSB's ``insertorder=hashed``), and each partition holds ~100
  items so that a scan has something to read;
- read → ``get`` of the whole item (``readallfields=true``);
- update → ``update`` ``SET`` of one random field (``writeallfields=false``); raw twin ``update_field``;
- insert → ``put`` of a new record from YCSB's acknowledged insert counter;
- scan → ``query`` of the key's partition with ``limit`` uniform in 1..100
  (YCSB: ``maxscanlength=100``, ``scanlengthdistribution=uniform``), from the
  partition's first item — DynamoDB has no ordered scan across partitions;
- read-modify-write → ``get`` then the one-field update, timed as one operation.
"""

from __future__ import annotations

import base64
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from attrs import define, field

from storeswap.benchmarks.generators import (
    AcknowledgedCounterGenerator,
    DiscreteGenerator,
    KeyChooser,
    ScrambledZipfianGenerator,
    UniformLongGenerator,
    fnvhash64,
)
from storeswap.benchmarks.raw_base import BENCH_TABLE
from storeswap.benchmarks.raw_twin import RawTwin
from storeswap.core.errors import ConditionFailed
from storeswap.core.port import ItemStore
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec

__all__ = [
    "Call",
    "ThreadContext",
    "Workload",
    "YcsbMix",
    "YCSB_MIXES",
    "YcsbWorkload",
    "TenantWorkload",
    "WORKLOAD_NAMES",
    "make_workload",
]

#: A prepared operation: the call to time, and what to do with its result afterwards (untimed).
Call = tuple[Callable[[], Any], Callable[[Any], None] | None]

FIELD_COUNT = 10
FIELD_LENGTH = 100
MAX_SCAN_LENGTH = 100
_ONE = Decimal(1)


@define(slots=False)
class ThreadContext:
    """Per-thread state: its random stream, its id, and the versions it has seen (conditional updates)."""

    rng: random.Random
    thread: int = 0
    versions: dict[tuple[str, str], int] = field(factory=dict)


def _random_text(rng: random.Random, length: int) -> str:
    """Printable random text of ``length`` characters (YCSB's RandomByteIterator is printable too)."""
    raw = base64.b64encode(rng.randbytes((length * 3 + 3) // 4)).decode("ascii")
    return raw[:length]


class Workload(ABC):
    """A benchmark workload over the table ``BENCH_TABLE``."""

    name: str = ""
    description: str = ""
    #: Operation names, indexed by the integer the runner stores per operation.
    ops: tuple[str, ...] = ()

    @abstractmethod
    def table_spec(self) -> TableSpec:
        """The table the workload runs on."""

    @abstractmethod
    def new_table(self, records: int) -> None:
        """Reset for a new, empty table that will hold ``records`` records at first."""

    @abstractmethod
    def load_items(self, start: int, stop: int, rng: random.Random) -> Iterator[dict[str, Any]]:
        """The items of records ``start`` to ``stop - 1`` (the initial load)."""

    @abstractmethod
    def prepare(self, records: int, opcount: int) -> None:
        """(Re)build the request generators for a table of ``records`` records and a run of ``opcount`` ops."""

    @abstractmethod
    def key_count(self) -> int:
        """How many record keys exist (loaded plus inserted)."""

    @abstractmethod
    def choose(self, rng: random.Random) -> int:
        """The next operation (an index into ``ops``)."""

    @abstractmethod
    def raw_capable(self, op: int, twin: RawTwin) -> bool:
        """True when ``twin`` can perform operation ``op`` with the adapter's semantics."""

    @abstractmethod
    def adapter_call(self, op: int, ctx: ThreadContext, store: ItemStore) -> Call:
        """Prepare operation ``op`` on the adapter."""

    @abstractmethod
    def raw_call(self, op: int, ctx: ThreadContext, twin: RawTwin, store: ItemStore) -> Call:
        """Prepare operation ``op`` on the raw twin (``store`` only for untimed bookkeeping reads)."""


@define(frozen=True)
class YcsbMix:
    """A YCSB core workload's operation proportions and request distribution."""

    name: str
    description: str
    read: float = 0.0
    update: float = 0.0
    insert: float = 0.0
    scan: float = 0.0
    readmodifywrite: float = 0.0
    distribution: str = "zipfian"


#: YCSB's ``workloads/workloada`` .. ``workloadf``.
YCSB_MIXES: dict[str, YcsbMix] = {
    "A": YcsbMix("A", "update heavy: 50% read, 50% update, zipfian", read=0.5, update=0.5),
    "B": YcsbMix("B", "read mostly: 95% read, 5% update, zipfian", read=0.95, update=0.05),
    "C": YcsbMix("C", "read only: 100% read, zipfian", read=1.0),
    "D": YcsbMix("D", "read latest: 95% read, 5% insert, latest", read=0.95, insert=0.05, distribution="latest"),
    "E": YcsbMix(
        "E", "short ranges: 95% scan (partition query, limit 1..100), 5% insert, zipfian", scan=0.95, insert=0.05
    ),
    "F": YcsbMix("F", "read-modify-write: 50% read, 50% read-modify-write, zipfian", read=0.5, readmodifywrite=0.5),
}

_READ, _UPDATE, _INSERT, _SCAN, _RMW = range(5)


class YcsbWorkload(Workload):
    """One of YCSB's core workloads A-F (see the module docstring for the mapping)."""

    ops = ("read", "update", "insert", "scan", "read-modify-write")

    def __init__(self, mix: YcsbMix) -> None:
        self.mix = mix
        self.name = mix.name
        self.description = mix.description
        self.partitions = 1
        self.inserts = AcknowledgedCounterGenerator(0)
        self.chooser = DiscreteGenerator(
            [
                (mix.read, _READ),
                (mix.update, _UPDATE),
                (mix.insert, _INSERT),
                (mix.scan, _SCAN),
                (mix.readmodifywrite, _RMW),
            ]
        )
        self.fieldchooser = UniformLongGenerator(0, FIELD_COUNT - 1)
        self.scanlength = UniformLongGenerator(1, MAX_SCAN_LENGTH)
        self.keychooser: KeyChooser | None = None

    def table_spec(self) -> TableSpec:
        """``BENCH_TABLE``: pk S + sk S."""
        return TableSpec(BENCH_TABLE, KeyAttribute("pk", "S"), KeyAttribute("sk", "S"))

    def new_table(self, records: int) -> None:
        """Fix the partition count for this table and restart the insert counter."""
        self.partitions = max(1, records // 100)
        self.inserts = AcknowledgedCounterGenerator(0)

    def key(self, n: int) -> tuple[str, str]:
        """(pk, sk) of key number ``n``."""
        return f"user{fnvhash64(n) % self.partitions}", f"{n:010d}"

    def record(self, n: int, rng: random.Random) -> dict[str, Any]:
        """A full record: the key and 10 fields of 100 random characters."""
        pk, sk = self.key(n)
        text = _random_text(rng, FIELD_COUNT * FIELD_LENGTH)
        item: dict[str, Any] = {"pk": pk, "sk": sk}
        for i in range(FIELD_COUNT):
            item[f"field{i}"] = text[i * FIELD_LENGTH : (i + 1) * FIELD_LENGTH]
        return item

    def load_items(self, start: int, stop: int, rng: random.Random) -> Iterator[dict[str, Any]]:
        """Records ``start..stop-1``; advances the insert counter past them (they are acknowledged)."""
        for n in range(start, stop):
            yield self.record(n, rng)
        # The load is YCSB's load phase: the transaction insert sequence starts after it.
        while self.inserts.last_value() < stop - 1:
            self.inserts.acknowledge(self.inserts.next())

    def prepare(self, records: int, opcount: int) -> None:
        """YCSB's ``CoreWorkload.init`` for ``records`` loaded records and ``opcount`` operations."""
        self.keychooser = KeyChooser(self.mix.distribution, records, opcount, self.mix.insert, self.inserts)

    def key_count(self) -> int:
        """Loaded plus acknowledged inserted records."""
        return self.inserts.last_value() + 1

    def choose(self, rng: random.Random) -> int:
        """The next operation, by the mix's proportions."""
        return self.chooser.next(rng)

    def raw_capable(self, op: int, twin: RawTwin) -> bool:
        """get / update_field / put / query / get + update_field."""
        need = {
            _READ: ("get",),
            _UPDATE: ("update_field",),
            _INSERT: ("put",),
            _SCAN: ("query",),
            _RMW: ("get", "update_field"),
        }[op]
        return all(twin.supports(c) for c in need)

    def _next_key(self, rng: random.Random) -> tuple[str, str]:
        assert self.keychooser is not None, "prepare() the workload first"
        return self.key(self.keychooser.next(rng))

    def _field_value(self, rng: random.Random) -> tuple[str, str]:
        return f"field{self.fieldchooser.next(rng)}", _random_text(rng, FIELD_LENGTH)

    def adapter_call(self, op: int, ctx: ThreadContext, store: ItemStore) -> Call:
        """The adapter side of one operation."""
        rng = ctx.rng
        table = BENCH_TABLE
        if op == _INSERT:
            n = self.inserts.next()
            item = self.record(n, rng)
            return (lambda: store.put(table, item)), (lambda _r: self.inserts.acknowledge(n))
        pk, sk = self._next_key(rng)
        key = {"pk": pk, "sk": sk}
        if op == _READ:
            return (lambda: store.get(table, key)), None
        if op == _SCAN:
            length = self.scanlength.next(rng)
            values = {":p": pk}
            return (lambda: store.query(table, "pk = :p", values=values, limit=length)), None
        name, value = self._field_value(rng)
        names = {"#f": name}
        vals = {":v": value}
        if op == _UPDATE:
            return (lambda: store.update(table, key, "SET #f = :v", names=names, values=vals)), None

        def rmw() -> Any:
            store.get(table, key)
            return store.update(table, key, "SET #f = :v", names=names, values=vals)

        return rmw, None

    def raw_call(self, op: int, ctx: ThreadContext, twin: RawTwin, store: ItemStore) -> Call:
        """The raw-driver side of one operation."""
        rng = ctx.rng
        if op == _INSERT:
            n = self.inserts.next()
            item = self.record(n, rng)
            put = twin.method("put")
            return (lambda: put(item)), (lambda _r: self.inserts.acknowledge(n))
        pk, sk = self._next_key(rng)
        if op == _READ:
            get = twin.method("get")
            return (lambda: get(pk, sk)), None
        if op == _SCAN:
            length = self.scanlength.next(rng)
            query = twin.method("query")
            return (lambda: query(pk, length)), None
        name, value = self._field_value(rng)
        update_field = twin.method("update_field")
        if op == _UPDATE:
            return (lambda: update_field(pk, sk, name, value)), None
        get = twin.method("get")

        def rmw() -> Any:
            get(pk, sk)
            return update_field(pk, sk, name, value)

        return rmw, None


_T_READ, _T_ADD, _T_QUERY, _T_INDEX, _T_COND = range(5)
COUNTERS_PER_TENANT = 4
TENANT_QUERY_LIMIT = 20
TENANT_FIELDS = 5


class TenantWorkload(Workload):
    """A multi-tenant service on one table (single-table design).

    Items: ``pk = tenantNNNNN``; ``sk = item#NNNNNNNNNN`` for documents
    (5 fields of 100 characters, ``gsi1pk = ownerNNNNNN``, ``gsi1sk`` = the
    item number) and ``sk = counter#C`` for 4 counters per tenant (``hits``,
    ``version``, ``n``).  Tenants are ``records // 100`` and their popularity
    is scrambled-Zipfian, as a real service's are skewed; owners are
    ``records // 20``, uniform.

    Mix: 35% read (get a document), 25% counter-add (``ADD hits :one``),
    20% tenant-query (the first 20 items of a tenant's partition), 10%
    index-query (the first 20 items of an owner on ``gsi1``), 10%
    conditional-update (``SET version = version + :one, n = n + :one`` if
    ``version = :v``, optimistic locking; the raw twin is ``conditional_update``).
    """

    name = "tenant"
    description = (
        "multi-tenant single table: 35% read, 25% counter ADD, 20% tenant query, 10% GSI query, 10% conditional update"
    )
    ops = ("read", "counter-add", "tenant-query", "index-query", "conditional-update")

    def __init__(self) -> None:
        self.records = 0
        self.tenants = 1
        self.owners = 1
        self.chooser = DiscreteGenerator(
            [(0.35, _T_READ), (0.25, _T_ADD), (0.20, _T_QUERY), (0.10, _T_INDEX), (0.10, _T_COND)]
        )
        self.tenantchooser = ScrambledZipfianGenerator(0, 0)
        self.ownerchooser = UniformLongGenerator(0, 0)
        self.counterchooser = UniformLongGenerator(0, COUNTERS_PER_TENANT - 1)
        self.slotchooser = UniformLongGenerator(0, 0)

    def table_spec(self) -> TableSpec:
        """``BENCH_TABLE`` (pk S + sk S) with global index ``gsi1`` (gsi1pk S + gsi1sk S)."""
        return TableSpec(
            BENCH_TABLE,
            KeyAttribute("pk", "S"),
            KeyAttribute("sk", "S"),
            global_indexes=(GlobalIndex("gsi1", KeyAttribute("gsi1pk", "S"), KeyAttribute("gsi1sk", "S")),),
        )

    def new_table(self, records: int) -> None:
        """Fix tenants and owners for this table."""
        self.tenants = max(1, records // 100)
        self.owners = max(1, records // 20)
        self.records = 0

    @staticmethod
    def tenant(t: int) -> str:
        """Partition key of tenant ``t``."""
        return f"tenant{t:05d}"

    def load_items(self, start: int, stop: int, rng: random.Random) -> Iterator[dict[str, Any]]:
        """Documents ``start..stop-1``, and the counters of every tenant not loaded yet."""
        counters = self.tenants * COUNTERS_PER_TENANT
        for n in range(start, stop):
            text = _random_text(rng, TENANT_FIELDS * FIELD_LENGTH)
            item: dict[str, Any] = {
                "pk": self.tenant(n % self.tenants),
                "sk": f"item#{n:010d}",
                "gsi1pk": f"owner{fnvhash64(n) % self.owners:06d}",
                "gsi1sk": f"{n:010d}",
            }
            for i in range(TENANT_FIELDS):
                item[f"field{i}"] = text[i * FIELD_LENGTH : (i + 1) * FIELD_LENGTH]
            yield item
            if n < counters:
                yield {
                    "pk": self.tenant(n % self.tenants),
                    "sk": f"counter#{n // self.tenants}",
                    "hits": 0,
                    "version": 0,
                    "n": 0,
                }
        self.records = max(self.records, stop)

    def prepare(self, records: int, opcount: int) -> None:
        """Generators for ``records`` documents."""
        self.tenantchooser = ScrambledZipfianGenerator(0, self.tenants - 1)
        self.ownerchooser = UniformLongGenerator(0, self.owners - 1)
        self.slotchooser = UniformLongGenerator(0, max(1, records // self.tenants) - 1)

    def key_count(self) -> int:
        """Documents loaded."""
        return self.records

    def choose(self, rng: random.Random) -> int:
        """The next operation, by the mix's proportions."""
        return self.chooser.next(rng)

    def raw_capable(self, op: int, twin: RawTwin) -> bool:
        """get / increment / query / query_index / conditional_update."""
        need = {
            _T_READ: "get",
            _T_ADD: "increment",
            _T_QUERY: "query",
            _T_INDEX: "query_index",
            _T_COND: "conditional_update",
        }[op]
        return twin.supports(need)

    def _document(self, rng: random.Random) -> tuple[str, str]:
        t = self.tenantchooser.next(rng)
        n = t + self.tenants * self.slotchooser.next(rng)
        return self.tenant(t), f"item#{n:010d}"

    def _counter(self, rng: random.Random) -> tuple[str, str]:
        return self.tenant(self.tenantchooser.next(rng)), f"counter#{self.counterchooser.next(rng)}"

    def _expected_version(self, ctx: ThreadContext, store: ItemStore, key: tuple[str, str]) -> int:
        v = ctx.versions.get(key)
        if v is None:
            # Untimed bookkeeping read: what the application would already know.
            item = store.get(BENCH_TABLE, {"pk": key[0], "sk": key[1]}, consistent=True)
            v = int(item["version"]) if item is not None and "version" in item else 0
            ctx.versions[key] = v
        return v

    @staticmethod
    def _after_conditional(ctx: ThreadContext, key: tuple[str, str]) -> Callable[[Any], None]:
        def after(ok: Any) -> None:
            if ok is True:
                ctx.versions[key] = ctx.versions.get(key, 0) + 1
            else:
                # Another thread won the race: re-read before the next attempt.
                ctx.versions.pop(key, None)

        return after

    def adapter_call(self, op: int, ctx: ThreadContext, store: ItemStore) -> Call:
        """The adapter side of one operation."""
        rng = ctx.rng
        table = BENCH_TABLE
        if op == _T_READ:
            pk, sk = self._document(rng)
            key = {"pk": pk, "sk": sk}
            return (lambda: store.get(table, key)), None
        if op == _T_ADD:
            pk, sk = self._counter(rng)
            key = {"pk": pk, "sk": sk}
            one = {":one": _ONE}
            return (lambda: store.update(table, key, "ADD hits :one", values=one)), None
        if op == _T_QUERY:
            values = {":p": self.tenant(self.tenantchooser.next(rng))}
            return (lambda: store.query(table, "pk = :p", values=values, limit=TENANT_QUERY_LIMIT)), None
        if op == _T_INDEX:
            values = {":o": f"owner{self.ownerchooser.next(rng):06d}"}
            return (
                lambda: store.query(table, "gsi1pk = :o", index="gsi1", values=values, limit=TENANT_QUERY_LIMIT)
            ), None
        ck = self._counter(rng)
        expected = self._expected_version(ctx, store, ck)
        key = {"pk": ck[0], "sk": ck[1]}
        vals = {":one": _ONE, ":v": Decimal(expected)}

        def conditional() -> bool:
            try:
                store.update(
                    table, key, "SET version = version + :one, n = n + :one", condition="version = :v", values=vals
                )
            except ConditionFailed:
                return False
            return True

        return conditional, self._after_conditional(ctx, ck)

    def raw_call(self, op: int, ctx: ThreadContext, twin: RawTwin, store: ItemStore) -> Call:
        """The raw-driver side of one operation."""
        rng = ctx.rng
        if op == _T_READ:
            pk, sk = self._document(rng)
            get = twin.method("get")
            return (lambda: get(pk, sk)), None
        if op == _T_ADD:
            pk, sk = self._counter(rng)
            increment = twin.method("increment")
            return (lambda: increment(pk, sk, "hits", _ONE)), None
        if op == _T_QUERY:
            tenant = self.tenant(self.tenantchooser.next(rng))
            query = twin.method("query")
            return (lambda: query(tenant, TENANT_QUERY_LIMIT)), None
        if op == _T_INDEX:
            owner = f"owner{self.ownerchooser.next(rng):06d}"
            query_index = twin.method("query_index")
            return (lambda: query_index("gsi1", owner, TENANT_QUERY_LIMIT)), None
        ck = self._counter(rng)
        expected = Decimal(self._expected_version(ctx, store, ck))
        conditional_update = twin.method("conditional_update")
        return (lambda: conditional_update(ck[0], ck[1], expected)), self._after_conditional(ctx, ck)


WORKLOAD_NAMES = (*YCSB_MIXES, "tenant")


def make_workload(name: str) -> Workload:
    """A fresh workload by name: ``A``..``F`` (case-insensitive) or ``tenant``."""
    key = name.strip()
    if key.upper() in YCSB_MIXES:
        return YcsbWorkload(YCSB_MIXES[key.upper()])
    if key.lower() == "tenant":
        return TenantWorkload()
    raise ValueError(f"unknown workload {name!r}: choose one of {', '.join(WORKLOAD_NAMES)}")
