"""CreateTable parameters to a :class:`TableSpec`, and a spec to DynamoDB's ``TableDescription``.

The spec's own constructor validates names, types and index limits; this
module checks only what exists on the wire and not in a spec: that
``AttributeDefinitions`` and ``KeySchema`` agree.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from storeswap.core.errors import ValidationError
from storeswap.core.schema import GlobalIndex, KeyAttribute, LocalIndex, Projection, TableSpec

__all__ = ["spec_from_create", "describe", "table_arn", "ACCOUNT", "TableClock"]

#: The account id in ARNs (DynamoDB Local and moto use the same placeholder shape).
ACCOUNT = "000000000000"
_INVALID = "One or more parameter values were invalid: "


class TableClock:
    """Creation times of the tables this gateway created (the port keeps none); others get the server's start."""

    def __init__(self) -> None:
        self.started = time.time()
        self.created: dict[str, float] = {}

    def created_at(self, name: str) -> float:
        """Epoch seconds of the table's creation, as far as this gateway knows."""
        return self.created.get(name, self.started)


def table_arn(region: str, name: str) -> str:
    """The table's ARN."""
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"


def _list(params: Mapping[str, Any], name: str) -> list[Any]:
    value = params.get(name) or []
    if not isinstance(value, list):
        raise ValidationError(f"{name} must be a list")
    return value


def _keys(schema: Any, types: Mapping[str, str], where: str) -> tuple[KeyAttribute, KeyAttribute | None]:
    if not isinstance(schema, list) or not 1 <= len(schema) <= 2:
        raise ValidationError(f"{_INVALID}{where}: a KeySchema has one HASH and at most one RANGE element")
    hash_key: KeyAttribute | None = None
    range_key: KeyAttribute | None = None
    for element in schema:
        if not isinstance(element, dict):
            raise ValidationError(f"{where}: KeySchema elements are objects")
        name, kind = str(element.get("AttributeName")), element.get("KeyType")
        if name not in types:
            raise ValidationError(
                f"{_INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [{name}]"
            )
        attr = KeyAttribute(name, types[name])  # type: ignore[arg-type]
        if kind == "HASH" and hash_key is None:
            hash_key = attr
        elif kind == "RANGE" and range_key is None:
            range_key = attr
        else:
            raise ValidationError(f"{_INVALID}{where}: invalid KeySchema (one HASH key, then at most one RANGE key)")
    if hash_key is None:
        raise ValidationError(f"{_INVALID}{where}: the KeySchema has no HASH key")
    return hash_key, range_key


def _projection(raw: Any) -> Projection:
    if not isinstance(raw, dict):
        raise ValidationError(f"{_INVALID}an index needs a Projection")
    kind = raw.get("ProjectionType", "ALL")
    include = raw.get("NonKeyAttributes") or ()
    return Projection(kind, tuple(include))


def spec_from_create(params: Mapping[str, Any]) -> TableSpec:
    """The :class:`TableSpec` a CreateTable request asks for (ValidationError on inconsistent input)."""
    name = params.get("TableName")
    types: dict[str, str] = {}
    for d in _list(params, "AttributeDefinitions"):
        if not isinstance(d, dict) or d.get("AttributeType") not in ("S", "N", "B"):
            raise ValidationError(f"{_INVALID}AttributeDefinitions name S, N or B attributes")
        types[str(d.get("AttributeName"))] = d["AttributeType"]
    pk, sk = _keys(params.get("KeySchema"), types, "table")
    globals_ = []
    for g in _list(params, "GlobalSecondaryIndexes"):
        gpk, gsk = _keys(g.get("KeySchema"), types, f"index {g.get('IndexName')}")
        globals_.append(GlobalIndex(g.get("IndexName"), gpk, gsk, _projection(g.get("Projection"))))
    locals_ = []
    for i in _list(params, "LocalSecondaryIndexes"):
        lpk, lsk = _keys(i.get("KeySchema"), types, f"index {i.get('IndexName')}")
        if lpk != pk or lsk is None:
            raise ValidationError(
                f"{_INVALID}Local secondary index {i.get('IndexName')} must have the table's hash key and a range key"
            )
        locals_.append(LocalIndex(i.get("IndexName"), lsk, _projection(i.get("Projection"))))
    used = {a.name for a in (pk, sk) if a is not None}
    for g in globals_:
        used.update(a.name for a in (g.partition_key, g.sort_key) if a is not None)
    for i in locals_:
        used.add(i.sort_key.name)
    unused = sorted(set(types) - used)
    if unused:
        raise ValidationError(
            f"{_INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined "
            f"in AttributeDefinitions (unused: {', '.join(map(str, unused))})"
        )
    stream = None
    spec_raw = params.get("StreamSpecification")
    if isinstance(spec_raw, dict) and spec_raw.get("StreamEnabled"):
        stream = spec_raw.get("StreamViewType")
        if stream is None:
            raise ValidationError(f"{_INVALID}StreamViewType is required when StreamEnabled is true")
    return TableSpec(
        name=name,  # type: ignore[arg-type]
        partition_key=pk,
        sort_key=sk,
        global_indexes=tuple(globals_),
        local_indexes=tuple(locals_),
        stream=stream,
    )


def _key_schema(pk: KeyAttribute, sk: KeyAttribute | None) -> list[dict[str, str]]:
    out = [{"AttributeName": pk.name, "KeyType": "HASH"}]
    if sk is not None:
        out.append({"AttributeName": sk.name, "KeyType": "RANGE"})
    return out


def _projection_out(p: Projection) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": p.type}
    if p.type == "INCLUDE":
        out["NonKeyAttributes"] = list(p.include)
    return out


_NO_THROUGHPUT = {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}


def describe(
    spec: TableSpec,
    *,
    region: str,
    created: float,
    item_count: int,
    size_bytes: int,
    status: str = "ACTIVE",
    index_counts: Mapping[str, tuple[int, int]] | None = None,
    stream: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """DynamoDB's ``TableDescription`` of ``spec``; ``stream`` is the latest stream's (ARN, label), if any.

    As on DynamoDB, a disabled stream keeps its LatestStreamArn (its records
    stay readable); StreamSpecification appears while one is enabled.
    """
    arn = table_arn(region, spec.name)
    types: dict[str, str] = {}
    for attr in spec.key_attributes():
        types.setdefault(attr.name, attr.type)
    counts = index_counts or {}
    out: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in types.items()],
        "TableName": spec.name,
        "KeySchema": _key_schema(spec.partition_key, spec.sort_key),
        "TableStatus": status,
        "CreationDateTime": created,
        "ProvisionedThroughput": dict(_NO_THROUGHPUT),
        "TableSizeBytes": size_bytes,
        "ItemCount": item_count,
        "TableArn": arn,
        "TableId": _table_id(spec.name, created),
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": created},
        "DeletionProtectionEnabled": False,
    }
    if spec.global_indexes:
        out["GlobalSecondaryIndexes"] = [
            {
                "IndexName": g.name,
                "KeySchema": _key_schema(g.partition_key, g.sort_key),
                "Projection": _projection_out(g.projection),
                "IndexStatus": "ACTIVE",
                "ProvisionedThroughput": dict(_NO_THROUGHPUT),
                "IndexSizeBytes": counts.get(g.name, (0, 0))[1],
                "ItemCount": counts.get(g.name, (0, 0))[0],
                "IndexArn": f"{arn}/index/{g.name}",
            }
            for g in spec.global_indexes
        ]
    if spec.local_indexes:
        out["LocalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": _key_schema(spec.partition_key, i.sort_key),
                "Projection": _projection_out(i.projection),
                "IndexSizeBytes": counts.get(i.name, (0, 0))[1],
                "ItemCount": counts.get(i.name, (0, 0))[0],
                "IndexArn": f"{arn}/index/{i.name}",
            }
            for i in spec.local_indexes
        ]
    if spec.stream is not None:
        out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
    if stream is not None:
        out["LatestStreamArn"], out["LatestStreamLabel"] = stream
    return out


def _table_id(name: str, created: float) -> str:
    h = hashlib.sha256(f"{name}:{created}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
