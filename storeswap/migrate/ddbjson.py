"""DynamoDB JSON ("typed JSON"): ``{"S": "x"}``, ``{"N": "1"}``, ``{"B": "<base64>"}`` and friends.

Used by the export writer and reader (the DYNAMODB_JSON format of
"Export to S3"), incremental exports, stream records and reports that must
show a value with its type.  The rules are :mod:`storeswap.core.ddbjson`'s,
the one DynamoDB JSON codec the gateway's wire uses too (decision 0041):
numbers are read into ``Decimal`` *as written* (normalisation, V2, is left to
the port, so that ``check`` can see numbers that would change or collide), a
signalling NaN, a set with duplicates and ``{"NULL": false}`` are refused,
as DynamoDB refuses them.  Here the names are migrate's, and marshalling
anything without a DynamoDB JSON form (a float, an empty or mixed plain set)
is a :class:`~storeswap.core.errors.ValidationError`, as everywhere in
migrate, not a ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from storeswap.core import ddbjson
from storeswap.core.errors import ValidationError

__all__ = ["marshal_value", "marshal_item", "unmarshal_value", "unmarshal_item"]

#: One DynamoDB JSON value as Python (numbers as written, not normalised): :func:`storeswap.core.ddbjson.decode_value`.
unmarshal_value: Final = ddbjson.decode_value

#: A DynamoDB JSON attribute map as a Python item: :func:`storeswap.core.ddbjson.decode_item`.
unmarshal_item: Final = ddbjson.decode_item


def marshal_value(value: Any) -> dict[str, Any]:
    """One Python value as DynamoDB JSON (a plain set of one element type as that typed set)."""
    try:
        return ddbjson.encode_value(value)
    except TypeError as e:
        raise ValidationError(str(e)) from None


def marshal_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as a DynamoDB JSON attribute map."""
    try:
        return ddbjson.encode_item(item)
    except TypeError as e:
        raise ValidationError(str(e)) from None
