"""A data set made to break migrations: every value type, edge sizes, awkward keys.

Used by the swap tests, the migration tests and the throughput script.
Everything is deterministic (no randomness), so a failure names the same
item every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from storeswap.core.schema import GlobalIndex, IndexProjection, KeyAttribute, LocalIndex, TableSpec
from storeswap.core.values import MAX_ITEM_SIZE, MAX_NESTING, BinarySet, Item, NumberSet, StringSet, item_size

__all__ = [
    "SAMPLE_SPEC",
    "AWKWARD_SORT_KEYS",
    "sample_items",
    "nested",
    "big_item",
    "bulk_items",
    "PARTITIONS",
    "NEAR_LIMIT_SIZE",
]

#: pk S + sk S, a global index on (grp S, rank N) and a local index on lsk N.
SAMPLE_SPEC = TableSpec(
    name="sample",
    partition_key=KeyAttribute("pk", "S"),
    sort_key=KeyAttribute("sk", "S"),
    global_indexes=(GlobalIndex("by_grp", KeyAttribute("grp", "S"), KeyAttribute("rank", "N"), IndexProjection("ALL")),),
    local_indexes=(LocalIndex("by_lsk", KeyAttribute("lsk", "N"), IndexProjection("ALL")),),
)

#: Sort keys whose order differs between byte order and a linguistic collation, or that trip LIKE and NUL.
AWKWARD_SORT_KEYS: tuple[str, ...] = (
    "a",
    "A",
    "b",
    "B",
    "Foo",
    "bar",
    "ab",
    "a_z",
    "a_b",
    "a%b",
    "%",
    "_",
    "100%",
    "a b",
    "a-b",
    "a.b",
    "a\\b",
    "a'b",
    'a"b',
    "~",
    "!",
    "#",
    "Zürich",
    "zurich",
    "é",
    "e\u0301",
    "日本",
    "日本語",
    "😀",
    "😀a",
    "a\0b",
    "a\0",
    "\0",
    "\0\0",
    "\U0010fffd",
    "ﬀ",
    "ß",
    "SS",
    "İ",
    "i",
)

#: Size of the sample's big items: near the 409,600-byte limit, with room for emulators that count a few
#: bytes more than DynamoDB's arithmetic (moto 5.2.5 rejects items over ~405,000 of our bytes).  The exact
#: limit is V6's business, tested by the contract suite itself.
NEAR_LIMIT_SIZE = 400_000

PARTITIONS = ("p-alpha", "P-Beta", "p_γ", "p%δ", "p\0ε")  # noqa: RUF001 - non-ASCII on purpose


def nested(levels: int) -> Any:
    """A value of exactly ``levels`` nesting levels, alternating maps and lists."""
    value: Any = "leaf"
    for i in range(levels):
        value = {"m": value, "n": Decimal(i)} if i % 2 == 0 else [value, i]
    return value


def big_item(pk: str, sk: str, size: int = MAX_ITEM_SIZE) -> Item:
    """An item of exactly ``size`` bytes by DynamoDB's arithmetic (strings only, so every store counts alike)."""
    item: Item = {"pk": pk, "sk": sk, "blob": ""}
    item["blob"] = "x" * (size - item_size(item))
    assert item_size(item) == size
    return item


def _all_types(pk: str, sk: str, n: int) -> Item:
    return {
        "pk": pk,
        "sk": sk,
        "s": f"string {n}",
        "s_empty": "",
        "s_nul": "nul\0inside",
        "s_unicode": "é😀日本\u0301",
        "n_int": Decimal(n),
        "n_neg": Decimal(-n - 1),
        "n_frac": Decimal("3.14"),
        "n_big": Decimal("9.9999999999999999999999999999999999999E+125"),
        "n_small": Decimal("1E-130"),
        "n_38": Decimal("1234567890123456789012345678901234567.8"),
        "n_zero": Decimal(0),
        "b": bytes([0, 255, n % 256, 10, 13]),
        "b_empty": b"",
        "t": True,
        "f": False,
        "null": None,
        "l": [Decimal(1), "two", None, True, b"\x03", [], {}, ["nested"]],
        "l_empty": [],
        "m": {"a": Decimal(1), "b": {"c": ["d", {"e": None}]}, "nul\0name": "x"},
        "m_empty": {},
        "ss": StringSet({"a", "", "😀", "a\0"}),
        "ns": NumberSet({Decimal(1), Decimal("-1.5"), Decimal("1E+100"), Decimal("0")}),
        "bs": BinarySet({b"\x00", b"\xff", b"ab"}),
        "name with spaces and .dots": "ok",
        "nul\0attr": "attribute name with NUL",
    }


def sample_items() -> Iterator[Item]:
    """The swap data set: awkward sort keys in several partitions, all value types, 400 KB and 32 levels."""
    n = 0
    for _p, pk in enumerate(PARTITIONS):
        for i, sk in enumerate(AWKWARD_SORT_KEYS):
            n += 1
            item = _all_types(pk, sk, n) if i % 4 == 0 else {"pk": pk, "sk": sk, "v": Decimal(n), "s": sk}
            if i % 3 == 0:
                item["grp"] = f"g{i % 2}"
                item["rank"] = Decimal((i * 7) % 5)  # ties on purpose: K3 orders them by the table key
            if i % 2 == 0:
                item["lsk"] = Decimal((i * 3) % 4)
            yield item
        yield big_item(pk, "\uffff-big", NEAR_LIMIT_SIZE)
        yield {"pk": pk, "sk": "\uffff-deep", "deep": nested(MAX_NESTING)}
    # A long partition, to have several pages per query.
    for i in range(120):
        yield {
            "pk": "long",
            "sk": f"{i:04d}",
            "i": Decimal(i),
            "grp": "g-long",
            "rank": Decimal(i % 7),
            "lsk": Decimal(i % 5),
        }


def bulk_items(count: int, *, size: int = 1024, partitions: int = 1000, offset: int = 0) -> Iterator[Item]:
    """``count`` items of about ``size`` bytes each (pk S, sk S), for throughput and crash tests."""
    for i in range(offset, offset + count):
        item: Item = {"pk": f"user#{i % partitions:06d}", "sk": f"order#{i:09d}", "n": Decimal(i), "blob": ""}
        item["blob"] = "y" * max(0, size - item_size(item))
        yield item
