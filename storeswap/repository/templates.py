"""Key templates: ``"TENANT#{tenant_id}"`` rendered from an entity's field values.

A template is literal text with ``{field}`` placeholders (an optional format
spec, ``{n:010d}``, applies to the stored value: zero-padding keeps numbers
in order inside a string key).  A template that is exactly one placeholder
(``"{id}"``) stores the field's value itself, so Number and Binary keys work;
any other template renders a string.

A query renders the sort-key template left to right for the fields it was
given and stops at the first one it was not: the rendered text is the
``begins_with`` prefix (``"COUNTER#"`` for ``sk="COUNTER#{id}"`` with no
fields).
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from attrs import define

from storeswap.core.errors import ValidationError
from storeswap.core.values import normalize_number
from storeswap.repository.errors import ModelError

__all__ = ["KeyTemplate", "SHARD_FIELD", "shard_of", "key_text"]

#: The placeholder a partition-key template uses for a write-shard number (``"TENANT#{tenant_id}#{_shard}"``).
SHARD_FIELD = "_shard"


def shard_of(text: str, shards: int) -> int:
    """The write shard (0 .. shards-1) of a rendered sort key: CRC-32 of its UTF-8 bytes, modulo ``shards``.

    Stable across processes and languages (unlike ``hash``), so a migration
    transform and the repository agree on every item's shard.
    """
    if not isinstance(text, str):
        raise ValidationError(f"shard_of takes the rendered sort key, a string, not {type(text).__name__}")
    if type(shards) is not int or shards < 1:
        raise ValidationError(f"shard_of takes a positive number of shards, not {shards!r}")
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % shards


@define(frozen=True)
class _Part:
    literal: str
    field: str | None
    spec: str


class KeyTemplate:
    """A parsed key template; :meth:`render` fills it, :meth:`prefix` renders the part a query knows."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ModelError(f"a key template is a non-empty string, not {text!r}")
        parts: list[_Part] = []
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as e:
            raise ModelError(f"key template {text!r}: {e}") from None
        for literal, field, spec, conversion in parsed:
            if conversion:
                raise ModelError(f"key template {text!r}: conversions (!r, !s) are not supported")
            if field is not None and (not field.isidentifier()):
                raise ModelError(f"key template {text!r}: {{{field}}} is not a field name")
            parts.append(_Part(literal, field, spec or ""))
        self.text = text
        self.parts = tuple(parts)
        self.fields = tuple(p.field for p in parts if p.field is not None)
        if len(set(self.fields)) != len(self.fields):
            raise ModelError(f"key template {text!r} names a field twice")
        #: True when the template is exactly one placeholder: the key holds the raw value.
        self.raw = len(parts) == 1 and parts[0].literal == "" and parts[0].field is not None and not parts[0].spec
        self.constant_prefix = self.prefix({})

    def __repr__(self) -> str:
        return f"KeyTemplate({self.text!r})"

    def render(self, values: Mapping[str, Any]) -> Any:
        """The key value for these (already unstructured) field values; every field must be present."""
        if not isinstance(values, Mapping):
            raise ValidationError(f"a key template renders a mapping of field values, not {type(values).__name__}")
        missing = [f for f in self.fields if values.get(f) is None]
        if missing:
            raise ModelError(f"key template {self.text!r} needs {', '.join(missing)}")
        if self.raw:
            assert self.fields
            return values[self.fields[0]]
        return "".join(p.literal + ("" if p.field is None else _fmt(values[p.field], p.spec)) for p in self.parts)

    def prefix(self, values: Mapping[str, Any]) -> str:
        """The rendered text up to the first placeholder whose field is not in ``values``."""
        out: list[str] = []
        for p in self.parts:
            out.append(p.literal)
            if p.field is None:
                continue
            if values.get(p.field) is None:
                break
            out.append(_fmt(values[p.field], p.spec))
        return "".join(out)

    def complete(self, values: Mapping[str, Any]) -> bool:
        """True when every field of the template is in ``values``."""
        return all(values.get(f) is not None for f in self.fields)

    def map_fields(self, fn: Callable[[str], Any]) -> dict[str, Any]:
        """``{field: fn(field)}`` for the template's fields."""
        return {f: fn(f) for f in self.fields}


#: Format types only an int takes (``format(Decimal(5), "d")`` is an error).
_INTEGER_FORMATS = frozenset("bcdoxX")


def key_text(value: Any) -> str:
    """A rendered key value as text: what :func:`shard_of` hashes (a number in its canonical form, as rendered)."""
    return _fmt(value, "") if isinstance(value, Decimal) else str(value)


def _fmt(value: Any, spec: str) -> str:
    if isinstance(value, bytes):
        raise ModelError("a binary value can only be a whole key (template '{field}'), not part of a string key")
    if isinstance(value, Decimal):
        # Equal numbers render equal keys: the canonical number the store keeps (5.0 and 5E0 are 5); an integral
        # one is an int for an integer format ('{seq:08d}'), which a Decimal refuses. Other formats take the
        # Decimal: an int would go through a float for '.2f' and lose digits.
        value = normalize_number(value, where="a key value")
        if spec[-1:] in _INTEGER_FORMATS and value == value.to_integral_value():
            value = int(value)
    try:
        return format(value, spec) if spec else str(value)
    except (ValueError, TypeError) as e:  # '{seq:08d}' given a str: the field's type and the format disagree
        raise ValidationError(f"a key value {value!r} cannot be formatted as {{:{spec}}}: {e}") from None
