"""Loading a store factory from ``module:callable`` or ``path/to/file.py:callable`` (no pytest needed).

One loader for the contract suite's ``--store-factory`` and for ``storeswap
evaluate --source-factory / --target-factory``, so the same spec names the
same adapter in both.
"""

from __future__ import annotations

from collections.abc import Callable

from storeswap.callables import load_callable
from storeswap.core.port import ItemStore

__all__ = ["load_factory", "factory_name"]


def load_factory(spec: str) -> Callable[[], ItemStore]:
    """The callable named by ``spec``; a ConfigurationError naming the spec when it cannot be loaded."""
    return load_callable(spec, label="factory")


def factory_name(factory: Callable[[], ItemStore], spec: str) -> str:
    """The test id of a factory's store: its ``store_name`` attribute, else the callable's name."""
    return str(getattr(factory, "store_name", None) or getattr(factory, "__name__", None) or spec)
