"""T1/T2: a request may not name one item twice, whatever Python type spells its key (a str subclass, bytearray).

A ``StrEnum`` member (or ``numpy.str_``) is the same key as the plain string: every store writes the same bytes.
Before, the rule told them apart by type name, so a PostgreSQL batch got both into one multi-row upsert (which
PostgreSQL refuses: a row touched twice) or ran a delete after a put of the same item.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest

from storeswap import BatchDelete, BatchPut, KeyAttribute, TableSpec, TxPut, TxUpdate
from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import ValidationError
from storeswap.core.prepare import DistinctKeys


class Colour(enum.StrEnum):
    RED = "red"


class Tagged(str):
    def __hash__(self) -> int:  # a subclass free to hash as it likes
        return 7


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    s.create_table(TableSpec("tbl", KeyAttribute("pk"), KeyAttribute("sk", "B")))
    return s


@pytest.mark.parametrize("spelled", [Colour.RED, Tagged("red")])
def test_a_str_subclass_is_the_same_item_as_the_string(store: MemoryStore, spelled: Any) -> None:
    assert DistinctKeys.identity("tbl", {"pk": spelled, "sk": b"x"}) == DistinctKeys.identity(
        "tbl", {"pk": "red", "sk": bytearray(b"x")}
    )
    before = list(store.scan_all("tbl"))
    for writes in (
        [BatchPut("tbl", {"pk": spelled, "sk": b"x", "n": 1}), BatchPut("tbl", {"pk": "red", "sk": b"x", "n": 2})],
        [BatchDelete("tbl", {"pk": spelled, "sk": b"x"}), BatchPut("tbl", {"pk": "red", "sk": b"x"})],
    ):
        with pytest.raises(ValidationError):
            store.batch_write(writes)
    with pytest.raises(ValidationError):
        store.transact_write([TxPut("tbl", {"pk": spelled, "sk": b"x"}),
                              TxUpdate("tbl", {"pk": "red", "sk": b"x"}, "SET n = :one", values={":one": 1})])  # fmt: skip
    assert list(store.scan_all("tbl")) == before


def test_different_keys_stay_different() -> None:
    assert DistinctKeys.identity("tbl", {"pk": "red"}) != DistinctKeys.identity("tbl", {"pk": b"red"})
    assert DistinctKeys.identity("tbl", {"pk": "red"}) != DistinctKeys.identity("other", {"pk": "red"})
    assert DistinctKeys.identity("tbl", {"pk": "a", "sk": "b"}) == DistinctKeys.identity("tbl", {"sk": "b", "pk": "a"})
