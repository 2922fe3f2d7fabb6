"""DynamoDB JSON ("typed JSON"): ``{"S": "x"}``, ``{"N": "1"}``, ``{"B": "<base64>"}`` and friends.

Used by the export writer and reader (the DYNAMODB_JSON format of
"Export to S3") and by reports that must show a value with its type.
Numbers are read into ``Decimal`` *as written*: normalisation (V2) is left to
the port, so that ``check`` can see numbers that would change or collide.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.values import BinarySet, NumberSet, StringSet

__all__ = ["marshal_value", "marshal_item", "unmarshal_value", "unmarshal_item"]


def marshal_value(value: Any) -> dict[str, Any]:
    """One Python value as DynamoDB JSON."""
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, (Decimal, int)):
        return {"N": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"B": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {"M": {k: marshal_value(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [marshal_value(v) for v in value]}
    if isinstance(value, StringSet):
        return {"SS": sorted(value)}
    if isinstance(value, NumberSet):
        try:
            return {"NS": [str(v) for v in sorted(value)]}
        except (InvalidOperation, TypeError):  # a NaN cannot be ordered, nor a non-number (no DynamoDB number either)
            raise ValidationError(f"a number set holds a value that is not a number: {sorted(map(repr, value))}") from None
    if isinstance(value, BinarySet):
        return {"BS": [base64.b64encode(v).decode("ascii") for v in sorted(value)]}
    if isinstance(value, (set, frozenset)):
        # A plain set of one element type becomes that typed set; anything else is refused, never coerced
        # (bytes(0) would be b"", Decimal("1") a number from a string).
        if not value:
            raise ValidationError("a set may not be empty (V3)")
        if all(isinstance(v, str) for v in value):
            return marshal_value(StringSet(value))
        if all(isinstance(v, (bytes, bytearray)) for v in value):
            return marshal_value(BinarySet(bytes(v) for v in value))
        if all(isinstance(v, (Decimal, int)) and not isinstance(v, bool) for v in value):
            return marshal_value(NumberSet(Decimal(v) for v in value))
        raise ValidationError("a set must hold strings, numbers or binary of one type")
    raise ValidationError(f"cannot marshal a value of type {type(value).__name__}")


def marshal_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as a DynamoDB JSON attribute map."""
    return {name: marshal_value(v) for name, v in item.items()}


def _number(text: Any, where: str) -> Decimal:
    if not isinstance(text, str):
        raise ValidationError(f"{where}: a number is written as a string in DynamoDB JSON")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{where}: {text!r} is not a number") from None
    if d.is_snan():  # a signalling NaN cannot even be hashed into a set; a quiet one is left to the port's rule
        raise ValidationError(f"{where}: {text!r} is not a number")
    return d


def _binary(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise ValidationError(f"{where}: binary is written as base64 text in DynamoDB JSON")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValidationError(f"{where}: invalid base64") from None


def unmarshal_value(typed: Any, where: str = "value") -> Any:
    """One DynamoDB JSON value as Python (numbers as written, not normalised)."""
    if not isinstance(typed, Mapping) or len(typed) != 1:
        raise ValidationError(f"{where}: a DynamoDB JSON value is an object with exactly one type key")
    ((tag, body),) = typed.items()
    if tag == "S":
        if not isinstance(body, str):
            raise ValidationError(f"{where}: S holds a string")
        return body
    if tag == "N":
        return _number(body, where)
    if tag == "B":
        return _binary(body, where)
    if tag == "BOOL":
        if not isinstance(body, bool):
            raise ValidationError(f"{where}: BOOL holds true or false")
        return body
    if tag == "NULL":
        return None
    if tag == "M":
        if not isinstance(body, Mapping):
            raise ValidationError(f"{where}: M holds an object")
        return {k: unmarshal_value(v, f"{where}.{k}") for k, v in body.items()}
    if tag == "L":
        if not isinstance(body, list):
            raise ValidationError(f"{where}: L holds an array")
        return [unmarshal_value(v, f"{where}[{i}]") for i, v in enumerate(body)]
    if tag in ("SS", "NS", "BS"):
        if not isinstance(body, list):
            raise ValidationError(f"{where}: {tag} holds an array")
        if tag == "SS":
            if not all(isinstance(e, str) for e in body):
                raise ValidationError(f"{where}: SS holds strings")
            return StringSet(body)
        if tag == "NS":
            return NumberSet(_number(e, where) for e in body)
        return BinarySet(_binary(e, where) for e in body)
    raise ValidationError(f"{where}: unknown DynamoDB JSON type {tag!r}")


def unmarshal_item(typed: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB JSON attribute map as a Python item."""
    if not isinstance(typed, Mapping):
        raise ValidationError("an item in DynamoDB JSON is an object")
    return {name: unmarshal_value(v, name) for name, v in typed.items()}
