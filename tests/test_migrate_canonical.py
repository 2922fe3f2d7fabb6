"""The canonical encoding behind verify: type-exact, order-free where DynamoDB is, unambiguous."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storeswap import BinarySet, NumberSet, StringSet
from storeswap.migrate.canonical import canonical_bytes, canonical_item, item_digest

DIFFERENT: list[tuple[Any, Any]] = [
    ("1", Decimal(1)),
    ("1", b"1"),
    (Decimal(1), True),
    (b"", ""),
    ("", None),
    (False, None),
    ([], {}),
    (StringSet({"1"}), NumberSet({Decimal(1)})),
    (StringSet({"a"}), ["a"]),
    (BinarySet({b"a"}), StringSet({"a"})),
    (["ab"], ["a", "b"]),
    ({"a": "b"}, {"ab": ""}),
    ("a\0", "a"),
    ({"a": None}, {}),
    ([None], []),
    ("\ud800", "\ufffd"),
    (Decimal("1E-130"), Decimal(0)),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_values_encode_differently(a: Any, b: Any) -> None:
    assert canonical_bytes(a) != canonical_bytes(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Decimal("1.0"), Decimal(1)),
        (Decimal("1.50"), Decimal("1.5")),
        (Decimal("-0"), Decimal(0)),
        (Decimal("1.5E2"), 150),
        (StringSet({"b", "a"}), StringSet({"a", "b"})),
        (NumberSet({Decimal(2), Decimal("1.0")}), NumberSet({Decimal(1), Decimal(2)})),
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}),
        (frozenset({"x", "y"}), StringSet({"y", "x"})),
        (bytearray(b"ab"), b"ab"),
    ],
)
def test_equal_values_encode_equally(a: Any, b: Any) -> None:
    assert canonical_bytes(a) == canonical_bytes(b)


def test_list_order_matters() -> None:
    assert canonical_bytes(["a", "b"]) != canonical_bytes(["b", "a"])


def test_map_names_sort_by_utf8_bytes() -> None:
    # U+FFFF sorts before U+10000 in UTF-8 but after it in UTF-16; either way the result is order-free.
    assert canonical_item({"\uffff": 1, "\U00010000": 2}) == canonical_item({"\U00010000": 2, "\uffff": 1})


def test_item_digest_is_stable() -> None:
    # A golden value: changing the encoding invalidates digests recorded by earlier runs, so it must be deliberate.
    item = {"pk": "a", "n": Decimal("1.50"), "b": b"\0", "ss": StringSet({"x", "y"}), "l": [None, True]}
    assert item_digest(item) == item_digest(dict(reversed(list(item.items()))))
    assert f"{item_digest(item):064x}" == GOLDEN


GOLDEN = "3f29c6eb1eede9e541352970c44277f64fd25848cd472a1d032268c77bba09c3"

scalars = st.one_of(
    st.text(),
    st.binary(),
    st.booleans(),
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=12,
)


@given(values, values)
def test_encoding_is_injective_on_distinct_values(a: Any, b: Any) -> None:
    from storeswap.contract_tests.helpers import typed
    from storeswap.core.values import normalize_value

    same = typed(normalize_value(a)) == typed(normalize_value(b))
    assert (canonical_bytes(a) == canonical_bytes(b)) == same
