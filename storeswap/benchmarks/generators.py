"""YCSB's request generators, ported faithfully (``site.ycsb.generator``).

Each generator draws from a caller-supplied :class:`random.Random` so that
every benchmark thread has its own stream (YCSB uses ``ThreadLocalRandom``);
the generators that carry shared state (the insert counter, the latest
distribution's growing Zipfian) guard it with a lock, as YCSB's are
``synchronized``.

References: YCSB ``ZipfianGenerator``, ``ScrambledZipfianGenerator``,
``SkewedLatestGenerator``, ``UniformLongGenerator``, ``CounterGenerator``,
``AcknowledgedCounterGenerator``, ``DiscreteGenerator`` and
``Utils.fnvhash64`` (Gray et al., "Quickly generating billion-record
synthetic databases", SIGMOD 1994, for the Zipfian algorithm).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Sequence

__all__ = [
    "ZIPFIAN_CONSTANT",
    "fnvhash64",
    "zeta",
    "ZipfianGenerator",
    "ScrambledZipfianGenerator",
    "SkewedLatestGenerator",
    "UniformLongGenerator",
    "CounterGenerator",
    "AcknowledgedCounterGenerator",
    "DiscreteGenerator",
    "KeyChooser",
]

#: YCSB's default Zipfian constant (``ZipfianGenerator.ZIPFIAN_CONSTANT``).
ZIPFIAN_CONSTANT = 0.99

_FNV_OFFSET_BASIS_64 = 0xCBF29CE484222325
_FNV_PRIME_64 = 1099511628211
_MASK64 = (1 << 64) - 1

# ScrambledZipfianGenerator draws from a fixed, huge Zipfian and hashes the
# result into the key range; YCSB precomputes zeta for it.
_SCRAMBLED_ITEM_COUNT = 10_000_000_000
_SCRAMBLED_ZETAN = 26.46902820178302


def fnvhash64(val: int) -> int:
    """YCSB's ``Utils.fnvhash64``: FNV-1a over the 8 low bytes of a Java long, then ``Math.abs``."""
    hashval = _FNV_OFFSET_BASIS_64
    v = val & _MASK64
    for _ in range(8):
        octet = v & 0xFF
        # Java's >> is arithmetic on a signed long; the bytes consumed are the same.
        v >>= 8
        hashval ^= octet
        hashval = (hashval * _FNV_PRIME_64) & _MASK64
    signed = hashval - (1 << 64) if hashval >= 1 << 63 else hashval
    # Math.abs(Long.MIN_VALUE) is Long.MIN_VALUE in Java; keep that quirk.
    return signed if signed == -(1 << 63) else abs(signed)


def zeta(st: int, n: int, theta: float, initialsum: float = 0.0) -> float:
    """Sum of ``1 / (i + 1) ** theta`` for ``i`` in ``[st, n)``, added to ``initialsum`` (YCSB's ``zeta``)."""
    if n - st > 200_000:
        try:
            import numpy as np
        except ImportError:
            pass
        else:
            total = initialsum
            step = 1_000_000
            for lo in range(st, n, step):
                ranks = np.arange(lo + 1, min(n, lo + step) + 1, dtype=np.float64)
                total += float(np.sum(1.0 / np.power(ranks, theta)))
            return total
    total = initialsum
    for i in range(st, n):
        total += 1.0 / math.pow(i + 1, theta)
    return total


class ZipfianGenerator:
    """Integers in ``[min, max]``, popularity Zipfian: item ``min`` most popular, then ``min + 1``, ...

    A port of YCSB's ``ZipfianGenerator`` including its incremental zeta
    update when asked for a larger item count (used by the latest
    distribution) and its quirk of keeping ``items`` fixed in ``eta``.
    """

    def __init__(self, min_: int, max_: int, constant: float = ZIPFIAN_CONSTANT, zetan: float | None = None) -> None:
        self.base = min_
        self.items = max_ - min_ + 1
        self.theta = constant
        self.zipfianconstant = constant
        self.zeta2theta = zeta(0, 2, constant)
        self.alpha = 1.0 / (1.0 - constant)
        self.zetan = zetan if zetan is not None else zeta(0, self.items, constant)
        self.countforzeta = self.items
        self.eta = self._eta()
        self.allow_itemcount_decrease = False
        self._lock = threading.Lock()
        self.last_value = min_

    def _eta(self) -> float:
        return (1 - math.pow(2.0 / self.items, 1 - self.theta)) / (1 - self.zeta2theta / self.zetan)

    def next_long(self, rng: random.Random, itemcount: int | None = None) -> int:
        """A value for ``itemcount`` items (default: the constructor's), as YCSB's ``nextLong``."""
        if itemcount is None:
            itemcount = self.items
        if itemcount != self.countforzeta:
            with self._lock:
                if itemcount > self.countforzeta:
                    self.zetan = zeta(self.countforzeta, itemcount, self.theta, self.zetan)
                    self.countforzeta = itemcount
                    self.eta = self._eta()
                elif itemcount < self.countforzeta and self.allow_itemcount_decrease:
                    self.zetan = zeta(0, itemcount, self.theta)
                    self.countforzeta = itemcount
                    self.eta = self._eta()
        u = rng.random()
        uz = u * self.zetan
        if uz < 1.0:
            return self.base
        if uz < 1.0 + math.pow(0.5, self.theta):
            return self.base + 1
        ret = self.base + int(itemcount * math.pow(self.eta * u - self.eta + 1, self.alpha))
        self.last_value = ret
        return ret

    def next(self, rng: random.Random) -> int:
        """The next value over the constructor's range."""
        return self.next_long(rng, self.items)

    def mean(self) -> float:
        """Not defined in YCSB either (it throws); present for interface symmetry."""
        raise NotImplementedError("the Zipfian mean is not computed (YCSB does not either)")


class ScrambledZipfianGenerator:
    """Zipfian popularity scattered over ``[min, max]`` by FNV hashing (YCSB's ``ScrambledZipfianGenerator``).

    The popular items are spread across the key space instead of being
    clustered at ``min``, which is what YCSB's workloads A, B, C, E and F use.
    """

    def __init__(self, min_: int, max_: int, constant: float = ZIPFIAN_CONSTANT) -> None:
        self.min = min_
        self.max = max_
        self.itemcount = max_ - min_ + 1
        if constant == ZIPFIAN_CONSTANT:
            self.gen = ZipfianGenerator(0, _SCRAMBLED_ITEM_COUNT, constant, _SCRAMBLED_ZETAN)
        else:
            self.gen = ZipfianGenerator(0, _SCRAMBLED_ITEM_COUNT, constant)

    def next(self, rng: random.Random) -> int:
        """The next key number."""
        ret = self.gen.next(rng)
        return self.min + fnvhash64(ret) % self.itemcount


class CounterGenerator:
    """Sequential integers from ``start`` (YCSB's ``CounterGenerator``); thread-safe."""

    def __init__(self, start: int) -> None:
        self._next = start
        self._lock = threading.Lock()

    def next(self, rng: random.Random | None = None) -> int:
        """Take the next value."""
        with self._lock:
            v = self._next
            self._next += 1
            return v

    def last_value(self) -> int:
        """The last value handed out."""
        return self._next - 1


class AcknowledgedCounterGenerator(CounterGenerator):
    """A counter whose ``last_value`` only advances over values acknowledged as done.

    YCSB uses it for the insert key sequence so that readers never pick a
    key whose insert has not completed yet.
    """

    def __init__(self, start: int) -> None:
        super().__init__(start)
        self._limit = start - 1
        self._acked: set[int] = set()

    def acknowledge(self, value: int) -> None:
        """Mark ``value`` as inserted; advance the limit over every contiguous acknowledged value."""
        with self._lock:
            self._acked.add(value)
            while self._limit + 1 in self._acked:
                self._limit += 1
                self._acked.discard(self._limit)

    def last_value(self) -> int:
        """The highest value below which every value has been acknowledged."""
        return self._limit


class SkewedLatestGenerator:
    """Zipfian over recency: the most recently inserted key is the most popular (YCSB's ``SkewedLatestGenerator``)."""

    def __init__(self, basis: CounterGenerator) -> None:
        self.basis = basis
        self.zipfian = ZipfianGenerator(0, basis.last_value() - 1)

    def next(self, rng: random.Random) -> int:
        """The next key number."""
        maximum = self.basis.last_value()
        return maximum - self.zipfian.next_long(rng, maximum)


class UniformLongGenerator:
    """Integers uniform in ``[lb, ub]`` (YCSB's ``UniformLongGenerator``)."""

    def __init__(self, lb: int, ub: int) -> None:
        self.lb = lb
        self.ub = ub
        self.interval = ub - lb + 1

    def next(self, rng: random.Random) -> int:
        """The next value."""
        return self.lb + rng.randrange(self.interval)


class DiscreteGenerator:
    """Pick one of several values with given weights (YCSB's ``DiscreteGenerator``)."""

    def __init__(self, weighted: Sequence[tuple[float, int]]) -> None:
        self.values = [(w, v) for w, v in weighted if w > 0]
        if not self.values:
            raise ValueError("a discrete generator needs at least one positive weight")
        self.total = sum(w for w, _ in self.values)

    def next(self, rng: random.Random) -> int:
        """The next value."""
        val = rng.random()
        for weight, value in self.values:
            if val < weight / self.total:
                return value
            val -= weight / self.total
        return self.values[-1][1]


class KeyChooser:
    """YCSB ``CoreWorkload.nextKeynum``: a key number that has been inserted, from the request distribution."""

    def __init__(
        self,
        distribution: str,
        recordcount: int,
        opcount: int,
        insertproportion: float,
        inserts: AcknowledgedCounterGenerator,
        insertstart: int = 0,
    ) -> None:
        self.distribution = distribution
        self.inserts = inserts
        self._gen: UniformLongGenerator | ScrambledZipfianGenerator | SkewedLatestGenerator
        if distribution == "uniform":
            self._gen = UniformLongGenerator(insertstart, insertstart + recordcount - 1)
        elif distribution == "zipfian":
            # "2 is fudge factor" (YCSB): room for the keys inserted during the run.
            expectednewkeys = int(opcount * insertproportion * 2.0)
            self._gen = ScrambledZipfianGenerator(insertstart, insertstart + recordcount + expectednewkeys)
        elif distribution == "latest":
            self._gen = SkewedLatestGenerator(inserts)
        else:
            raise ValueError(f"unknown request distribution {distribution!r}")

    def next(self, rng: random.Random) -> int:
        """A key number no larger than the last acknowledged insert."""
        while True:
            keynum = self._gen.next(rng)
            if keynum <= self.inserts.last_value():
                return keynum
