"""The memory store's per-partition map (what a Query reads) under a re-creation race."""

from __future__ import annotations

from typing import Any

import pytest

from storeswap import GlobalIndex, KeyAttribute, Projection, TableNotFound, TableSpec
from storeswap.adapters.memory import MemoryStore

WITH_INDEX = TableSpec(
    "racy", KeyAttribute("pk"), KeyAttribute("sk", "N"),
    global_indexes=(GlobalIndex("by_g", KeyAttribute("g"), KeyAttribute("h", "N"), Projection("ALL")),),
)


class RecreatedMidRead(MemoryStore):
    """Between the port's planning of a read (on the spec it knows) and the read itself, another caller deletes
    the table and creates it again as ``self.new``, holding one item."""

    new = TableSpec("racy", KeyAttribute("pk"))

    def _recreate(self, name: str) -> None:
        self._delete_table(name)
        self._create_table(self.new)
        self._tables[name].put(("a", "zz"), {"pk": "a", "other": "zz", "g": "x", "h": "y"})

    def _query(self, req: Any) -> Any:
        with self._lock:
            self._recreate(req.spec.name)
            return super()._query(req)

    def _scan(self, req: Any) -> Any:
        with self._lock:
            self._recreate(req.spec.name)
            return super()._scan(req)


@pytest.mark.parametrize("new", [
    TableSpec("racy", KeyAttribute("pk")),  # without the index
    TableSpec("racy", KeyAttribute("pk"), KeyAttribute("other")),  # another sort key
    TableSpec("racy", KeyAttribute("pk"), KeyAttribute("sk", "N"),
              global_indexes=(GlobalIndex("by_g", KeyAttribute("g"), KeyAttribute("h"), Projection("ALL")),)),
], ids=["no index", "other sort key", "other index key"])
@pytest.mark.parametrize("read", [
    lambda s: s.query("racy", "pk = :p", values={":p": "a"}),
    lambda s: s.query("racy", "g = :g", index="by_g", values={":g": "x"}),
    lambda s: s.scan("racy", index="by_g"),
    lambda s: s.scan("racy"),
], ids=["query", "query index", "scan index", "scan"])
def test_a_read_planned_before_the_table_was_recreated_differently_is_table_not_found(new: TableSpec, read: Any) -> None:
    store = RecreatedMidRead()
    store.new = new
    store.create_table(WITH_INDEX)
    store.put("racy", {"pk": "a", "sk": 1, "g": "x", "h": 2})
    with pytest.raises(TableNotFound, match="created again"):
        read(store)
