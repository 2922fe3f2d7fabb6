"""The protocol a raw-driver twin implements, so the runner can time it beside the adapter.

A raw twin performs the same operation as the adapter on the same rows of
the same store, with the driver alone (psycopg prepared statements; a boto3
client call), so that the adapter/raw ratio isolates what the adapter costs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

__all__ = ["RawDriver", "BENCH_TABLE"]

#: Benchmarks use one table shape: pk (S) + sk (S), items of ~1 KB.
BENCH_TABLE = "storeswap_bench"


class RawDriver(Protocol):
    """Raw-driver twin of the benchmarked operations on table ``BENCH_TABLE`` (pk S, sk S)."""

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Read one item by key and decode it to Python values (as the adapter does)."""

    def put(self, item: dict[str, Any]) -> None:
        """Write a whole item (unconditional)."""

    def conditional_update(self, pk: str, sk: str, expected_version: Decimal) -> bool:
        """``SET version = version + 1, n = n + 1`` if ``version = expected_version``; False if the condition failed."""

    def query(self, pk: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` items of partition ``pk`` in sort-key order, decoded."""

    def close(self) -> None:
        """Release the driver's connections."""
