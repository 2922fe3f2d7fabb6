"""The DynamoDB operations, each a translation of one wire request into port calls.

Every handler takes the decoded JSON body and returns the JSON response
body; errors are port errors (or :class:`ApiError`) and become DynamoDB's
error shapes in :mod:`storeswap.gateway.errors`.  Validation, expression
parsing and evaluation stay in the port and in
:mod:`storeswap.core.expressions`; the handlers add only what is a matter
of the wire: legacy parameters, DynamoDB's page rules for ``Query`` and
``Scan`` (``Limit`` counts *evaluated* items, pages stop at 1 MB,
``LastEvaluatedKey`` instead of a cursor), ``UnprocessedItems``, consumed
capacity and item-collection metrics.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from storeswap.core.errors import ConditionFailed, TableNotFound, Throttled, ValidationError
from storeswap.core.expressions import compile_expressions, condition_names, evaluate, project
from storeswap.core.expressions.ast import AttributeNotExists, Path, Projection
from storeswap.core.keys import encode_cursor
from storeswap.core.port import (
    BatchDelete,
    BatchPut,
    ItemStore,
    TxAction,
    TxCheck,
    TxDelete,
    TxGet,
    TxPut,
    TxUpdate,
)
from storeswap.core.schema import IndexKeys, TableSpec
from storeswap.core.values import item_size, normalize_value
from storeswap.gateway.errors import ApiError
from storeswap.gateway.legacy import (
    attribute_updates,
    expected_condition,
    filter_conditions,
    key_conditions,
    projection_from_attributes,
    refuse_mixing,
)
from storeswap.gateway.streams import StreamOperations, stream_arn_of, stream_label_of
from storeswap.gateway.tables import TableClock, describe, spec_from_create
from storeswap.gateway.wire import decode_item, decode_value, encode_item

__all__ = ["Operations", "MAX_PAGE_BYTES", "COUNT_LIMIT", "ITEM_OPERATIONS"]

#: A Query or Scan page stops after this many bytes of evaluated items (DynamoDB's 1 MB).
MAX_PAGE_BYTES = 1024 * 1024
#: Items the gateway reads per port call while assembling one DynamoDB page.
_CHUNK = 1000
#: DescribeTable counts at most this many items per table or index (DynamoDB's own count is hours old).
COUNT_LIMIT = 20_000
_INVALID = "One or more parameter values were invalid: "

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _required(body: Mapping[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None:
        raise ValidationError(
            f"1 validation error detected: Value null at '{name[0].lower()}{name[1:]}' "
            "failed to satisfy constraint: Member must not be null"
        )
    return value


def _table(body: Mapping[str, Any]) -> str:
    name = _required(body, "TableName")
    if not isinstance(name, str):
        raise ValidationError("TableName must be a string")
    return name


def _values(body: Mapping[str, Any]) -> dict[str, Any] | None:
    raw = body.get("ExpressionAttributeValues")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError("ExpressionAttributeValues must be a map")
    if not raw:
        raise ValidationError("ExpressionAttributeValues can not be empty")
    return {k: decode_value(v, k) for k, v in raw.items()}


def _names(body: Mapping[str, Any]) -> dict[str, str] | None:
    raw = body.get("ExpressionAttributeNames")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationError("ExpressionAttributeNames must be a map")
    if not raw:
        raise ValidationError("ExpressionAttributeNames can not be empty")
    return raw


def _projection(body: Mapping[str, Any]) -> str | Projection | None:
    refuse_mixing(body, ("AttributesToGet",), ("ProjectionExpression",))
    if body.get("AttributesToGet") is not None:
        return projection_from_attributes(body["AttributesToGet"])
    pe = body.get("ProjectionExpression")
    if pe is not None and not isinstance(pe, str):
        raise ValidationError("ProjectionExpression must be a string")
    return pe


def _condition(body: Mapping[str, Any]) -> Any:
    refuse_mixing(body, ("Expected", "ConditionalOperator"), ("ConditionExpression",))
    if body.get("Expected") is not None or body.get("ConditionalOperator") is not None:
        return expected_condition(body.get("Expected"), body.get("ConditionalOperator"))
    return body.get("ConditionExpression")


def _return_old(body: Mapping[str, Any]) -> bool:
    value = body.get("ReturnValuesOnConditionCheckFailure", "NONE")
    if value not in ("NONE", "ALL_OLD"):
        raise ValidationError(f"{_INVALID}ReturnValuesOnConditionCheckFailure is NONE or ALL_OLD, not {value!r}")
    return bool(value == "ALL_OLD")


def _limit(body: Mapping[str, Any]) -> int | None:
    limit = body.get("Limit")
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValidationError(
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1"
        )
    return limit


def _units(size: int, per: int, factor: float) -> float:
    return max(1, math.ceil(size / per)) * factor


class _Capacity:
    """ReturnConsumedCapacity for one request: per-table totals, plus per-index with INDEXES."""

    def __init__(self, mode: Any) -> None:
        if mode not in (None, "NONE", "TOTAL", "INDEXES"):
            raise ValidationError(f"{_INVALID}ReturnConsumedCapacity is INDEXES, TOTAL or NONE, not {mode!r}")
        self.mode = mode if mode in ("TOTAL", "INDEXES") else None
        self.tables: dict[str, dict[str, Any]] = {}

    def add(self, table: str, units: float, *, read: bool, index: IndexKeys | None = None) -> None:
        if self.mode is None:
            return
        entry = self.tables.setdefault(table, {"TableName": table, "CapacityUnits": 0.0})
        entry["CapacityUnits"] += units
        kind = "ReadCapacityUnits" if read else "WriteCapacityUnits"
        entry[kind] = entry.get(kind, 0.0) + units
        if self.mode != "INDEXES":
            return
        if index is None or index.name is None:
            part = entry.setdefault("Table", {"CapacityUnits": 0.0})
        else:
            group = entry.setdefault("GlobalSecondaryIndexes" if index.is_global else "LocalSecondaryIndexes", {})
            part = group.setdefault(index.name, {"CapacityUnits": 0.0})
        part["CapacityUnits"] += units
        part[kind] = part.get(kind, 0.0) + units

    def one(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.mode is not None and self.tables:
            out["ConsumedCapacity"] = next(iter(self.tables.values()))
        return out

    def many(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.mode is not None:
            out["ConsumedCapacity"] = list(self.tables.values())
        return out


def _read_units(size: int, consistent: bool) -> float:
    return _units(size, 4096, 1.0 if consistent else 0.5)


def _write_units(size: int) -> float:
    return _units(size, 1024, 1.0)


def _metrics_mode(mode: Any) -> str | None:
    """ReturnItemCollectionMetrics, checked (before any write: a bad value must leave the table untouched)."""
    if mode not in (None, "NONE", "SIZE"):
        raise ValidationError(f"{_INVALID}ReturnItemCollectionMetrics is SIZE or NONE, not {mode!r}")
    return "SIZE" if mode == "SIZE" else None


def _collection_metrics(mode: str | None, spec: TableSpec, key: Mapping[str, Any]) -> dict[str, Any] | None:
    """The metrics of one written key, for a mode :func:`_metrics_mode` checked."""
    # DynamoDB reports item collections only for tables with local secondary indexes.
    if mode != "SIZE" or not spec.local_indexes:
        return None
    pk = spec.partition_key.name
    return {"ItemCollectionKey": encode_item({pk: key[pk]}), "SizeEstimateRangeGB": [0.0, 1.0]}


#: The operations on items: what a store's loop calls serve (decision 0038).  Table, TTL and stream operations
#: (DDL, which waits for table locks that a suspended call may hold) run on store threads.
ITEM_OPERATIONS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
})


class Operations:
    """The DynamoDB API over one :class:`ItemStore` (``handlers`` maps operation names to handlers)."""

    def __init__(self, store: ItemStore, *, region: str = "us-east-1") -> None:
        self.store = store
        self.region = region
        self.clock = TableClock()
        self._meta_lock = threading.Lock()
        #: The Streams API (``DynamoDBStreams_20120810.*``) over the same store.
        self.streams = StreamOperations(store, region=region)
        self.handlers: dict[str, Handler] = {
            "CreateTable": self.create_table,
            "DescribeTable": self.describe_table,
            "DeleteTable": self.delete_table,
            "ListTables": self.list_tables,
            "UpdateTable": self.update_table,
            "DescribeTimeToLive": self.describe_time_to_live,
            "UpdateTimeToLive": self.update_time_to_live,
            "DescribeEndpoints": self.describe_endpoints,
            "GetItem": self.get_item,
            "PutItem": self.put_item,
            "UpdateItem": self.update_item,
            "DeleteItem": self.delete_item,
            "Query": self.query,
            "Scan": self.scan,
            "BatchGetItem": self.batch_get_item,
            "BatchWriteItem": self.batch_write_item,
            "TransactGetItems": self.transact_get_items,
            "TransactWriteItems": self.transact_write_items,
        }

    # ------------------------------------------------------------------ tables

    def _description(self, spec: TableSpec, status: str = "ACTIVE", *, count: bool = True) -> dict[str, Any]:
        item_count = size = 0
        index_counts: dict[str, tuple[int, int]] = {}
        if count:
            item_count, size = self._count(spec.name, None)
            for index in spec.indexes():
                assert index.name is not None
                index_counts[index.name] = self._count(spec.name, index.name)
        latest = self.streams.latest(spec.name)
        stream = None if latest is None else (
            stream_arn_of(self.region, spec.name, latest.id), stream_label_of(latest.id)
        )
        return describe(
            spec, region=self.region, created=self.clock.created_at(spec.name), item_count=item_count,
            size_bytes=size, status=status, index_counts=index_counts, stream=stream,
        )

    def _count(self, table: str, index: str | None) -> tuple[int, int]:
        count = size = 0
        cursor = None
        while count < COUNT_LIMIT:
            page = self.store.scan(table, index=index, limit=_CHUNK, cursor=cursor)
            count += len(page.items)
            size += sum(item_size(i) for i in page.items)
            cursor = page.cursor
            if cursor is None:
                break
        return count, size

    def create_table(self, body: dict[str, Any]) -> dict[str, Any]:
        """CreateTable: the table is ACTIVE as soon as the call returns."""
        spec = spec_from_create(body)
        mode = body.get("BillingMode", "PROVISIONED")
        if mode not in ("PROVISIONED", "PAY_PER_REQUEST"):
            raise ValidationError(f"{_INVALID}BillingMode is PROVISIONED or PAY_PER_REQUEST, not {mode!r}")
        if mode == "PROVISIONED" and not body.get("ProvisionedThroughput"):
            raise ValidationError(
                f"{_INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
            )
        self.store.create_table(spec)
        with self._meta_lock:
            self.clock.created[spec.name] = time.time()
        return {"TableDescription": self._description(spec, count=False)}

    def describe_table(self, body: dict[str, Any]) -> dict[str, Any]:
        """DescribeTable, with item counts from the store (up to :data:`COUNT_LIMIT`)."""
        spec = self.store.describe_table(_table(body))
        return {"Table": self._description(spec)}

    def delete_table(self, body: dict[str, Any]) -> dict[str, Any]:
        """DeleteTable: the table is gone when the call returns; the description says DELETING, as DynamoDB's does."""
        name = _table(body)
        spec = self.store.describe_table(name)
        self.store.delete_table(name)
        return {"TableDescription": self._description(spec, "DELETING", count=False)}

    def list_tables(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListTables with ExclusiveStartTableName / Limit paging."""
        limit = body.get("Limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise ValidationError(f"{_INVALID}Limit for ListTables is 1 to 100")
        names = self.store.list_tables()
        start = body.get("ExclusiveStartTableName")
        if start is not None:
            if not isinstance(start, str):
                raise ValidationError("ExclusiveStartTableName must be a string")
            names = [n for n in names if n > start]
        out: dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out

    def update_table(self, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateTable: StreamSpecification through the port's ``set_stream``, and what alters nothing stored.

        Billing mode and throughput are accepted (the store has no capacity to
        change); index, replica and key changes are refused, since the port
        cannot alter them on an existing table.
        """
        name = _table(body)
        spec = self.store.describe_table(name)
        refused = [p for p in ("GlobalSecondaryIndexUpdates", "ReplicaUpdates", "AttributeDefinitions") if body.get(p)]
        if refused:
            raise ValidationError(
                f"UpdateTable cannot change {', '.join(refused)} on this store: the storeswap port does not alter "
                "existing tables (create a new table and migrate)"
            )
        stream = body.get("StreamSpecification")
        if stream is not None:
            if not isinstance(stream, dict) or not isinstance(stream.get("StreamEnabled"), bool):
                raise ValidationError(f"{_INVALID}StreamSpecification needs StreamEnabled")
            if stream["StreamEnabled"]:
                view = stream.get("StreamViewType")
                if view is None:
                    raise ValidationError(f"{_INVALID}StreamViewType is required when StreamEnabled is true")
                spec = self.store.set_stream(name, view)
            elif "StreamViewType" in stream:
                raise ValidationError(f"{_INVALID}StreamViewType cannot be given when StreamEnabled is false")
            else:
                spec = self.store.set_stream(name, None)
        return {"TableDescription": self._description(spec)}

    def describe_time_to_live(self, body: dict[str, Any]) -> dict[str, Any]:
        """DescribeTimeToLive from the spec's TTL attribute."""
        spec = self.store.describe_table(_table(body))
        if spec.ttl_attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": spec.ttl_attribute}}

    def update_time_to_live(self, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateTimeToLive through the port's ``set_ttl``: on any table, items stay where they are."""
        name = _table(body)
        ttl = _required(body, "TimeToLiveSpecification")
        if not isinstance(ttl, dict) or not isinstance(ttl.get("Enabled"), bool) or not ttl.get("AttributeName"):
            raise ValidationError(f"{_INVALID}TimeToLiveSpecification needs Enabled and AttributeName")
        spec = self.store.describe_table(name)
        enabled, attribute = ttl["Enabled"], ttl["AttributeName"]
        if enabled and spec.ttl_attribute is not None:
            raise ValidationError("TimeToLive is already enabled")
        if not enabled and spec.ttl_attribute is None:
            raise ValidationError("TimeToLive is already disabled")
        if not enabled and attribute != spec.ttl_attribute:
            raise ValidationError(f"{_INVALID}TimeToLive is enabled on attribute {spec.ttl_attribute}, not {attribute}")
        self.store.set_ttl(name, attribute if enabled else None)
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}

    def describe_endpoints(self, body: dict[str, Any]) -> dict[str, Any]:
        """DescribeEndpoints (endpoint discovery): this gateway, for a day."""
        return {"Endpoints": [{"Address": f"dynamodb.{self.region}.amazonaws.com", "CachePeriodInMinutes": 1440}]}

    # ------------------------------------------------------------------- items

    def get_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """GetItem."""
        table = _table(body)
        capacity = _Capacity(body.get("ReturnConsumedCapacity"))
        consistent = bool(body.get("ConsistentRead", False))
        item = self.store.get(
            table, decode_item(_required(body, "Key"), "Key"), projection=_projection(body),
            names=_names(body), consistent=consistent,
        )
        out: dict[str, Any] = {} if item is None else {"Item": encode_item(item)}
        if capacity.mode is not None:
            capacity.add(table, _read_units(0 if item is None else item_size(item), consistent), read=True)
        return capacity.one(out)

    @staticmethod
    def _asked(body: dict[str, Any]) -> tuple[_Capacity, str | None]:
        """A write's ReturnConsumedCapacity and ReturnItemCollectionMetrics, checked before it writes."""
        return _Capacity(body.get("ReturnConsumedCapacity")), _metrics_mode(body.get("ReturnItemCollectionMetrics"))

    def _written(
        self, asked: tuple[_Capacity, str | None], table: str, key: Mapping[str, Any], attrs: Any,
        sized: Mapping[str, Any],
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if attrs:
            out["Attributes"] = encode_item(attrs)
        capacity, metrics_mode = asked
        if capacity.mode is not None:  # sizing an item costs more than the rest of a small write's translation
            capacity.add(table, _write_units(item_size(sized)), read=False)
        metrics = _collection_metrics(metrics_mode, self.store.spec(table), key)
        if metrics is not None:
            out["ItemCollectionMetrics"] = metrics
        return capacity.one(out)

    def put_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """PutItem (ConditionExpression or Expected)."""
        table = _table(body)
        item = decode_item(_required(body, "Item"))
        asked = self._asked(body)
        old = self.store.put(
            table, item, condition=_condition(body), names=_names(body), values=_values(body),
            return_values=body.get("ReturnValues", "NONE"), return_old_on_failure=_return_old(body),
        )
        return self._written(asked, table, item, old, item)

    def update_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """UpdateItem (UpdateExpression or AttributeUpdates; neither creates the bare key item)."""
        table = _table(body)
        key = decode_item(_required(body, "Key"), "Key")
        refuse_mixing(body, ("AttributeUpdates",), ("UpdateExpression",))
        update = body.get("UpdateExpression")
        if body.get("AttributeUpdates") is not None:
            update = attribute_updates(body["AttributeUpdates"])
            if not update.actions():
                update = None
        condition = _condition(body)
        rv = body.get("ReturnValues", "NONE")
        asked = self._asked(body)
        if update is None:
            return self._touch(body, asked, table, key, condition, rv)
        attrs = self.store.update(
            table, key, update, condition=condition, names=_names(body), values=_values(body),
            return_values=rv, return_old_on_failure=_return_old(body),
        )
        return self._written(asked, table, key, attrs, attrs or key)

    def _touch(
        self, body: dict[str, Any], asked: tuple[_Capacity, str | None], table: str, key: dict[str, Any],
        condition: Any, rv: Any,
    ) -> dict[str, Any]:
        """UpdateItem without any update: DynamoDB creates the item with only its key when it is missing."""
        if condition is not None or body.get("ExpressionAttributeValues") or body.get("ExpressionAttributeNames"):
            raise ValidationError(
                "UpdateItem without an update expression is supported here only without a condition or placeholders"
            )
        if rv not in ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"):
            raise ValidationError(f"{_INVALID}Return values set to invalid value: {rv}")
        spec = self.store.spec(table)
        try:
            self.store.put(table, key, condition=AttributeNotExists(Path((spec.partition_key.name,))))
            old = None
        except ConditionFailed:
            old = self.store.get(table, key, consistent=True)
        attrs = {"ALL_OLD": old, "ALL_NEW": old if old is not None else key}.get(rv)
        return self._written(asked, table, key, attrs, key)

    def delete_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """DeleteItem (ConditionExpression or Expected)."""
        table = _table(body)
        key = decode_item(_required(body, "Key"), "Key")
        asked = self._asked(body)
        old = self.store.delete(
            table, key, condition=_condition(body), names=_names(body), values=_values(body),
            return_values=body.get("ReturnValues", "NONE"), return_old_on_failure=_return_old(body),
        )
        return self._written(asked, table, key, old, old or key)

    # ------------------------------------------------------------ query / scan

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        """Query (KeyConditionExpression or KeyConditions; FilterExpression or QueryFilter)."""
        refuse_mixing(body, ("KeyConditions",), ("KeyConditionExpression",))
        refuse_mixing(body, ("QueryFilter", "ConditionalOperator"), ("FilterExpression",))
        if body.get("KeyConditions") is not None:
            key_cond: Any = key_conditions(body["KeyConditions"])
        else:
            key_cond = body.get("KeyConditionExpression")
            if key_cond is None:
                raise ValidationError("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
        if body.get("QueryFilter") is not None or body.get("ConditionalOperator") is not None:
            filt: Any = filter_conditions(body.get("QueryFilter"), body.get("ConditionalOperator"))
        else:
            filt = body.get("FilterExpression")
        forward = body.get("ScanIndexForward", True)
        if not isinstance(forward, bool):
            raise ValidationError("ScanIndexForward is true or false")
        return self._read(body, key_cond, filt, forward=forward)

    def scan(self, body: dict[str, Any]) -> dict[str, Any]:
        """Scan (FilterExpression or ScanFilter; Segment / TotalSegments)."""
        refuse_mixing(body, ("ScanFilter", "ConditionalOperator"), ("FilterExpression",))
        if body.get("ScanFilter") is not None or body.get("ConditionalOperator") is not None:
            filt: Any = filter_conditions(body.get("ScanFilter"), body.get("ConditionalOperator"))
        else:
            filt = body.get("FilterExpression")
        return self._read(body, None, filt, forward=True)

    def _read(self, body: dict[str, Any], key_cond: Any, filt: Any, *, forward: bool) -> dict[str, Any]:
        """One DynamoDB page of a Query (``key_cond`` given) or a Scan."""
        table = _table(body)
        spec = self.store.spec(table)
        index_name = body.get("IndexName")
        index = spec.index(index_name)
        consistent = bool(body.get("ConsistentRead", False))
        limit = _limit(body)
        projection = _projection(body)
        select = body.get("Select")
        if select not in (None, "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT"):
            raise ValidationError(f"{_INVALID}Select is ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES, SPECIFIC_ATTRIBUTES or COUNT")
        if projection is not None and select not in (None, "SPECIFIC_ATTRIBUTES"):
            raise ValidationError(f"{_INVALID}Cannot specify the AttributesToGet or ProjectionExpression when choosing to get {select}")
        if select == "SPECIFIC_ATTRIBUTES" and projection is None:
            raise ValidationError(f"{_INVALID}SPECIFIC_ATTRIBUTES needs AttributesToGet or ProjectionExpression")
        if select == "ALL_PROJECTED_ATTRIBUTES" and index_name is None:
            raise ValidationError(f"{_INVALID}ALL_PROJECTED_ATTRIBUTES can be used only when querying using an IndexName")
        compiled = compile_expressions(
            key_condition=key_cond, filter=filt, projection=projection, names=_names(body), values=_values(body)
        )
        if key_cond is not None and compiled.filter is not None:
            # Q3, as the port states it for store.query (the gateway evaluates the filter itself, see below).
            clash = condition_names(compiled.filter) & frozenset(index.key_names)
            if clash:
                raise ValidationError(
                    f"Filter Expression can only contain non-primary key attributes: Primary key attribute: {', '.join(sorted(clash))}"
                )
        segment, total = body.get("Segment"), body.get("TotalSegments")
        for name, value in (("Segment", segment), ("TotalSegments", total)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValidationError(f"{_INVALID}{name} must be an integer")
        if key_cond is None and (segment is None) != (total is None):
            missing, present = ("Segment", "TotalSegments") if segment is None else ("TotalSegments", "Segment")
            raise ValidationError(
                f"{_INVALID}The {missing} parameter is required but was not present in the request "
                f"when parameter {present} is present"
            )
        key_names = list(spec.key_names) + [n for n in index.key_names if n not in spec.key_names]
        cursor = None
        esk = body.get("ExclusiveStartKey")
        if esk is not None:
            start = {k: normalize_value(v, where=k) for k, v in decode_item(esk, "ExclusiveStartKey").items()}
            if set(start) != set(key_names):
                raise ValidationError("The provided starting key is invalid: The provided key element does not match the schema")
            bound = (int(segment), int(total)) if key_cond is None and segment is not None and total and total > 1 else None
            cursor = encode_cursor(start, segment=bound)

        # The page: DynamoDB's Limit counts evaluated items and a page stops at
        # 1 MB, so the port is asked for unfiltered chunks and the filter
        # (core's evaluator) runs here, before the projection, as in DynamoDB.
        items: list[dict[str, Any]] = []
        evaluated = 0
        size = 0
        last: dict[str, Any] | None = None
        more = False
        while True:
            want = _CHUNK if limit is None else min(_CHUNK, limit - evaluated)
            if key_cond is None:
                page = self.store.scan(
                    table, index=index_name, limit=want, cursor=cursor, segment=segment, total_segments=total,
                    consistent=consistent,
                )
            else:
                assert compiled.key_condition is not None
                page = self.store.query(
                    table, compiled.key_condition, index=index_name, limit=want, forward=forward, cursor=cursor,
                    consistent=consistent,
                )
            full = False
            for item in page.items:
                evaluated += 1
                size += item_size(item)
                last = item
                if compiled.filter is None or evaluate(compiled.filter, item):
                    items.append(item if compiled.projection is None else project(compiled.projection, item))
                if size >= MAX_PAGE_BYTES:
                    full = True
                    break
            cursor = page.cursor
            if full:
                more = True
                break
            if cursor is None:
                break
            if limit is not None and evaluated >= limit:
                more = True
                break
        out: dict[str, Any] = {"Count": len(items), "ScannedCount": evaluated}
        if select != "COUNT":
            out["Items"] = [encode_item(i) for i in items]
        if more and last is not None:
            out["LastEvaluatedKey"] = encode_item({n: last[n] for n in key_names})
        capacity = _Capacity(body.get("ReturnConsumedCapacity"))
        capacity.add(table, _read_units(size, consistent), read=True, index=index)
        return capacity.one(out)

    # ------------------------------------------------------------------ batches

    def batch_get_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """BatchGetItem: every key is answered (the port retries); keys a throttled store refused come back unprocessed."""
        request = _required(body, "RequestItems")
        if not isinstance(request, dict) or not request:
            raise ValidationError(f"{_INVALID}RequestItems must name at least one table")
        capacity = _Capacity(body.get("ReturnConsumedCapacity"))
        keys: dict[str, list[dict[str, Any]]] = {}
        projections: dict[str, Projection | None] = {}
        consistent = False
        for table, entry in request.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("Keys"), list):
                raise ValidationError(f"{_INVALID}RequestItems.{table} needs Keys")
            keys[table] = [decode_item(k, "Key") for k in entry["Keys"]]
            projections[table] = compile_expressions(projection=_projection(entry), names=_names(entry)).projection
            consistent = consistent or bool(entry.get("ConsistentRead", False))
        try:
            found = self.store.batch_get(keys, consistent=consistent)
        except Throttled:
            return capacity.many({"Responses": {t: [] for t in request}, "UnprocessedKeys": request})
        responses: dict[str, list[dict[str, Any]]] = {}
        for table, items in found.items():
            projection = projections.get(table)
            responses[table] = [encode_item(i if projection is None else project(projection, i)) for i in items]
            if capacity.mode is not None:
                capacity.add(table, sum(_read_units(item_size(i), consistent) for i in items) or 0.5, read=True)
        return capacity.many({"Responses": responses, "UnprocessedKeys": {}})

    def batch_write_item(self, body: dict[str, Any]) -> dict[str, Any]:
        """BatchWriteItem; when the store throttles, the whole batch comes back in UnprocessedItems (it is idempotent)."""
        request = _required(body, "RequestItems")
        if not isinstance(request, dict) or not request:
            raise ValidationError(f"{_INVALID}RequestItems must name at least one table")
        capacity, metrics_mode = self._asked(body)
        writes: list[BatchPut | BatchDelete] = []
        for table, ops in request.items():
            if not isinstance(ops, list) or not ops:
                raise ValidationError(f"{_INVALID}RequestItems.{table} is a non-empty list of write requests")
            for op in ops:
                if not isinstance(op, dict) or len(op) != 1:
                    raise ValidationError(f"{_INVALID}each write request has exactly one of PutRequest, DeleteRequest")
                if "PutRequest" in op:
                    writes.append(BatchPut(table, decode_item((op["PutRequest"] or {}).get("Item"), "Item")))
                elif "DeleteRequest" in op:
                    writes.append(BatchDelete(table, decode_item((op["DeleteRequest"] or {}).get("Key"), "Key")))
                else:
                    raise ValidationError(f"{_INVALID}each write request has exactly one of PutRequest, DeleteRequest")
        try:
            self.store.batch_write(writes)
        except Throttled:
            return {"UnprocessedItems": request}
        if capacity.mode is not None:  # sized once the port has validated them: "N": "NaN" cannot be sized
            for w in writes:
                capacity.add(w.table, _write_units(item_size(w.item)) if isinstance(w, BatchPut) else 1.0, read=False)
        out: dict[str, Any] = {"UnprocessedItems": {}}
        metrics: dict[str, list[dict[str, Any]]] = {}
        if metrics_mode is not None:  # None: no metrics asked for (the hot path)
            for w in writes:
                key = w.item if isinstance(w, BatchPut) else w.key
                m = _collection_metrics(metrics_mode, self.store.spec(w.table), key)
                if m is not None:
                    metrics.setdefault(w.table, []).append(m)
        if metrics:
            out["ItemCollectionMetrics"] = metrics
        return capacity.many(out)

    # ------------------------------------------------------------- transactions

    def transact_get_items(self, body: dict[str, Any]) -> dict[str, Any]:
        """TransactGetItems."""
        actions = _required(body, "TransactItems")
        if not isinstance(actions, list):
            raise ValidationError("TransactItems is a list")
        capacity = _Capacity(body.get("ReturnConsumedCapacity"))
        gets: list[TxGet] = []
        for a in actions:
            get = a.get("Get") if isinstance(a, dict) else None
            if not isinstance(get, dict):
                raise ValidationError(f"{_INVALID}each TransactItems entry holds a Get")
            gets.append(TxGet(_table(get), decode_item(_required(get, "Key"), "Key"),
                              projection=_projection(get), names=_names(get)))
        found = self.store.transact_get(gets)
        responses = []
        for g, item in zip(gets, found):
            responses.append({} if item is None else {"Item": encode_item(item)})
            if capacity.mode is not None:
                capacity.add(g.table, _read_units(0 if item is None else item_size(item), True) * 2, read=True)
        return capacity.many({"Responses": responses})

    def transact_write_items(self, body: dict[str, Any]) -> dict[str, Any]:
        """TransactWriteItems (ClientRequestToken makes a repeat within 10 minutes a no-op)."""
        items = _required(body, "TransactItems")
        if not isinstance(items, list):
            raise ValidationError("TransactItems is a list")
        capacity, metrics_mode = self._asked(body)
        actions: list[TxAction] = []
        touched: list[tuple[str, dict[str, Any]]] = []
        sized: list[tuple[str, dict[str, Any] | None]] = []  # per action: its table and, for a Put, its item
        for entry in items:
            if not isinstance(entry, dict) or len(entry) != 1:
                raise ValidationError(f"{_INVALID}each TransactItems entry holds one of ConditionCheck, Put, Delete, Update")
            ((kind, a),) = entry.items()
            if not isinstance(a, dict):
                raise ValidationError(f"{_INVALID}{kind} is an object")
            table = _table(a)
            common: dict[str, Any] = {
                "names": _names(a), "values": _values(a), "return_old_on_failure": _return_old(a),
            }
            if kind == "Put":
                item = decode_item(_required(a, "Item"))
                actions.append(TxPut(table, item, a.get("ConditionExpression"), **common))
                touched.append((table, item))
                sized.append((table, item))
                continue
            key = decode_item(_required(a, "Key"), "Key")
            touched.append((table, key))
            sized.append((table, None))
            if kind == "Update":
                actions.append(TxUpdate(table, key, _required(a, "UpdateExpression"), a.get("ConditionExpression"),
                                        **common))
            elif kind == "Delete":
                actions.append(TxDelete(table, key, a.get("ConditionExpression"), **common))
            elif kind == "ConditionCheck":
                actions.append(TxCheck(table, key, _required(a, "ConditionExpression"), **common))
            else:
                raise ValidationError(f"{_INVALID}unknown TransactItems action {kind!r}")
        token = body.get("ClientRequestToken")
        self.store.transact_write(actions, token=token)
        if capacity.mode is not None:  # sized once the port has validated the items: "N": "NaN" cannot be sized
            for table, put in sized:
                capacity.add(table, 2.0 if put is None else _write_units(item_size(put)) * 2, read=False)
        out: dict[str, Any] = {}
        metrics: dict[str, list[dict[str, Any]]] = {}
        for table, key in touched:
            try:
                m = _collection_metrics(metrics_mode, self.store.spec(table), key)
            except TableNotFound:  # pragma: no cover - the transaction just wrote to it
                continue
            if m is not None:
                metrics.setdefault(table, []).append(m)
        if metrics:
            out["ItemCollectionMetrics"] = metrics
        return capacity.many(out)


def unknown_operation(target: str) -> ApiError:
    """The error for an X-Amz-Target this gateway does not serve."""
    return ApiError("UnknownOperationException", f"Unknown operation: {target or '(no X-Amz-Target)'}")
