"""DynamoDB's AttributeValue JSON on the wire, to and from storeswap's Python values.

The rules and the errors are :mod:`storeswap.core.ddbjson`'s, the one DynamoDB JSON codec (export files and
reports use it too): decoding only changes the representation (numbers become ``Decimal`` exactly as written,
binary bytes, sets typed sets), refusing what is not DynamoDB JSON with DynamoDB's SerializationException
(:class:`SerializationError`) or ValidationException, and validation and normalisation (V1-V10) stay in the
port.  Encoding writes what the store returned; numbers are already canonical.

What is the gateway's own here is speed: :func:`decode_item` and :func:`encode_item` try the optional compiled
fast paths (:mod:`storeswap.gateway.cwire`, off with ``STORESWAP_PURE=1``) first, which handle the common value
types and leave everything else (and every error) to the pure-Python codec, their reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from storeswap import settings
from storeswap.core import ddbjson
from storeswap.core.ddbjson import SerializationError, decode_value, encode_value

__all__ = [
    "decode_value", "decode_item", "decode_item_python", "encode_value", "encode_item", "encode_item_python",
    "SerializationError",
]

#: The pure-Python :func:`decode_item` (:func:`storeswap.core.ddbjson.decode_item`): the rules and the errors, and
#: the reference the compiled one is tested against.
decode_item_python: Final = ddbjson.decode_item

#: The pure-Python :func:`encode_item` (:func:`storeswap.core.ddbjson.encode_item`): the reference the compiled one
#: is tested against.
encode_item_python: Final = ddbjson.encode_item


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
