"""A fast marshaller between storeswap's Python values and DynamoDB AttributeValue dicts.

boto3's ``TypeSerializer`` / ``TypeDeserializer`` walk a chain of
``isinstance`` checks per value and build Decimals through a context with
traps; on the hot path that costs more than the rest of the adapter.  Here
a value's exact type picks its encoder in one dict look-up (``isinstance``
only for subclasses), and numbers travel as the canonical strings that
:func:`storeswap.core.values.normalize_number` produced.

The wire shape is the boto3 *client* shape: ``B`` and ``BS`` hold raw
``bytes`` (botocore does the base64), ``N`` and ``NS`` hold strings.

Decoding gives storeswap's value model: ``Decimal`` for numbers (in the
canonical form, so ``"3.0"`` from an emulator reads back as ``3``),
``bytes`` for binary, and :class:`StringSet` / :class:`NumberSet` /
:class:`BinarySet` for sets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.values import BinarySet, NumberSet, StringSet, normalize_number

__all__ = [
    "AttributeValue",
    "serialize",
    "deserialize",
    "serialize_item",
    "deserialize_item",
    "decode_number",
]

AttributeValue = dict[str, Any]


# --------------------------------------------------------------------- encoding


def _number_text(value: Decimal | int) -> str:
    if isinstance(value, bool):
        raise ValidationError("a bool is not a number")
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise ValidationError(f"{value} is not a finite number")
    return str(value)


def _s(value: str) -> AttributeValue:
    return {"S": value}


def _n(value: Decimal) -> AttributeValue:
    if value.is_finite():
        return {"N": str(value)}
    raise ValidationError(f"{value} is not a finite number")


def _int(value: int) -> AttributeValue:
    return {"N": str(value)}


def _bool(value: bool) -> AttributeValue:
    return {"BOOL": value}


def _null(value: None) -> AttributeValue:
    return {"NULL": True}


def _b(value: bytes) -> AttributeValue:
    return {"B": value}


def _b_copy(value: bytearray | memoryview) -> AttributeValue:
    return {"B": bytes(value)}


def _ss(value: frozenset[str]) -> AttributeValue:
    return {"SS": list(value)}


def _ns(value: frozenset[Decimal]) -> AttributeValue:
    return {"NS": [_number_text(v) for v in value]}


def _bs(value: frozenset[bytes]) -> AttributeValue:
    return {"BS": [bytes(v) for v in value]}


def _l(value: list[Any]) -> AttributeValue:
    return {"L": [_encode(v) for v in value]}


def _m(value: Mapping[str, Any]) -> AttributeValue:
    return {"M": {k: _encode(v) for k, v in value.items()}}


def _plain_set(value: set[Any] | frozenset[Any]) -> AttributeValue:
    if not value:
        raise ValidationError("sets may not be empty")
    if all(isinstance(v, str) for v in value):
        return {"SS": list(value)}
    if all(isinstance(v, (bytes, bytearray)) for v in value):
        return {"BS": [bytes(v) for v in value]}
    if all(isinstance(v, (Decimal, int)) and not isinstance(v, bool) for v in value):
        return {"NS": [_number_text(v) for v in value]}
    raise ValidationError("a set holds strings, numbers or binary, all of one type")


_ENCODERS: dict[type, Callable[[Any], AttributeValue]] = {
    str: _s,
    Decimal: _n,
    int: _int,
    bool: _bool,
    type(None): _null,
    bytes: _b,
    bytearray: _b_copy,
    memoryview: _b_copy,
    StringSet: _ss,
    NumberSet: _ns,
    BinarySet: _bs,
    list: _l,
    tuple: _l,
    dict: _m,
    set: _plain_set,
    frozenset: _plain_set,
}


def _encode_slow(value: Any) -> AttributeValue:
    # Subclasses (an OrderedDict, a str enum, ...): walk the MRO once.
    if isinstance(value, float):
        raise ValidationError("float values are not supported (they lose precision); use Decimal")
    if isinstance(value, bool):
        return _bool(value)
    for base in type(value).__mro__[1:]:
        encoder = _ENCODERS.get(base)
        if encoder is not None:
            return encoder(value)
    if isinstance(value, Mapping):
        return _m(value)
    raise ValidationError(f"unsupported value type {type(value).__name__}")


def _encode(value: Any) -> AttributeValue:
    encoder = _ENCODERS.get(type(value))
    if encoder is None:
        return _encode_slow(value)
    return encoder(value)


serialize = _encode
serialize.__doc__ = "Encode one Python value as a DynamoDB AttributeValue dict (client shape)."


def serialize_item(item: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Encode a whole item (or key): attribute name → AttributeValue."""
    get = _ENCODERS.get
    out: dict[str, AttributeValue] = {}
    for name, value in item.items():
        encoder = get(type(value))
        out[name] = encoder(value) if encoder is not None else _encode_slow(value)
    return out


# --------------------------------------------------------------------- decoding


def decode_number(text: str) -> Decimal:
    """A number string from the wire as storeswap's canonical Decimal (V2).

    DynamoDB returns canonical text already; emulators may not (moto's
    ``ADD`` answers ``"3.0"``), so text with an exponent, a trailing
    fractional zero or a negative zero goes through the full normalisation.
    """
    if "E" in text or "e" in text:
        return normalize_number(Decimal(text), where="number")
    if "." in text:
        if text[-1] == "0":
            return normalize_number(Decimal(text), where="number")
        return Decimal(text)
    if text[0] == "-" and not text.lstrip("-0"):
        return Decimal(0)
    return Decimal(text)


def _d_s(v: Any) -> Any:
    return v


def _d_n(v: str) -> Decimal:
    return decode_number(v)


def _d_b(v: Any) -> bytes:
    return v if type(v) is bytes else bytes(v)


def _d_bool(v: Any) -> bool:
    return bool(v)


def _d_null(v: Any) -> None:
    return None


def _d_ss(v: list[str]) -> StringSet:
    return StringSet(v)


def _d_ns(v: list[str]) -> NumberSet:
    return NumberSet([decode_number(x) for x in v])


def _d_bs(v: list[Any]) -> BinarySet:
    return BinarySet([_d_b(x) for x in v])


def _d_l(v: list[AttributeValue]) -> list[Any]:
    return [_decode(x) for x in v]


def _d_m(v: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {k: _decode(x) for k, x in v.items()}


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "S": _d_s,
    "N": _d_n,
    "B": _d_b,
    "BOOL": _d_bool,
    "NULL": _d_null,
    "SS": _d_ss,
    "NS": _d_ns,
    "BS": _d_bs,
    "L": _d_l,
    "M": _d_m,
}


def _decode(av: Mapping[str, Any]) -> Any:
    if "S" in av:  # the common case first
        return av["S"]
    try:
        ((tag, v),) = av.items()
        decoder = _DECODERS[tag]
    except (ValueError, KeyError):
        raise ValidationError(f"not a DynamoDB AttributeValue: {av!r}") from None
    return decoder(v)


deserialize = _decode
deserialize.__doc__ = "Decode one AttributeValue dict into storeswap's Python value model."


def deserialize_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    """Decode a whole item: attribute name → Python value."""
    decode = _decode
    return {name: (av["S"] if "S" in av else decode(av)) for name, av in item.items()}
