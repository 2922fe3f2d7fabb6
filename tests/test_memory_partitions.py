"""The memory store's per-partition map (what a Query reads) under a re-creation race."""

from __future__ import annotations

from typing import Any

import pytest

from storeswap import GlobalIndex, KeyAttribute, Projection, TableSpec, ValidationError
from storeswap.adapters.memory import MemoryStore

WITH_INDEX = TableSpec(
    "racy", KeyAttribute("pk"), global_indexes=(GlobalIndex("by_g", KeyAttribute("g"), None, Projection("ALL")),)
)


class RecreatedMidQuery(MemoryStore):
    """Between the port's planning of a query (on the spec it knows) and the query itself, another caller deletes
    the table and creates it again without the index."""

    def _query(self, req: Any) -> Any:
        with self._lock:
            self._delete_table(req.spec.name)
            self._create_table(TableSpec(req.spec.name, KeyAttribute("pk")))
            return super()._query(req)


def test_a_query_of_an_index_the_recreated_table_lacks_is_a_validation_error() -> None:
    store = RecreatedMidQuery()
    store.create_table(WITH_INDEX)
    store.put("racy", {"pk": "a", "g": "x"})
    with pytest.raises(ValidationError, match="no index named 'by_g'"):
        store.query("racy", "g = :g", index="by_g", values={":g": "x"})
