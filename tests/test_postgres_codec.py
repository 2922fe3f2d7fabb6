"""The PostgreSQL item codec: decode(encode(x)) == x, type included (V1-V7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from storeswap.adapters.postgres.codec import decode_item, decode_value, encode_item, encode_value
from storeswap.core.errors import StoreCorrupted, ValidationError
from storeswap.core.values import BinarySet, NumberSet, StringSet, normalize_number


def typed(value: Any) -> Any:
    """A tree that compares equal only when types match too (Decimal(1) == True otherwise)."""
    if isinstance(value, dict):
        return ("M", tuple((k, typed(v)) for k, v in sorted(value.items())))
    if isinstance(value, list):
        return ("L", tuple(typed(v) for v in value))
    if isinstance(value, (StringSet, NumberSet, BinarySet)):
        return (type(value).__name__, tuple(sorted(typed(v) for v in value)))
    return (type(value).__name__, value if not isinstance(value, Decimal) else str(value))


@st.composite
def numbers(draw: Any) -> Decimal:
    digits = draw(st.lists(st.integers(0, 9), min_size=1, max_size=38))
    exponent = draw(st.integers(-130 - 37, 125))
    sign = draw(st.integers(0, 1))
    try:
        return normalize_number(Decimal((sign, tuple(digits), exponent)))
    except ValidationError:
        assume(False)
        raise


# Every code point, lone surrogates and NUL included (V5).
chars = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
strings = st.text(alphabet=chars, max_size=30)
scalars = st.one_of(
    strings,
    numbers(),
    st.binary(max_size=30),
    st.booleans(),
    st.none(),
    st.frozensets(strings, min_size=1, max_size=5).map(StringSet),
    st.frozensets(numbers(), min_size=1, max_size=5).map(NumberSet),
    st.frozensets(st.binary(max_size=10), min_size=1, max_size=5).map(BinarySet),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(strings, inner, max_size=5)),
    max_leaves=40,
)
items = st.dictionaries(strings.filter(bool), values, max_size=10)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_item_round_trip_is_exact(item: dict[str, Any]) -> None:
    out = decode_item(encode_item(item))
    assert typed(out) == typed(item)
    assert list(out) == list(item)  # attribute order kept


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_value_round_trip_is_exact(value: Any) -> None:
    assert typed(decode_value(encode_value(value))) == typed(value)


@given(numbers())
def test_numbers_keep_all_38_digits(n: Decimal) -> None:
    out = decode_value(encode_value(n))
    assert type(out) is Decimal and out.as_tuple() == n.as_tuple()


@given(st.frozensets(strings, min_size=1, max_size=8))
def test_equal_sets_encode_to_equal_bytes(elements: frozenset[str]) -> None:
    assert encode_value(StringSet(elements)) == encode_value(StringSet(list(elements)[::-1]))


def test_extremes() -> None:
    item = {
        "max": Decimal("9.9999999999999999999999999999999999999E+125"),
        "min": Decimal("1E-130"),
        "neg": Decimal("-12345678901234567890123456789012345678"),
        "nul": "a\x00b",
        "lone": "\ud800x\udfff",
        "empty": "",
        "emptyb": b"",
        "emptyl": [],
        "emptym": {},
        "big": "x" * 300_000,
        "\x00name": True,
        "t": True,
        "one": Decimal(1),
    }
    out = decode_item(encode_item(item))
    assert typed(out) == typed(item)


def test_32_levels_of_nesting() -> None:
    deep: Any = "leaf"
    for i in range(32):
        deep = [deep] if i % 2 else {"k": deep}
    item = {"deep": deep}
    assert typed(decode_item(encode_item(item))) == typed(item)


@pytest.mark.parametrize("blob", [b"", b"\x02", b"\x01\x01\x01a", b"\x01\x01\x01aQ", b"\x01\x00junk"])
def test_corrupt_bytes_are_store_corrupted(blob: bytes) -> None:
    with pytest.raises(StoreCorrupted):
        decode_item(blob)


def test_the_cli_exits_3_on_a_damaged_store() -> None:
    from storeswap.cli.exit_codes import UNAVAILABLE, error_line, exit_code

    with pytest.raises(StoreCorrupted) as info:  # the error a read of a damaged row raises, as the CLI sees it
        decode_item(encode_item({"pk": "a"}) + b"x")
    assert exit_code(info.value) == UNAVAILABLE
    # named by its port type, which scripts match on (it was the codec's own subclass, "CodecError")
    assert error_line(info.value) == "error: StoreCorrupted: a stored item cannot be read: trailing bytes"
