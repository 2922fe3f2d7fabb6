"""Finding a store's raw-driver twin, and the optional operations a twin may add.

The :class:`~storeswap.benchmarks.raw_base.RawDriver` protocol covers get,
put, conditional update and query.  Some benchmarked operations need more
(YCSB's update writes one field; the tenant workload adds to a counter and
queries a secondary index); a driver may offer them as the optional methods
of :class:`RawExtras`.  :class:`RawTwin` wraps whatever the driver offers and
answers, per operation, whether a raw twin exists — when it does not, the
report says ``raw: n/a`` for that operation instead of comparing unlike work.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from storeswap.benchmarks.raw_base import RawDriver
from storeswap.core.port import ItemStore

__all__ = ["RawExtras", "RawTwin", "raw_driver_registry", "open_raw_twin"]


class RawExtras(Protocol):
    """Optional raw operations a driver may add beside :class:`RawDriver` (all on ``BENCH_TABLE``)."""

    def update_field(self, pk: str, sk: str, name: str, value: str) -> None:
        """``SET name = value`` on one item, unconditionally (an upsert, as the adapter's update)."""

    def increment(self, pk: str, sk: str, name: str, by: Decimal) -> None:
        """``ADD name by`` on one item (an atomic counter increment, an upsert)."""

    def query_index(self, index: str, pk: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` items of partition ``pk`` of global index ``index``, decoded."""


class RawTwin:
    """A raw driver plus the knowledge of which benchmark operations it can twin."""

    #: Which driver method each optional capability needs.
    CAPABILITIES = {
        "get": "get",
        "put": "put",
        "query": "query",
        "conditional_update": "conditional_update",
        "update_field": "update_field",
        "increment": "increment",
        "query_index": "query_index",
    }

    def __init__(self, driver: RawDriver, name: str) -> None:
        self.driver = driver
        self.name = name

    def _find(self, capability: str) -> Callable[..., Any] | None:
        method = self.CAPABILITIES.get(capability)
        if method is None:
            return None
        fn = getattr(self.driver, method, None)
        return fn if callable(fn) else None

    def supports(self, capability: str) -> bool:
        """True when the driver (or the extras filling in for it) has the method behind ``capability``."""
        return self._find(capability) is not None

    def method(self, capability: str) -> Callable[..., Any]:
        """The bound method for ``capability``."""
        fn = self._find(capability)
        if fn is None:
            raise LookupError(f"the raw driver {self.name} has no {capability}")
        return fn

    def close(self) -> None:
        """Release the driver's connections."""
        close = getattr(self.driver, "close", None)
        if callable(close):
            close()


def raw_driver_registry() -> dict[str, str]:
    """Store kind → ``"module:factory"`` of its raw twin (``latency.RAW_DRIVERS``)."""
    from storeswap.benchmarks.latency import RAW_DRIVERS

    return dict(RAW_DRIVERS)


def open_raw_twin(store: ItemStore, kind: str | None = None) -> tuple[RawTwin | None, str]:
    """The raw twin of ``store`` and a one-line description, or ``(None, reason)`` when it has none."""
    kind = kind or str(getattr(store, "kind", ""))
    if kind == "noop":
        from storeswap.benchmarks.noop import NoopRaw

        return RawTwin(NoopRaw(), "noop"), "no-op raw twin (harness overhead)"
    target = raw_driver_registry().get(kind)
    if target is None:
        return None, f"no raw driver for store kind {kind!r}"
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        return None, f"raw driver module {module_name} is not available ({e})"
    factory = getattr(module, attr or "make_raw", None)
    if factory is None:
        return None, f"{module_name} has no {attr or 'make_raw'}"
    try:
        driver = factory(store)
    except Exception as e:  # a twin we cannot open is reported, not fatal: the adapter is still measured
        return None, f"could not open the raw driver: {type(e).__name__}: {e}"
    return RawTwin(driver, target), target
