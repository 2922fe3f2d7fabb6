"""The DynamoDB marshaller agrees with boto3's TypeSerializer / TypeDeserializer and round-trips exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import pytest

pytest.importorskip("boto3")

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeswap.adapters.dynamodb.marshal import (
    decode_number,
    deserialize,
    deserialize_item,
    serialize,
    serialize_item,
)
from storeswap.core.errors import ValidationError
from storeswap.core.values import BinarySet, NumberSet, StringSet, normalize_number

SERIALIZER = TypeSerializer()
DESERIALIZER = TypeDeserializer()


def _number(coefficient: int, exponent: int, negative: bool) -> Decimal | None:
    try:
        return normalize_number(Decimal(-coefficient if negative else coefficient).scaleb(exponent))
    except ValidationError:
        return None


numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(normalize_number),
    st.builds(_number, st.integers(1, 10**38 - 1), st.integers(-160, 100), st.booleans())
    .filter(lambda d: d is not None)
    .map(lambda d: cast(Decimal, d)),
    st.sampled_from([Decimal("1E-130"), Decimal("9.9999999999999999999999999999999999999E+125"), Decimal("0")]).map(
        normalize_number
    ),
)
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
binaries = st.binary(max_size=20)
scalars = st.one_of(texts, numbers, binaries, st.booleans(), st.none())
sets = st.one_of(
    st.frozensets(texts, min_size=1, max_size=5).map(StringSet),
    st.frozensets(numbers, min_size=1, max_size=5).map(NumberSet),
    st.frozensets(binaries, min_size=1, max_size=5).map(BinarySet),
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(texts, children, max_size=4),
    ),
    max_leaves=20,
)
items = st.dictionaries(texts.filter(bool), values, min_size=1, max_size=6)


def _canon_wire(av: Any) -> Any:
    """An AttributeValue in a comparable form: sets sorted, numbers as Decimal values, Binary as bytes."""
    ((tag, v),) = av.items()
    if tag == "N":
        return (tag, Decimal(v))
    if tag == "B":
        return (tag, bytes(v))
    if tag == "SS":
        return (tag, sorted(v))
    if tag == "NS":
        return (tag, sorted(Decimal(x) for x in v))
    if tag == "BS":
        return (tag, sorted(bytes(x) for x in v))
    if tag == "L":
        return (tag, [_canon_wire(x) for x in v])
    if tag == "M":
        return (tag, {k: _canon_wire(x) for k, x in v.items()})
    return (tag, v)


def _canon_py(value: Any) -> Any:
    """A Python value with its type made explicit (so True != 1 and "1" != 1), for exact comparisons."""
    if isinstance(value, Binary):
        return ("B", bytes(cast(Any, value)))
    if isinstance(value, bool):
        return ("BOOL", value)
    if isinstance(value, Decimal):
        return ("N", str(normalize_number(value)))
    if isinstance(value, str):
        return ("S", value)
    if isinstance(value, bytes):
        return ("B", value)
    if value is None:
        return ("NULL", None)
    if isinstance(value, (set, frozenset)):
        elements = [_canon_py(v) for v in value]
        tag = {"S": "SS", "N": "NS", "B": "BS"}[elements[0][0]]
        return (tag, sorted(e[1] for e in elements))
    if isinstance(value, list):
        return ("L", [_canon_py(v) for v in value])
    if isinstance(value, dict):
        return ("M", {k: _canon_py(v) for k, v in value.items()})
    raise AssertionError(type(value))


def _exact(value: Any) -> Any:
    """Type-exact form of a storeswap value (set classes and Decimal text included)."""
    if isinstance(value, (StringSet, NumberSet, BinarySet)):
        return (type(value).__name__, sorted(str(v) if isinstance(v, Decimal) else v for v in value))
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, dict):
        return {k: _exact(v) for k, v in value.items()}
    return (type(value).__name__, value)


def _boto3_can(value: Any) -> bool:
    try:
        SERIALIZER.serialize(value)
    except Exception:  # boto3's 38-digit context refuses canonical integers past 10**38
        return False
    return True


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_serialize_agrees_with_boto3(value: Any) -> None:
    ours = serialize(value)
    if _boto3_can(value):
        assert _canon_wire(ours) == _canon_wire(SERIALIZER.serialize(value))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_deserialize_agrees_with_boto3(value: Any) -> None:
    wire: Any = serialize(value)
    ours = deserialize(wire)
    try:
        theirs = DESERIALIZER.deserialize(wire)
    except Exception:  # boto3 refuses numbers with more than 38 digits in their text
        return
    assert _canon_py(ours) == _canon_py(theirs)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_item_round_trip_is_exact(item: dict[str, Any]) -> None:
    assert _exact(deserialize_item(serialize_item(item))) == _exact(item)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(items)
def test_boto3_wire_decodes_like_ours(item: dict[str, Any]) -> None:
    """What boto3 would send decodes to the same item (it is what another client may have written)."""
    if not all(_boto3_can(v) for v in item.values()):
        return
    wire: Any = {k: SERIALIZER.serialize(v) for k, v in item.items()}
    assert _exact(deserialize_item(wire)) == _exact(item)


@given(numbers)
def test_numbers_travel_as_canonical_text(number: Decimal) -> None:
    text = serialize(number)["N"]
    assert text == str(number)
    assert decode_number(text) == number and str(decode_number(text)) == str(number)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("3.0", "3"), ("1.500", "1.5"), ("-0", "0"), ("-0.0", "0"), ("1.5E2", "150"), ("0.5", "0.5"), ("00042", "42"),
     ("1E-7", "1E-7"), ("0.0000001", "1E-7"), ("-12", "-12"), ("100", "100")],
)
def test_decode_number_normalises_emulator_text(text: str, canonical: str) -> None:
    assert str(decode_number(text)) == canonical


def test_wire_shapes() -> None:
    assert serialize("x") == {"S": "x"}
    assert serialize(Decimal("1.5")) == {"N": "1.5"}
    assert serialize(7) == {"N": "7"}
    assert serialize(True) == {"BOOL": True}
    assert serialize(None) == {"NULL": True}
    assert serialize(b"\x00") == {"B": b"\x00"}
    assert serialize(bytearray(b"ab")) == {"B": b"ab"}
    assert serialize([1, "a"]) == {"L": [{"N": "1"}, {"S": "a"}]}
    assert serialize({"a": {"b": []}}) == {"M": {"a": {"M": {"b": {"L": []}}}}}
    assert sorted(serialize({"a", "b"})["SS"]) == ["a", "b"]
    assert sorted(serialize(NumberSet([Decimal(2), Decimal(1)]))["NS"]) == ["1", "2"]
    assert serialize(frozenset([b"x"])) == {"BS": [b"x"]}
    assert type(deserialize({"SS": ["a"]})) is StringSet
    assert type(deserialize({"NS": ["1"]})) is NumberSet
    assert type(deserialize({"BS": [b"a"]})) is BinarySet
    assert deserialize({"NULL": True}) is None


@pytest.mark.parametrize("bad", [1.5, set(), {1, "a"}, object(), Decimal("NaN")])
def test_refuses_what_dynamodb_refuses(bad: Any) -> None:
    with pytest.raises(ValidationError):
        serialize(bad)


def test_refuses_unknown_wire_tags() -> None:
    with pytest.raises(ValidationError):
        deserialize({"X": 1})


def test_speed_function_reports_both() -> None:
    from storeswap.adapters.dynamodb.speed import compare_marshallers

    result = compare_marshallers(rounds=20)
    assert set(result) >= {"serialize_ours_us", "serialize_boto3_us", "deserialize_ours_us", "deserialize_boto3_us"}
