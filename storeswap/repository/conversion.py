"""Entity <-> item conversion, built on cattrs.

One :class:`cattrs.Converter` knows how each Python type maps onto the port's
item model (:mod:`storeswap.core.values`):

======================  ==========================================================
Python                  stored as
======================  ==========================================================
``str``, ``bool``       S, BOOL
``int``, ``Decimal``    N (read back as ``int`` / ``Decimal``; a fractional N read
                        as ``int`` is an :class:`EntityDecodeError`)
``bytes``               B
``uuid.UUID``           S, the canonical hyphenated text
``datetime``            S, ISO-8601 (``isoformat``) — or N, epoch seconds with
                        exact microseconds, for fields declared with :func:`epoch`
``date``                S, ISO-8601
``Enum``                its value (S or N)
``set`` / ``frozenset`` SS / NS / BS; an empty set is stored as absent (DynamoDB
                        has no empty sets) and read back as an empty set
``list``, ``dict``      L, M (element types converted recursively)
attrs classes           M, converted field by field
``T | None``            ``None`` is stored as absent (no attribute), not NULL
======================  ==========================================================

Floats are refused by the port (they lose precision silently); declare
``Decimal``.  Structuring is strict: a stored value of the wrong type raises
:class:`EntityDecodeError` instead of being coerced.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from storeswap.core.errors import ValidationError
from storeswap.repository.errors import EntityDecodeError

__all__ = ["EPOCH_METADATA", "epoch", "is_epoch_field", "ItemConverter", "epoch_seconds", "from_epoch_seconds", "declared_type"]

#: attrs field metadata key marking a datetime field that is stored as epoch seconds (N).
EPOCH_METADATA = "storeswap.datetime"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICRO = dt.timedelta(microseconds=1)


def epoch(**kwargs: Any) -> Any:
    """An attrs field whose datetime is stored as epoch seconds (a Number), not ISO-8601 text.

    Use it as ``created: datetime = epoch()`` (keyword arguments go to :func:`attrs.field`).
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    metadata[EPOCH_METADATA] = "epoch"
    return attrs.field(metadata=metadata, **kwargs)


def is_epoch_field(a: attrs.Attribute) -> bool:  # type: ignore[type-arg]
    """True when the attrs attribute was declared with :func:`epoch`."""
    return a.metadata.get(EPOCH_METADATA) == "epoch"


def epoch_seconds(value: dt.datetime, *, whole: bool = False) -> Decimal | int:
    """Exact epoch seconds of an aware datetime (microseconds kept); ``whole`` refuses fractions."""
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"an epoch field holds a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("an epoch datetime must be timezone-aware (a naive one names no instant)")
    micros = (value - _EPOCH) // _MICRO
    if whole:
        if micros % 1_000_000:
            raise ValidationError(
                "a TTL datetime has one-second resolution: drop the fraction (value.replace(microsecond=0))"
            )
        return micros // 1_000_000
    if micros % 1_000_000 == 0:
        return micros // 1_000_000
    return Decimal(micros).scaleb(-6)


def from_epoch_seconds(value: Any) -> dt.datetime:
    """The UTC datetime of epoch seconds read from a store (a Decimal or int)."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise EntityDecodeError(f"an epoch datetime is stored as a number, not {type(value).__name__}")
    try:
        micros = Decimal(value).scaleb(6)
        if micros != micros.to_integral_value():
            raise EntityDecodeError(f"epoch seconds {value} have more than microsecond precision")
        return _EPOCH + dt.timedelta(microseconds=int(micros))
    except ArithmeticError:  # NaN, or beyond datetime's years 1-9999 (OverflowError)
        raise EntityDecodeError(f"epoch seconds {value} are not a datetime") from None


# ----------------------------------------------------------------- scalar hooks


def _strict(kind: type, name: str) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise EntityDecodeError(f"expected {name}, found a boolean")
        if not isinstance(value, kind):
            raise EntityDecodeError(f"expected {name}, found {type(value).__name__}")
        return value

    return hook


def _structure_int(value: Any, _: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise EntityDecodeError(f"expected a number, found {type(value).__name__}")
    if isinstance(value, Decimal) and value != value.to_integral_value():
        raise EntityDecodeError(f"expected an integer, found {value}")
    return int(value)


def _structure_decimal(value: Any, _: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise EntityDecodeError(f"expected a number, found {type(value).__name__}")
    return Decimal(value)


def _structure_uuid(value: Any, _: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise EntityDecodeError(f"expected a UUID string, found {type(value).__name__}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise EntityDecodeError(f"{value!r} is not a UUID") from None


def _structure_datetime(value: Any, _: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise EntityDecodeError(f"expected an ISO-8601 datetime string, found {type(value).__name__}")
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        raise EntityDecodeError(f"{value!r} is not an ISO-8601 datetime") from None


def _structure_date(value: Any, _: Any) -> dt.date:
    if not isinstance(value, str):
        raise EntityDecodeError(f"expected an ISO-8601 date string, found {type(value).__name__}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise EntityDecodeError(f"{value!r} is not an ISO-8601 date") from None


def _unstructure_date(value: dt.date) -> str:
    return value.isoformat()


def _is_enum(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, enum.Enum)


def _structure_enum(value: Any, cls: type[enum.Enum]) -> enum.Enum:
    try:
        # A Decimal read back from a store hashes like the int value it stands for.
        return cls(value)
    except (ValueError, TypeError):
        raise EntityDecodeError(f"{value!r} is not a value of {cls.__name__}") from None


def _enum_aware(hook: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, t: Any) -> Any:
        if _is_enum(t):
            return _structure_enum(value, t)
        return hook(value, t)

    return structure


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _bytes_value(value: Any) -> Any:
    return bytes(value) if isinstance(value, (bytearray, memoryview)) else value


def _optional_inner(t: Any) -> Any | None:
    """``X`` when ``t`` is ``X | None`` (one non-None member), else None."""
    origin = typing.get_origin(t)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(t)) == 2:
            return args[0]
    return None


def _is_set_type(t: Any) -> bool:
    origin = typing.get_origin(t) or t
    return isinstance(origin, type) and issubclass(origin, (set, frozenset))


def _epoch_unstructure(value: Any) -> Any:
    return None if value is None else epoch_seconds(value)


def _epoch_structure(value: Any, _: Any) -> Any:
    return None if value is None else from_epoch_seconds(value)


def declared_type(t: Any) -> Any:
    """A field's declared type ``t``, ``X`` for ``X | None``."""
    return _optional_inner(t) or t


def _declared(cls: type, a: attrs.Attribute) -> Any:  # type: ignore[type-arg]
    """The declared type of field ``a`` of ``cls``, ``X`` for ``X | None``."""
    return declared_type(typing.get_type_hints(cls).get(a.name, a.type))


def _ttl_datetime_unstructure(value: Any) -> Any:
    return None if value is None else epoch_seconds(value, whole=True)


def _ttl_unstructure(value: Any) -> Any:
    if value is None or (isinstance(value, (int, Decimal)) and not isinstance(value, bool)):
        return value
    return epoch_seconds(value, whole=True)


def _drop_absent(d: dict[str, Any]) -> dict[str, Any]:
    # None and empty sets are stored as absent attributes: DynamoDB has no empty set, and
    # "Optional" reads as "may be missing", which is how single-table items are read.
    return {k: v for k, v in d.items() if v is not None and not (isinstance(v, (set, frozenset)) and not v)}


@attrs.define(frozen=True)
class _ClassPlan:
    optional: tuple[str, ...]
    sets: tuple[tuple[str, Any], ...]


def _plan(cls: type) -> _ClassPlan:
    hints = typing.get_type_hints(cls)
    optional: list[str] = []
    sets: list[tuple[str, Any]] = []
    for a in attrs.fields(cls):
        t = hints.get(a.name, a.type)
        if _optional_inner(t) is not None:
            optional.append(a.name)
        elif _is_set_type(t):
            origin = typing.get_origin(t) or t
            sets.append((a.name, frozenset if issubclass(origin, frozenset) else set))
    return _ClassPlan(tuple(optional), tuple(sets))


class ItemConverter:
    """Converts attrs entities to port items and back (see the module docstring for the mapping).

    ``ttl_fields`` names, per class, a field stored as whole epoch seconds
    whatever its type (the store's TTL attribute must be a Number).
    """

    def __init__(self) -> None:
        c = cattrs.Converter(detailed_validation=False)
        # cattrs consults its class hooks (singledispatch) first, and a class hook for str or int
        # also catches StrEnum / IntEnum members: each scalar hook hands enum types to the enum hook.
        for kind, hook in (
            (str, _strict(str, "a string")),
            (bool, _strict(bool, "a boolean")),
            (bytes, _strict(bytes, "binary")),
            (int, _structure_int),
            (Decimal, _structure_decimal),
        ):
            c.register_structure_hook(kind, _enum_aware(hook))
            c.register_unstructure_hook(kind, _enum_value)
        c.register_unstructure_hook(bytes, _bytes_value)  # a bytearray or memoryview in a bytes field is its bytes
        c.register_unstructure_hook(uuid.UUID, str)
        c.register_structure_hook(uuid.UUID, _structure_uuid)
        c.register_unstructure_hook(dt.datetime, dt.datetime.isoformat)
        c.register_structure_hook(dt.datetime, _structure_datetime)
        c.register_unstructure_hook(dt.date, _unstructure_date)
        c.register_structure_hook(dt.date, _structure_date)
        c.register_unstructure_hook_func(_is_enum, lambda v: v.value)
        c.register_structure_hook_func(_is_enum, _structure_enum)
        c.register_unstructure_hook_factory(attrs.has, lambda cls: self.unstructure_fn(cls))
        c.register_structure_hook_factory(attrs.has, lambda cls: self.structure_fn(cls))
        self.cattrs = c

    def _overrides(self, cls: type, ttl_field: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for a in attrs.fields(cls):
            if a.name == ttl_field:
                # a datetime TTL field holds a datetime: a number in it would be stored and read back as 1970
                unstruct = _ttl_datetime_unstructure if _declared(cls, a) is dt.datetime else _ttl_unstructure
                out[a.name] = override(unstruct_hook=unstruct, struct_hook=self._ttl_structure_hook(cls, a))
            elif is_epoch_field(a):
                out[a.name] = override(unstruct_hook=_epoch_unstructure, struct_hook=_epoch_structure)
        return out

    def _ttl_structure_hook(self, cls: type, a: attrs.Attribute) -> Callable[[Any, Any], Any]:  # type: ignore[type-arg]
        inner = _declared(cls, a)
        if inner is dt.datetime:
            return _epoch_structure
        return lambda v, _: None if v is None else self.cattrs.structure(v, inner)

    def unstructure_fn(self, cls: type, ttl_field: str | None = None) -> Callable[[Any], dict[str, Any]]:
        """The function turning one ``cls`` instance into a map (absent for None and empty sets)."""
        fn: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, self.cattrs, **self._overrides(cls, ttl_field))

        def unstructure(obj: Any) -> dict[str, Any]:
            return _drop_absent(fn(obj))

        return unstructure

    def structure_fn(self, cls: type, ttl_field: str | None = None) -> Callable[[Mapping[str, Any], Any], Any]:
        """The function building one ``cls`` instance from a map (missing Optional -> None, set -> empty)."""
        fn: Callable[[Mapping[str, Any], Any], Any] = make_dict_structure_fn(cls, self.cattrs, **self._overrides(cls, ttl_field))
        plan = _plan(cls)

        def structure(data: Mapping[str, Any], _: Any) -> Any:
            if not isinstance(data, Mapping):
                raise EntityDecodeError(f"{cls.__name__} is stored as a map, found {type(data).__name__}")
            d = dict(data)
            for name in plan.optional:
                d.setdefault(name, None)
            for name, kind in plan.sets:
                d.setdefault(name, kind())
            try:
                return fn(d, cls)
            except EntityDecodeError:
                raise
            except (KeyError, TypeError, ValueError) as e:
                raise EntityDecodeError(f"cannot read {cls.__name__}: {type(e).__name__}: {e}") from None

        return structure

    def unstructure_value(self, value: Any, t: Any = None) -> Any:
        """One field value as the port stores it (for key templates and conditions), as its field's type ``t``
        where given (a bytearray in a ``bytes`` field is its bytes; without ``t`` the value's own type decides)."""
        return self.cattrs.unstructure(value) if t is None else self.cattrs.unstructure(value, unstructure_as=t)

    def structure_value(self, value: Any, t: Any) -> Any:
        """A stored value as type ``t`` (strict)."""
        return self.cattrs.structure(value, t)
