"""YCSB request generators and workload mixes: loose distribution checks (no timing)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from storeswap.benchmarks.generators import (
    AcknowledgedCounterGenerator,
    CounterGenerator,
    DiscreteGenerator,
    KeyChooser,
    ScrambledZipfianGenerator,
    SkewedLatestGenerator,
    UniformLongGenerator,
    ZipfianGenerator,
    fnvhash64,
    zeta,
)
from storeswap.benchmarks.workloads import YCSB_MIXES, make_workload

DRAWS = 40_000


def _java_fnvhash64(val: int) -> int:
    """An independent transcription of YCSB's Utils.fnvhash64 with explicit signed 64-bit wrap-around."""

    def wrap(x: int) -> int:
        x &= (1 << 64) - 1
        return x - (1 << 64) if x >= 1 << 63 else x

    hashval = wrap(0xCBF29CE484222325)
    val = wrap(val)
    for _ in range(8):
        octet = val & 0xFF
        val >>= 8  # arithmetic shift of a signed long, as Java's >>
        hashval = wrap(hashval ^ octet)
        hashval = wrap(hashval * 1099511628211)
    return hashval if hashval == -(1 << 63) else abs(hashval)


@pytest.mark.parametrize("val", [0, 1, 2, 255, 256, 12345, 2**31 - 1, 2**40 + 7, 10_000_000_000])
def test_fnvhash64_matches_java_semantics(val: int) -> None:
    assert fnvhash64(val) == _java_fnvhash64(val)
    assert fnvhash64(val) >= 0


def test_zeta_matches_direct_sum_and_is_incremental() -> None:
    direct = sum(1 / (i + 1) ** 0.99 for i in range(1000))
    assert zeta(0, 1000, 0.99) == pytest.approx(direct)
    assert zeta(500, 1000, 0.99, zeta(0, 500, 0.99)) == pytest.approx(direct)
    big = zeta(0, 300_000, 0.99)  # numpy path
    assert big == pytest.approx(sum(1 / (i + 1) ** 0.99 for i in range(300_000)), rel=1e-9)


def test_zipfian_head_follows_the_zipf_law() -> None:
    rng = random.Random(1)
    gen = ZipfianGenerator(0, 999)
    counts = Counter(gen.next(rng) for _ in range(DRAWS))
    assert min(counts) >= 0 and max(counts) <= 999
    assert counts.most_common(1)[0][0] == 0
    # P(0) = 1 / zeta(1000); P(0) / P(1) = 2 ** 0.99.
    assert counts[0] / DRAWS == pytest.approx(1 / zeta(0, 1000, 0.99), rel=0.1)
    assert counts[0] / counts[1] == pytest.approx(2**0.99, rel=0.2)
    # Heavy head: the 10 most popular items take far more than 1% of the draws.
    assert sum(counts[i] for i in range(10)) / DRAWS > 0.3


def test_zipfian_with_offset_and_growing_itemcount() -> None:
    rng = random.Random(2)
    gen = ZipfianGenerator(100, 199)
    values = [gen.next(rng) for _ in range(5000)]
    assert min(values) >= 100 and max(values) <= 199
    assert Counter(values).most_common(1)[0][0] == 100
    before = gen.zetan
    grown = [gen.next_long(rng, 200) for _ in range(5000)]
    assert gen.zetan > before and gen.countforzeta == 200
    assert max(grown) <= 100 + 200


def test_scrambled_zipfian_is_skewed_but_scattered() -> None:
    rng = random.Random(3)
    gen = ScrambledZipfianGenerator(0, 9_999)
    counts = Counter(gen.next(rng) for _ in range(DRAWS))
    assert min(counts) >= 0 and max(counts) <= 9_999
    top = counts.most_common(100)
    # Skewed: the top 1% of keys draw a large share (uniform would give 1%).
    assert sum(c for _, c in top) / DRAWS > 0.2
    # Scattered: the popular keys are not clustered at the start of the range.
    assert max(k for k, _ in top[:10]) > 1000


def test_uniform_covers_its_range_evenly() -> None:
    rng = random.Random(4)
    gen = UniformLongGenerator(10, 19)
    counts = Counter(gen.next(rng) for _ in range(DRAWS))
    assert set(counts) == set(range(10, 20))
    for c in counts.values():
        assert c / DRAWS == pytest.approx(0.1, rel=0.15)


def test_acknowledged_counter_only_advances_over_contiguous_acks() -> None:
    gen = AcknowledgedCounterGenerator(100)
    assert gen.last_value() == 99
    a, b, c = gen.next(), gen.next(), gen.next()
    assert (a, b, c) == (100, 101, 102)
    gen.acknowledge(b)
    assert gen.last_value() == 99
    gen.acknowledge(a)
    assert gen.last_value() == 101
    gen.acknowledge(c)
    assert gen.last_value() == 102
    plain = CounterGenerator(5)
    plain.next()
    assert plain.last_value() == 5


def test_latest_prefers_the_newest_keys() -> None:
    rng = random.Random(5)
    inserts = AcknowledgedCounterGenerator(0)
    for _ in range(1000):
        inserts.acknowledge(inserts.next())
    gen = SkewedLatestGenerator(inserts)
    counts = Counter(gen.next(rng) for _ in range(DRAWS))
    assert max(counts) <= 999
    assert counts.most_common(1)[0][0] == 999
    assert sum(counts[k] for k in range(990, 1000)) / DRAWS > 0.3
    for _ in range(500):
        inserts.acknowledge(inserts.next())
    later = Counter(gen.next(rng) for _ in range(DRAWS))
    assert later.most_common(1)[0][0] == 1499


def test_discrete_generator_proportions() -> None:
    rng = random.Random(6)
    gen = DiscreteGenerator([(0.95, 0), (0.05, 1), (0.0, 2)])
    counts = Counter(gen.next(rng) for _ in range(DRAWS))
    assert 2 not in counts
    assert counts[1] / DRAWS == pytest.approx(0.05, rel=0.2)


@pytest.mark.parametrize("distribution", ["zipfian", "uniform", "latest"])
def test_key_chooser_never_returns_an_unacknowledged_key(distribution: str) -> None:
    rng = random.Random(7)
    inserts = AcknowledgedCounterGenerator(0)
    for _ in range(500):
        inserts.acknowledge(inserts.next())
    chooser = KeyChooser(distribution, 500, 10_000, 0.05, inserts)
    pending = inserts.next()  # in flight, not acknowledged
    assert all(chooser.next(rng) <= 499 for _ in range(5000))
    inserts.acknowledge(pending)
    assert max(chooser.next(rng) for _ in range(20_000)) <= 500


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("A", {"read": 0.5, "update": 0.5}),
        ("B", {"read": 0.95, "update": 0.05}),
        ("C", {"read": 1.0}),
        ("D", {"read": 0.95, "insert": 0.05}),
        ("E", {"scan": 0.95, "insert": 0.05}),
        ("F", {"read": 0.5, "read-modify-write": 0.5}),
    ],
)
def test_ycsb_mixes(name: str, expected: dict[str, float]) -> None:
    wl = make_workload(name)
    rng = random.Random(8)
    counts = Counter(wl.ops[wl.choose(rng)] for _ in range(DRAWS))
    assert set(counts) == set(expected)
    for op, share in expected.items():
        assert counts[op] / DRAWS == pytest.approx(share, abs=0.015)
    mix = YCSB_MIXES[name]
    assert mix.distribution == ("latest" if name == "D" else "zipfian")


def test_ycsb_records_are_ten_fields_of_100_bytes_and_keys_spread_over_partitions() -> None:
    wl = make_workload("A")
    wl.new_table(1000)
    items = list(wl.load_items(0, 1000, random.Random(9)))
    assert len(items) == 1000
    fields = [k for k in items[0] if k.startswith("field")]
    assert len(fields) == 10 and all(len(items[0][f]) == 100 for f in fields)
    assert len({(i["pk"], i["sk"]) for i in items}) == 1000
    partitions = Counter(i["pk"] for i in items)
    assert len(partitions) == 10
    assert max(partitions.values()) < 200
    assert wl.key_count() == 1000


def test_scan_length_is_uniform_1_to_100() -> None:
    wl = make_workload("E")
    rng = random.Random(10)
    lengths = Counter(wl.scanlength.next(rng) for _ in range(DRAWS))  # type: ignore[attr-defined]
    assert min(lengths) == 1 and max(lengths) == 100


@pytest.mark.parametrize("name", [*"ABCDEF", "tenant"])
def test_every_workload_runs_on_the_noop_store_with_both_sides(name: str) -> None:
    from storeswap.benchmarks.noop import NoopStore
    from storeswap.benchmarks.raw_twin import open_raw_twin
    from storeswap.benchmarks.runner import closed_loop

    store = NoopStore()
    wl = make_workload(name)
    store.create_table(wl.table_spec())
    wl.new_table(500)
    for _ in wl.load_items(0, 500, random.Random(0)):
        pass
    wl.prepare(500, 800)
    twin, _ = open_raw_twin(store)
    assert twin is not None
    samples = closed_loop(store, twin, wl, concurrency=2, pairs=400, seed=3)
    assert not samples.errors
    assert len(samples.ops) == 400
    assert all(v >= 0 for v in samples.adapter_ns)
    assert all(v >= 0 for v in samples.raw_ns)  # the no-op twin twins every operation
    if name in ("D", "E"):
        assert wl.key_count() > 500  # inserts were acknowledged
