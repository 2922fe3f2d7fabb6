"""DynamoDB's AttributeValue JSON on the wire, to and from storeswap's Python values.

On the wire binary travels as base64 text and numbers as strings
(``{"B": "AAE="}``, ``{"N": "1.50"}``).  Decoding only changes the
representation: numbers become ``Decimal`` exactly as written and sets
become typed sets, so validation and normalisation (V1-V10) stay in the
port, which rejects bad values with the same errors on every store.
Encoding writes what the store returned; numbers are already canonical.

The value's exact type picks its codec in one dict look-up, which matters
on the hot path (every attribute of every item passes through here).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from storeswap import settings
from storeswap.core.errors import ValidationError
from storeswap.core.values import BinarySet, NumberSet, StringSet

__all__ = [
    "decode_value", "decode_item", "decode_item_python", "encode_value", "encode_item", "encode_item_python",
    "SerializationError",
]


class SerializationError(ValidationError):
    """The request body is not well-formed DynamoDB JSON (DynamoDB's SerializationException)."""


# ---------------------------------------------------------------------- decoding


def _number(text: Any, where: str) -> Decimal:
    if type(text) is not str:
        raise SerializationError(f"{where}: a number (N) is sent as a JSON string")
    try:
        d = Decimal(text)
    except InvalidOperation:
        d = None
    if d is None or d.is_snan():  # a signalling NaN cannot even be hashed into a set; a quiet one is the port's to refuse
        raise ValidationError(f"One or more parameter values were invalid: {where}: {text!r} is not a valid number")
    return d


def _binary(text: Any, where: str) -> bytes:
    if type(text) is not str:
        raise SerializationError(f"{where}: binary (B) is sent as base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SerializationError(f"{where}: invalid base64 in a binary value") from None


def _d_s(body: Any, where: str) -> Any:
    if type(body) is not str:
        raise SerializationError(f"{where}: S holds a string")
    return body


def _d_bool(body: Any, where: str) -> Any:
    if type(body) is not bool:
        raise SerializationError(f"{where}: BOOL holds true or false")
    return body


def _d_null(body: Any, where: str) -> Any:
    if body is not True:
        raise ValidationError("One or more parameter values were invalid: Null attribute value types must have the value of true")
    return None


def _d_m(body: Any, where: str) -> Any:
    if type(body) is not dict:
        raise SerializationError(f"{where}: M holds an object")
    return {k: decode_value(v, where) for k, v in body.items()}


def _d_l(body: Any, where: str) -> Any:
    if type(body) is not list:
        raise SerializationError(f"{where}: L holds an array")
    return [decode_value(v, where) for v in body]


def _d_ss(body: Any, where: str) -> Any:
    if type(body) is not list or not all(type(e) is str for e in body):
        raise SerializationError(f"{where}: SS holds an array of strings")
    return _checked_set(StringSet(body), len(body), where)


def _d_ns(body: Any, where: str) -> Any:
    if type(body) is not list:
        raise SerializationError(f"{where}: NS holds an array of number strings")
    return _checked_set(NumberSet(_number(e, where) for e in body), len(body), where)


def _d_bs(body: Any, where: str) -> Any:
    if type(body) is not list:
        raise SerializationError(f"{where}: BS holds an array of base64 strings")
    return _checked_set(BinarySet(_binary(e, where) for e in body), len(body), where)


def _checked_set(value: Any, count: int, where: str) -> Any:
    # A frozenset silently drops duplicates; DynamoDB rejects them (V3), so the
    # gateway must see them before the set collapses.
    if len(value) != count:
        raise ValidationError(f"One or more parameter values were invalid: Input collection {where} contains duplicates.")
    return value


_DECODERS: dict[str, Callable[[Any, str], Any]] = {
    "S": _d_s,
    "N": _number,
    "B": _binary,
    "BOOL": _d_bool,
    "NULL": _d_null,
    "M": _d_m,
    "L": _d_l,
    "SS": _d_ss,
    "NS": _d_ns,
    "BS": _d_bs,
}


def decode_value(typed: Any, where: str = "value") -> Any:
    """One AttributeValue (``{"S": "x"}``) as a Python value; malformed input is a ValidationError."""
    if type(typed) is not dict or len(typed) != 1:
        if type(typed) is dict and len(typed) > 1:
            raise ValidationError(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
            )
        if type(typed) is dict:
            raise ValidationError("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        raise SerializationError(f"{where}: an AttributeValue is a JSON object with one type key")
    for tag, body in typed.items():
        decoder = _DECODERS.get(tag)
        if decoder is None:
            raise SerializationError(f"{where}: unknown AttributeValue type {tag!r}")
        return decoder(body, where)
    raise AssertionError("unreachable")  # pragma: no cover


def decode_item(typed: Any, where: str = "Item") -> dict[str, Any]:
    """An attribute map (``{"pk": {"S": "a"}, ...}``) as a Python item.

    The compiled fast path (:mod:`storeswap.gateway.cwire`) decodes maps of well-formed S, N, BOOL, NULL, M and L
    values; for anything else it answers None and :func:`decode_item_python` decodes or raises.
    """
    if _compiled_decode is not None:
        out = _compiled_decode(typed)
        if out is not None:
            return out
    return decode_item_python(typed, where)


def decode_item_python(typed: Any, where: str = "Item") -> dict[str, Any]:
    """The pure-Python :func:`decode_item`: the rules and the errors, and the reference the compiled one is tested
    against."""
    if type(typed) is not dict:
        raise SerializationError(f"{where} is a JSON object of attribute values")
    return {name: decode_value(v, name) for name, v in typed.items()}


_compiled_decode: Callable[[Any], dict[str, Any] | None] | None
_compiled_encode: Callable[[Any], dict[str, Any] | None] | None
try:
    from storeswap.gateway.cwire import decode_item as _compiled_decode
    from storeswap.gateway.cwire import encode_item as _compiled_encode
except ImportError:  # no compiler at install time, or STORESWAP_PURE=1: the pure-Python path
    _compiled_decode = _compiled_encode = None

#: True when the compiled fast paths of :func:`decode_item` and :func:`encode_item` are in use.
COMPILED: Final = _compiled_decode is not None and not settings.is_set(settings.PURE)
if not COMPILED:
    _compiled_decode = _compiled_encode = None


# ---------------------------------------------------------------------- encoding


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _e_m(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"M": {k: encode_value(v) for k, v in value.items()}}


def _e_l(value: list[Any]) -> dict[str, Any]:
    return {"L": [encode_value(v) for v in value]}


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    str: lambda v: {"S": v},
    Decimal: lambda v: {"N": str(v)},
    int: lambda v: {"N": str(v)},
    bool: lambda v: {"BOOL": v},
    type(None): lambda v: {"NULL": True},
    bytes: lambda v: {"B": _b64(v)},
    dict: _e_m,
    list: _e_l,
    StringSet: lambda v: {"SS": sorted(v)},
    NumberSet: lambda v: {"NS": [str(e) for e in sorted(v)]},
    BinarySet: lambda v: {"BS": [_b64(e) for e in sorted(v)]},
}


def encode_value(value: Any) -> dict[str, Any]:
    """One Python value (as a store returns it) as an AttributeValue."""
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    if isinstance(value, Mapping):
        return _e_m(value)
    if isinstance(value, (bytearray, memoryview)):
        return {"B": _b64(bytes(value))}
    if isinstance(value, (list, tuple)):
        return _e_l(list(value))
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Python item as an attribute map.

    The compiled fast path (:mod:`storeswap.gateway.cwire`) encodes items of exact str, Decimal, int, bool,
    None, dict and list values; for anything else it answers None and :func:`encode_item_python` encodes it.
    """
    if _compiled_encode is not None:
        out = _compiled_encode(item)
        if out is not None:
            return out
    return encode_item_python(item)


def encode_item_python(item: Mapping[str, Any]) -> dict[str, Any]:
    """The pure-Python :func:`encode_item`: the reference the compiled one is tested against."""
    return {name: encode_value(v) for name, v in item.items()}
