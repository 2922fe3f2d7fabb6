"""A deliberately broken store for the evaluate tests: it silently drops binary values on write.

``make`` is a contract-suite store factory (``--store-factory tests/broken_store.py:make``).
"""

from __future__ import annotations

from typing import Any

from storeswap.adapters.memory import MemoryStore
from storeswap.core.values import BinarySet


class BinaryDroppingStore(MemoryStore):
    """A memory store that loses every top-level B and BS attribute that is not a key — like a careless codec."""

    kind = "memory"

    def _apply(self, table: Any, req: Any, new: Any, changed: bool) -> None:
        if new is not None:
            keys = {a.name for a in table.spec.key_attributes()}
            new = {k: v for k, v in new.items() if k in keys or not isinstance(v, (bytes, BinarySet))}
        super()._apply(table, req, new, changed)


def make() -> BinaryDroppingStore:
    """A fresh broken store."""
    return BinaryDroppingStore()


make.store_name = "broken"  # type: ignore[attr-defined]
