"""DynamoDB JSON (AttributeValue JSON) to and from storeswap's Python values: the one codec.

``{"S": "x"}``, ``{"N": "1.50"}``, ``{"B": "AAE="}``, ``{"SS": [...]}`` (``NS``, ``BS``), ``{"M": {...}}``,
``{"L": [...]}``, ``{"BOOL": true}``, ``{"NULL": true}``: the values of DynamoDB's request and response bodies
(the gateway, :mod:`storeswap.gateway.wire`) and of its "Export to S3" files, stream records and storeswap's
reports (:mod:`storeswap.migrate.ddbjson`).  Both read and write them here, so a value means the same thing,
and is refused with the same error, wherever it comes from (decision 0041).

Decoding only changes the representation: binary arrives as base64 text, numbers become ``Decimal`` *exactly
as written* and sets become typed sets.  Validation and normalisation (V1-V10) stay in the port, which refuses
bad values with the same errors on every store, and ``check`` can still see a number that normalising would
change.  What is refused here is what cannot become a Python value at all, with DynamoDB's errors:

- :class:`SerializationError` (DynamoDB's SerializationException): not DynamoDB JSON — a value that is not a
  one-key object, an unknown type key, a body of the wrong JSON type (``{"S": 1}``, ``{"N": 1}``), invalid
  base64, nesting beyond the interpreter's stack;
- :class:`~storeswap.core.errors.ValidationError` (ValidationException), with DynamoDB's message: no type key or
  more than one, ``NULL`` not ``true``, a number ``Decimal`` cannot read (or a signalling NaN, which cannot even be
  hashed into a set; a quiet NaN or an infinity is the port's to refuse), duplicates in a set (V3: DynamoDB
  refuses them; a frozenset would drop them silently).  An empty set is the port's to refuse (V3).

Types are checked exactly (``type(x) is str``): a JSON parser returns nothing else.

Encoding writes what a store returned (numbers are already canonical).  The value's exact type picks its codec in
one dict look-up, which matters on the gateway's hot path; subclasses, tuples, bytearrays and plain Python sets
(of one element type: they become that typed set) follow.  A value with no DynamoDB JSON form is a ``TypeError``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.values import BinarySet, NumberSet, StringSet

__all__ = ["SerializationError", "decode_value", "decode_item", "encode_value", "encode_item"]

_INVALID = "One or more parameter values were invalid: "


class SerializationError(ValidationError):
    """Not well-formed DynamoDB JSON: on the wire, DynamoDB's SerializationException."""


# ---------------------------------------------------------------------- decoding


def _number(text: Any, where: str) -> Decimal:
    if type(text) is not str:
        raise SerializationError(f"{where}: a number (N) is sent as a JSON string")
    try:
        d = Decimal(text)
    except InvalidOperation:
        d = None
    if d is None or d.is_snan():  # a signalling NaN cannot even be hashed into a set; a quiet one is the port's to refuse
        raise ValidationError(f"{_INVALID}{where}: {text!r} is not a valid number")
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
        raise ValidationError(f"{_INVALID}Null attribute value types must have the value of true")
    return None


def _d_m(body: Any, where: str) -> Any:
    if type(body) is not dict:
        raise SerializationError(f"{where}: M holds an object")
    return {k: _value(v, where) for k, v in body.items()}


def _d_l(body: Any, where: str) -> Any:
    if type(body) is not list:
        raise SerializationError(f"{where}: L holds an array")
    return [_value(v, where) for v in body]


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
    # A frozenset silently drops duplicates; DynamoDB rejects them (V3), so they must be seen before the set
    # collapses (numbers compare as numbers: "1" and "1.0" are duplicates, as they are to DynamoDB).
    if len(value) != count:
        raise ValidationError(f"{_INVALID}Input collection {where} contains duplicates.")
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


def _value(typed: Any, where: str) -> Any:
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


def decode_value(typed: Any, where: str = "value") -> Any:
    """One AttributeValue (``{"S": "x"}``) as a Python value; malformed input is a ValidationError (see the module
    docstring for which are SerializationErrors).  ``where`` names the value in messages (nested values too)."""
    try:
        return _value(typed, where)
    except RecursionError:  # nested beyond the interpreter's stack, still within the JSON parser's
        raise SerializationError(f"{where}: an AttributeValue is nested too deeply") from None


def decode_item(typed: Any, where: str = "Item") -> dict[str, Any]:
    """An attribute map (``{"pk": {"S": "a"}, ...}``) as a Python item; each value's errors name its attribute."""
    if type(typed) is not dict:
        raise SerializationError(f"{where} is a JSON object of attribute values")
    try:
        return {name: _value(v, name) for name, v in typed.items()}
    except RecursionError:  # nested beyond the interpreter's stack, still within the JSON parser's
        raise SerializationError(f"{where}: an AttributeValue is nested too deeply") from None


# ---------------------------------------------------------------------- encoding


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _e_m(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"M": {k: encode_value(v) for k, v in value.items()}}


def _e_l(value: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
    return {"L": [encode_value(v) for v in value]}


def _e_ss(value: frozenset[str]) -> dict[str, Any]:
    return {"SS": sorted(value)}


def _e_ns(value: frozenset[Decimal]) -> dict[str, Any]:
    try:
        ordered = sorted(value)
    except (InvalidOperation, TypeError):  # a NaN cannot be ordered, nor a non-number (no DynamoDB number either)
        raise TypeError(f"a number set holds a value that is not a number: {sorted(map(repr, value))}") from None
    return {"NS": [str(e) for e in ordered]}


def _e_bs(value: frozenset[bytes]) -> dict[str, Any]:
    return {"BS": [_b64(e) for e in sorted(value)]}


_ENCODERS: dict[type, Callable[[Any], dict[str, Any]]] = {
    str: lambda v: {"S": v},
    Decimal: lambda v: {"N": str(v)},
    int: lambda v: {"N": str(v)},
    bool: lambda v: {"BOOL": v},
    type(None): lambda v: {"NULL": True},
    bytes: lambda v: {"B": _b64(v)},
    dict: _e_m,
    list: _e_l,
    StringSet: _e_ss,
    NumberSet: _e_ns,
    BinarySet: _e_bs,
}


def _plain_set(value: set[Any] | frozenset[Any]) -> dict[str, Any]:
    # A plain set of one element type becomes that typed set; anything else is refused, never coerced
    # (bytes(0) would be b"", Decimal("1") a number from a string).
    if not value:
        raise TypeError("a set may not be empty (V3)")
    if all(isinstance(v, str) for v in value):
        return _e_ss(StringSet(value))
    if all(isinstance(v, (bytes, bytearray)) for v in value):
        return _e_bs(BinarySet(bytes(v) for v in value))
    if all(isinstance(v, (Decimal, int)) and not isinstance(v, bool) for v in value):
        return _e_ns(NumberSet(Decimal(v) for v in value))
    raise TypeError("a set must hold strings, numbers or binary of one type")


def _encode_other(value: Any) -> dict[str, Any]:
    # Not one of the exact types a store returns: their subclasses (a bool is an int, so it is not one here:
    # bool cannot be subclassed and took its exact-type codec), then the other shapes Python code builds.
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (Decimal, int)):
        return {"N": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": _b64(bytes(value))}
    if isinstance(value, Mapping):
        return _e_m(value)
    if isinstance(value, (list, tuple)):
        return _e_l(value)
    if isinstance(value, StringSet):
        return _e_ss(value)
    if isinstance(value, NumberSet):
        return _e_ns(value)
    if isinstance(value, BinarySet):
        return _e_bs(value)
    if isinstance(value, (set, frozenset)):
        return _plain_set(value)
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def encode_value(value: Any) -> dict[str, Any]:
    """One Python value (as a store returns it) as an AttributeValue; ``TypeError`` when it has no such form."""
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    return _encode_other(value)


def encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A Python item as an attribute map."""
    return {name: encode_value(v) for name, v in item.items()}
