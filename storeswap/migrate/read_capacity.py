"""``--max-rcu N``: cap the read capacity a migration consumes from a DynamoDB source.

A :class:`TokenBucket` holds up to one second of capacity (``N`` units) and
refills at ``N`` per second.  A :class:`ReadCapacityLimiter` is the
DynamoDB store's read meter (:class:`storeswap.adapters.dynamodb.store.ReadMeter`):
before every Scan / Query page request it waits until the bucket is not in
debt, and after the response it charges what DynamoDB says the request
consumed (``ReturnConsumedCapacity=TOTAL``), or, when the endpoint returns
no ``ConsumedCapacity`` (DynamoDB Local, some emulators), an estimate from
the items' sizes: the page's bytes rounded up to 4 KB, one unit per 4 KB for
a strongly consistent read, half for an eventually consistent one, at least
one request's worth.  A response larger than the bucket (a 1 MB page is 128
units) leaves it in debt, which the next request waits out, so the rate over
any few seconds stays at ``N``.

One limiter is attached to one store object, so every segment (thread)
reading through that store in one process shares it.  A distributed engine
gives each worker process its own limiter of ``N / workers``
(:func:`per_worker_rcu`); the split is fixed when the copy is submitted, so
a worker that joins later adds its share on top (see ``docs/scale.md``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from attrs import define

from storeswap.core.errors import ConfigurationError
from storeswap.core.values import item_size
from storeswap.migrate.sources import StoreSource
from storeswap.migrate.transform import TransformedSource
from storeswap.numbers import parse_number

__all__ = [
    "TokenBucket",
    "ReadCapacityLimiter",
    "CapacityStats",
    "parse_max_rcu",
    "per_worker_rcu",
    "estimate_read_units",
    "limit_read_capacity",
    "attach_read_meter",
    "RCU_BYTES",
]

#: Bytes one read capacity unit reads (strongly consistent; eventually consistent reads twice as much).
RCU_BYTES = 4096


def parse_max_rcu(value: Any) -> float:
    """A ``--max-rcu`` value as a positive finite float; anything else is one :class:`ConfigurationError`."""
    return parse_number(value, "--max-rcu takes a positive number of read capacity units per second", text=True)


def per_worker_rcu(max_rcu: float, workers: int) -> float:
    """Each worker process's share of ``max_rcu`` when ``workers`` processes read at once."""
    return parse_max_rcu(max_rcu) / max(1, workers)


def estimate_read_units(items: Sequence[Any], consistent: bool) -> float:
    """Read units of one Scan / Query response from its items' sizes (used when DynamoDB does not say)."""
    total = sum(item_size(i) for i in items)
    units = max(1, math.ceil(total / RCU_BYTES))
    return float(units) if consistent else units / 2


@define
class CapacityStats:
    """What a limiter did: requests, units charged (of which estimated), waits and the time waited."""

    requests: int = 0
    charged: float = 0.0
    estimated: float = 0.0
    waits: int = 0
    waited_seconds: float = 0.0

    def to_json(self) -> dict[str, float | int]:
        """A JSON-able form."""
        return {
            "requests": self.requests,
            "charged": round(self.charged, 3),
            "estimated": round(self.estimated, 3),
            "waits": self.waits,
            "waited_seconds": round(self.waited_seconds, 3),
        }


class TokenBucket:
    """Tokens refilled at ``rate`` per second up to ``burst`` (default: one second's worth); thread-safe.

    :meth:`acquire` waits while the bucket holds no token (it may be in
    debt after a large charge); :meth:`charge` takes tokens after the fact.
    ``clock`` and ``sleep`` are injectable so the arithmetic is tested
    without waiting.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = parse_max_rcu(rate)
        self.burst = self.rate if burst is None else parse_max_rcu(burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()
        self.stats = CapacityStats()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    @property
    def tokens(self) -> float:
        """Tokens now (negative: in debt)."""
        with self._lock:
            self._refill()
            return self._tokens

    def acquire(self) -> float:
        """Wait until a token is available; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self._tokens > 0:
                    self.stats.requests += 1
                    if waited:
                        self.stats.waits += 1
                        self.stats.waited_seconds += waited
                    return waited
                # Until the debt is paid back and a sliver of a token is there (the bucket needs more than 0).
                delay = (min(1.0, self.burst) / 1000 - self._tokens) / self.rate
            self._sleep(delay)
            waited += delay

    def charge(self, units: float, *, estimated: bool = False) -> None:
        """Take ``units`` tokens (the bucket may go into debt)."""
        if units < 0 or not math.isfinite(units):
            raise ValueError(f"cannot charge {units!r} capacity units")
        with self._lock:
            self._refill()
            self._tokens -= units
            self.stats.charged += units
            if estimated:
                self.stats.estimated += units


class ReadCapacityLimiter:
    """A DynamoDB store's read meter backed by a :class:`TokenBucket` of ``max_rcu`` units per second."""

    def __init__(
        self,
        max_rcu: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.max_rcu = parse_max_rcu(max_rcu)
        self.bucket = TokenBucket(self.max_rcu, clock=clock, sleep=sleep)

    def __repr__(self) -> str:
        return f"ReadCapacityLimiter({self.max_rcu:g} RCU/s)"

    @property
    def stats(self) -> CapacityStats:
        """Requests, units charged and waits so far."""
        return self.bucket.stats

    def before_read(self) -> None:
        """Wait for capacity before a Scan / Query page request."""
        self.bucket.acquire()

    def after_read(self, consumed: float | None, items: list[Any], consistent: bool) -> None:
        """Charge the response: DynamoDB's ``ConsumedCapacity``, else the size estimate."""
        if consumed is not None:
            self.bucket.charge(consumed)
        else:
            self.bucket.charge(estimate_read_units(items, consistent), estimated=True)


def _store_of(source: Any) -> Any:
    # Through a transform to the source it reads, then to the store a StoreSource wraps.
    if isinstance(source, TransformedSource):
        source = source.source
    return source.store if isinstance(source, StoreSource) else source


def limit_read_capacity(
    source: Any,
    max_rcu: Any,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReadCapacityLimiter:
    """Cap reads of ``source`` (a DynamoDB store, or a source over one) at ``max_rcu`` units per second.

    Replaces a limiter already attached.  Any other source is refused with a
    :class:`ConfigurationError`: it has no read capacity to cap, and a cap
    that silently does nothing would be worse than none.
    """
    rate = parse_max_rcu(max_rcu)
    store = _store_of(source)
    setter = getattr(store, "set_read_meter", None)
    if not callable(setter):
        kind = getattr(store, "kind", type(store).__name__)
        raise ConfigurationError(
            f"--max-rcu caps reads from a dynamodb:// source; a {kind} source has no read capacity"
        )
    limiter = ReadCapacityLimiter(rate, clock=clock, sleep=sleep)
    setter(limiter)
    return limiter


def attach_read_meter(source: Any, limiter: ReadCapacityLimiter | None) -> None:
    """Pace ``source``'s reads with ``limiter`` from now on, or stop pacing them (``None``).

    For a source that outlives one copy (a Dask worker keeps its opened
    sources): each task attaches its own copy's limiter, or none, so a later
    copy without ``--max-rcu`` is not throttled by an earlier one's.  A source
    without a read meter (not DynamoDB) takes ``None`` silently and refuses a
    limiter, as :func:`limit_read_capacity` does.
    """
    setter = getattr(_store_of(source), "set_read_meter", None)
    if callable(setter):
        setter(limiter)
    elif limiter is not None:
        raise ConfigurationError("--max-rcu caps reads from a dynamodb:// source; this source has no read capacity")
