"""A store and a raw twin that do nothing, to measure the harness's own overhead.

:class:`NoopStore` is a full :class:`ItemStore`: the port validates and
prepares every request as usual, and the primitives return at once.  Its
timings are the harness plus the port's own checks (no storage).
:class:`NoopRaw` returns at once from every raw call: its timings are the
harness alone — the floor under every figure in the report.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from storeswap.core.errors import TableExists, TableNotFound
from storeswap.core.port import ItemStore
from storeswap.core.requests import (
    BulkPutRequest,
    DeleteRequest,
    GetRequest,
    PutRequest,
    QueryRequest,
    QueryResult,
    ScanRequest,
    UpdateRequest,
    WriteRequest,
)
from storeswap.core.schema import TableSpec
from storeswap.core.values import Item

__all__ = ["NoopStore", "NoopRaw"]

_EMPTY = QueryResult([])


class NoopStore(ItemStore):
    """An :class:`ItemStore` whose primitives return immediately (tables are remembered, items are not)."""

    kind = "noop"

    def __init__(self) -> None:
        super().__init__()
        self._tables: dict[str, TableSpec] = {}

    def __repr__(self) -> str:
        return "NoopStore()"

    def _create_table(self, spec: TableSpec) -> None:
        if spec.name in self._tables:
            raise TableExists(f"table {spec.name} already exists")
        self._tables[spec.name] = spec

    def _describe_table(self, name: str) -> TableSpec:
        try:
            return self._tables[name]
        except KeyError:
            raise TableNotFound(f"table {name} does not exist") from None

    def _delete_table(self, name: str) -> None:
        if self._tables.pop(name, None) is None:
            raise TableNotFound(f"table {name} does not exist")

    def _list_tables(self) -> list[str]:
        return list(self._tables)

    def _get(self, req: GetRequest) -> Item | None:
        return None

    def _put(self, req: PutRequest) -> Item | None:
        return None

    def _update(self, req: UpdateRequest) -> Item | None:
        return None

    def _delete(self, req: DeleteRequest) -> Item | None:
        return None

    def _query(self, req: QueryRequest) -> QueryResult:
        return _EMPTY

    def _scan(self, req: ScanRequest) -> QueryResult:
        return _EMPTY

    def _batch_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        return [None] * len(reqs)

    def _batch_write(self, reqs: list[PutRequest | DeleteRequest]) -> None:
        return None

    def _bulk_put(self, req: BulkPutRequest, *, changes: bool = True) -> None:
        return None

    def _transact_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        return [None] * len(reqs)

    def _transact_write(self, reqs: list[WriteRequest], token: str | None) -> None:
        return None


class NoopRaw:
    """A raw twin (every :class:`RawDriver` method and every optional extra) that returns at once."""

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Nothing."""
        return None

    def put(self, item: dict[str, Any]) -> None:
        """Nothing."""

    def conditional_update(self, pk: str, sk: str, expected_version: Decimal) -> bool:
        """Always 'succeeds'."""
        return True

    def query(self, pk: str, limit: int) -> list[dict[str, Any]]:
        """No items."""
        return []

    def update_field(self, pk: str, sk: str, name: str, value: str) -> None:
        """Nothing."""

    def increment(self, pk: str, sk: str, name: str, by: Decimal) -> None:
        """Nothing."""

    def query_index(self, index: str, pk: str, limit: int) -> list[dict[str, Any]]:
        """No items."""
        return []

    def close(self) -> None:
        """Nothing to release."""
