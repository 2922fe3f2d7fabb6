"""Table specifications: keys, secondary indexes, TTL and change streams.

A :class:`TableSpec` is what ``create_table`` takes and ``describe_table``
returns; it is validated against DynamoDB's naming rules and index limits on
construction, so an invalid spec never reaches a store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any, Literal

from attrs import define, field

from storeswap.core.errors import ValidationError

__all__ = [
    "KeyType",
    "KeyAttribute",
    "IndexProjection",
    "Projection",
    "GlobalIndex",
    "LocalIndex",
    "TableSpec",
    "StreamView",
    "validate_table_name",
    "validate_index_name",
    "MAX_GLOBAL_INDEXES",
]

KeyType = Literal["S", "N", "B"]
StreamView = Literal["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]
ProjectionType = Literal["ALL", "KEYS_ONLY", "INCLUDE"]

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{3,255}$")
_INDEX_NAME = re.compile(r"^[A-Za-z0-9_.\-]{3,255}$")
MAX_GLOBAL_INDEXES = 20
MAX_LOCAL_INDEXES = 5
MAX_INCLUDE_ATTRIBUTES = 100


def validate_table_name(name: object) -> str:
    """Return ``name`` when it is a legal DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)."""
    if not isinstance(name, str) or not _TABLE_NAME.match(name):
        raise ValidationError(
            f"invalid table name {name!r}: 3 to 255 characters of A-Z, a-z, 0-9, '_', '.' and '-'"
        )
    return name


def validate_index_name(name: object) -> str:
    """Return ``name`` when it is a legal index name (same rules as tables)."""
    if not isinstance(name, str) or not _INDEX_NAME.match(name):
        raise ValidationError(
            f"invalid index name {name!r}: 3 to 255 characters of A-Z, a-z, 0-9, '_', '.' and '-'"
        )
    return name


def _check_key_type(instance: Any, attribute: Any, value: str) -> None:
    if value not in ("S", "N", "B"):
        raise ValidationError(f"key attribute type must be S, N or B, not {value!r}")


def _check_attr_name(instance: Any, attribute: Any, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValidationError("key attribute names must be non-empty strings")
    if len(value.encode("utf-8", "surrogatepass")) > 255:
        raise ValidationError(f"key attribute name {value[:20]!r}... is longer than 255 bytes")


@define(frozen=True, slots=True)
class KeyAttribute:
    """A key attribute: its name and scalar type (S, N or B)."""

    name: str = field(validator=_check_attr_name)
    type: KeyType = field(default="S", validator=_check_key_type)


@define(frozen=True, slots=True)
class IndexProjection:
    """Which attributes an index holds: ALL, KEYS_ONLY, or INCLUDE the named non-key attributes."""

    type: ProjectionType = "ALL"
    include: tuple[str, ...] = field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.type not in ("ALL", "KEYS_ONLY", "INCLUDE"):
            raise ValidationError(f"projection type must be ALL, KEYS_ONLY or INCLUDE, not {self.type!r}")
        if self.type != "INCLUDE" and self.include:
            raise ValidationError("only an INCLUDE projection names attributes")
        if self.type == "INCLUDE" and not self.include:
            raise ValidationError("an INCLUDE projection must name at least one attribute")
        if len(self.include) > MAX_INCLUDE_ATTRIBUTES:
            raise ValidationError(f"an INCLUDE projection names at most {MAX_INCLUDE_ATTRIBUTES} attributes")


#: The old name of :class:`IndexProjection`, kept importable for one release (0.2); it collided with the
#: expression AST's ``Projection`` (a ProjectionExpression).
Projection = IndexProjection


@define(frozen=True, slots=True)
class GlobalIndex:
    """A global secondary index: its own partition key and optional sort key."""

    name: str = field(validator=lambda i, a, v: validate_index_name(v))
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: IndexProjection = IndexProjection()


@define(frozen=True, slots=True)
class LocalIndex:
    """A local secondary index: the table's partition key with another sort key."""

    name: str = field(validator=lambda i, a, v: validate_index_name(v))
    sort_key: KeyAttribute
    projection: IndexProjection = IndexProjection()


def _global_tuple(value: Iterable[GlobalIndex]) -> tuple[GlobalIndex, ...]:
    return tuple(value)


def _local_tuple(value: Iterable[LocalIndex]) -> tuple[LocalIndex, ...]:
    return tuple(value)


@define(frozen=True, slots=True)
class IndexKeys:
    """The resolved key schema of a table or index (partition key, optional sort key)."""

    name: str | None
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    projection: IndexProjection
    is_global: bool

    @property
    def key_names(self) -> tuple[str, ...]:
        """Names of this schema's key attributes, partition first."""
        if self.sort_key is None:
            return (self.partition_key.name,)
        return (self.partition_key.name, self.sort_key.name)


@define(frozen=True, slots=False)
class TableSpec:
    """A table: name, keys, secondary indexes, TTL attribute and change stream.

    Construction validates the spec: names, key types, index limits (20
    global, 5 local), no clash between an attribute's types across indexes.
    """

    name: str = field(validator=lambda i, a, v: validate_table_name(v))
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    global_indexes: tuple[GlobalIndex, ...] = field(default=(), converter=_global_tuple)
    local_indexes: tuple[LocalIndex, ...] = field(default=(), converter=_local_tuple)
    ttl_attribute: str | None = None
    stream: StreamView | None = None

    def __attrs_post_init__(self) -> None:
        if len(self.global_indexes) > MAX_GLOBAL_INDEXES:
            raise ValidationError(f"a table has at most {MAX_GLOBAL_INDEXES} global secondary indexes")
        if len(self.local_indexes) > MAX_LOCAL_INDEXES:
            raise ValidationError(f"a table has at most {MAX_LOCAL_INDEXES} local secondary indexes")
        if self.local_indexes and self.sort_key is None:
            raise ValidationError("local secondary indexes need a table with a sort key")
        names = [i.name for i in self.global_indexes] + [i.name for i in self.local_indexes]
        if len(set(names)) != len(names):
            raise ValidationError("index names must be unique within a table")
        if self.sort_key is not None and self.sort_key.name == self.partition_key.name:
            raise ValidationError("the sort key must differ from the partition key")
        types: dict[str, str] = {}
        for attr in self.key_attributes():
            if types.setdefault(attr.name, attr.type) != attr.type:
                raise ValidationError(f"attribute {attr.name!r} is declared with two types")
        for g in self.global_indexes:
            if g.sort_key is not None and g.sort_key.name == g.partition_key.name:
                raise ValidationError(f"index {g.name}: the sort key must differ from the partition key")
        if self.stream not in (None, "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            raise ValidationError(f"unknown stream view type {self.stream!r}")
        if self.ttl_attribute is not None and (not isinstance(self.ttl_attribute, str) or not self.ttl_attribute):
            raise ValidationError("the TTL attribute must be a non-empty name")

    def key_attributes(self) -> list[KeyAttribute]:
        """Every key attribute of the table and its indexes (with repeats)."""
        out = [self.partition_key]
        if self.sort_key is not None:
            out.append(self.sort_key)
        for g in self.global_indexes:
            out.append(g.partition_key)
            if g.sort_key is not None:
                out.append(g.sort_key)
        for local in self.local_indexes:
            out.append(local.sort_key)
        return out

    @property
    def key_names(self) -> tuple[str, ...]:
        """The table's own key attribute names, partition key first."""
        if self.sort_key is None:
            return (self.partition_key.name,)
        return (self.partition_key.name, self.sort_key.name)

    def table_keys(self) -> IndexKeys:
        """The table's own key schema as an :class:`IndexKeys`."""
        return IndexKeys(None, self.partition_key, self.sort_key, IndexProjection("ALL"), False)

    def index(self, name: str | None) -> IndexKeys:
        """The key schema of index ``name`` (or of the table for ``None``); unknown names are a ValidationError."""
        if name is None:
            return self.table_keys()
        for g in self.global_indexes:
            if g.name == name:
                return IndexKeys(g.name, g.partition_key, g.sort_key, g.projection, True)
        for local in self.local_indexes:
            if local.name == name:
                return IndexKeys(local.name, self.partition_key, local.sort_key, local.projection, False)
        raise ValidationError(f"table {self.name} has no index named {name!r}")

    def indexes(self) -> list[IndexKeys]:
        """Every secondary index's key schema."""
        return list(self._indexes)

    @cached_property
    def _indexes(self) -> tuple[IndexKeys, ...]:
        # Computed once: writes check index keys on every put.
        names = [g.name for g in self.global_indexes] + [i.name for i in self.local_indexes]
        return tuple(self.index(name) for name in names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (for catalogs and reports)."""

        def key(k: KeyAttribute | None) -> dict[str, str] | None:
            return None if k is None else {"name": k.name, "type": k.type}

        def proj(p: IndexProjection) -> dict[str, Any]:
            return {"type": p.type, "include": list(p.include)}

        return {
            "name": self.name,
            "partition_key": key(self.partition_key),
            "sort_key": key(self.sort_key),
            "global_indexes": [
                {"name": g.name, "partition_key": key(g.partition_key), "sort_key": key(g.sort_key),
                 "projection": proj(g.projection)}
                for g in self.global_indexes
            ],
            "local_indexes": [
                {"name": i.name, "sort_key": key(i.sort_key), "projection": proj(i.projection)}
                for i in self.local_indexes
            ],
            "ttl_attribute": self.ttl_attribute,
            "stream": self.stream,
        }

    @classmethod
    def from_describe(
        cls, table: Mapping[str, Any], ttl: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> TableSpec:
        """A spec from DynamoDB's DescribeTable answer (the response or its ``Table``).

        ``ttl`` is DescribeTimeToLive's ``TimeToLiveDescription`` (the TTL
        attribute counts while ENABLED or ENABLING); ``name`` renames the
        table.  A description without a partition key, or not shaped as
        DynamoDB writes it, is a :class:`ValidationError`.
        """
        if "Table" in table and "KeySchema" not in table:
            table = table["Table"]
        try:
            return _spec_from_describe(cls, table, ttl or {}, name)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValidationError(f"not a DescribeTable description: {type(e).__name__} {e}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSpec:
        """Inverse of :meth:`to_dict`; what is not shaped as it writes is a :class:`ValidationError`."""
        try:
            return cls._from_dict(data)
        except (KeyError, TypeError, AttributeError) as e:
            raise ValidationError(f"not a table spec: {type(e).__name__} {e}") from None

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any]) -> TableSpec:
        def key(d: Mapping[str, str] | None) -> KeyAttribute | None:
            return None if d is None else KeyAttribute(d["name"], d["type"])  # type: ignore[arg-type]

        def proj(d: Mapping[str, Any]) -> IndexProjection:
            return IndexProjection(d["type"], tuple(d.get("include", ())))

        pk = key(data["partition_key"])
        if pk is None:
            raise ValidationError("not a table spec: no partition_key")
        return cls(
            name=data["name"],
            partition_key=pk,
            sort_key=key(data.get("sort_key")),
            global_indexes=tuple(
                GlobalIndex(g["name"], key(g["partition_key"]), key(g.get("sort_key")), proj(g["projection"]))  # type: ignore[arg-type]
                for g in data.get("global_indexes", ())
            ),
            local_indexes=tuple(
                LocalIndex(i["name"], key(i["sort_key"]), proj(i["projection"]))  # type: ignore[arg-type]
                for i in data.get("local_indexes", ())
            ),
            ttl_attribute=data.get("ttl_attribute"),
            stream=data.get("stream"),
        )


def _describe_keys(
    schema: Iterable[Mapping[str, str]], types: Mapping[str, str]
) -> tuple[KeyAttribute | None, KeyAttribute | None]:
    pk: KeyAttribute | None = None
    sk: KeyAttribute | None = None
    for element in schema:
        attr = KeyAttribute(element["AttributeName"], types[element["AttributeName"]])  # type: ignore[arg-type]
        if element["KeyType"] == "HASH":
            pk = attr
        else:
            sk = attr
    return pk, sk


def _describe_projection(p: Mapping[str, Any] | None) -> IndexProjection:
    if not p:
        return IndexProjection("ALL")
    kind = p.get("ProjectionType", "ALL")
    return IndexProjection(kind, tuple(p.get("NonKeyAttributes", ())) if kind == "INCLUDE" else ())


def _spec_from_describe(
    cls: type[TableSpec], table: Mapping[str, Any], ttl: Mapping[str, Any], name: str | None
) -> TableSpec:
    types = {d["AttributeName"]: d["AttributeType"] for d in table.get("AttributeDefinitions", ())}
    pk, sk = _describe_keys(table["KeySchema"], types)
    if pk is None:
        raise ValidationError("the table description has no partition (HASH) key")
    globals_: list[GlobalIndex] = []
    for g in table.get("GlobalSecondaryIndexes", ()) or ():
        gpk, gsk = _describe_keys(g["KeySchema"], types)
        if gpk is None:
            raise ValidationError(f"index {g.get('IndexName')!r} of the description has no partition (HASH) key")
        globals_.append(GlobalIndex(g["IndexName"], gpk, gsk, _describe_projection(g.get("Projection"))))
    locals_: list[LocalIndex] = []
    for i in table.get("LocalSecondaryIndexes", ()) or ():
        _, lsk = _describe_keys(i["KeySchema"], types)
        if lsk is None:
            raise ValidationError(f"local index {i.get('IndexName')!r} of the description has no sort (RANGE) key")
        locals_.append(LocalIndex(i["IndexName"], lsk, _describe_projection(i.get("Projection"))))
    stream_spec = table.get("StreamSpecification") or {}
    stream = stream_spec.get("StreamViewType") if stream_spec.get("StreamEnabled") else None
    ttl_attribute = ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") else None
    return cls(
        name=table["TableName"] if name is None else name,
        partition_key=pk,
        sort_key=sk,
        global_indexes=tuple(globals_),
        local_indexes=tuple(locals_),
        ttl_attribute=ttl_attribute,
        stream=stream,
    )
