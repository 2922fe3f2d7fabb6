"""The DynamoDB adapter: :class:`DynamoStore` over one boto3 client.

The port has validated and bound every request before it gets here; this
module renders the bound expressions (:mod:`.render`), marshals values
(:mod:`.marshal`), makes the client call and maps errors (:mod:`.errors`).
It adds no rule of its own, with two exceptions that are the adapter's job
by the port's contract:

- pages: the port's ``limit`` counts *returned matching* items, DynamoDB's
  counts *evaluated* items and stops at 1 MB, so ``_query`` / ``_scan``
  follow DynamoDB pages until they hold ``limit`` matches and compute the
  cursor key from the last returned item (fetching its key attributes even
  when the projection drops them);
- batches: chunking and retrying unprocessed items with backoff (T1).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol

from storeswap.adapters.dynamodb.client import DynamoConfig, make_client, parse_url
from storeswap.adapters.dynamodb.errors import map_error
from storeswap.adapters.dynamodb.marshal import deserialize, deserialize_item, serialize_item
from storeswap.adapters.dynamodb.render import Renderer
from storeswap.adapters.dynamodb.streams import DynamoStreamMethods
from storeswap.core.errors import StoreError, StoreUnavailable, TableNotFound, Throttled
from storeswap.core.expressions.ast import Path, Projection
from storeswap.core.port import ItemStore
from storeswap.core.requests import (
    CheckRequest,
    DeleteRequest,
    GetRequest,
    PutRequest,
    QueryRequest,
    QueryResult,
    ScanRequest,
    UpdateRequest,
    WriteRequest,
)
from storeswap.core.schema import IndexKeys, IndexProjection, KeyAttribute, TableSpec
from storeswap.core.values import Item, KeyDict

__all__ = ["DynamoStore", "ReadMeter"]

#: BatchGetItem / BatchWriteItem request limits.
BATCH_GET_CHUNK = 100
BATCH_WRITE_CHUNK = 25
#: Unprocessed-item retries: attempts, first delay and cap in seconds (full jitter).
BATCH_ATTEMPTS = 10
BATCH_BASE_DELAY = 0.025
BATCH_MAX_DELAY = 2.0
#: Waiting for a table to become ACTIVE / disappear.
TABLE_WAIT_SECONDS = 600.0
#: A filtered query or scan grows its DynamoDB page size up to this many evaluated items.
MAX_FILTERED_PAGE = 1000


class ReadMeter(Protocol):
    """Paces the store's Query and Scan calls by the read capacity they consume (``--max-rcu``).

    The store calls :meth:`before_read` before each DynamoDB page request
    (which may wait) and :meth:`after_read` with the response's
    ``ConsumedCapacity.CapacityUnits`` (``None`` when the endpoint did not
    return it) and the items of that page.
    """

    def before_read(self) -> None:
        """Wait until the next request may be sent."""

    def after_read(self, consumed: float | None, items: list[Item], consistent: bool) -> None:
        """Charge one response."""


def _key_names(spec: TableSpec, index: IndexKeys) -> tuple[str, ...]:
    names = list(spec.key_names)
    for n in index.key_names:
        if n not in names:
            names.append(n)
    return tuple(names)


def _key_identity(spec: TableSpec, item: Mapping[str, Any]) -> tuple[Any, ...]:
    return (spec.name, *(item[n] for n in spec.key_names))


class DynamoStore(DynamoStreamMethods, ItemStore):
    """Amazon DynamoDB (or DynamoDB Local, or moto) behind the port (``dynamodb://[host:port]``).

    One botocore client per store, standard retry mode, TCP keep-alive.
    Pass ``client`` to use a ready-made boto3 DynamoDB client instead of
    one built from the URL (tests use this with botocore's Stubber).
    """

    kind = "dynamodb"

    def __init__(self, url: str = "dynamodb://", *, client: Any = None, sleep: Callable[[float], None] = time.sleep):
        super().__init__()
        self._config: DynamoConfig = parse_url(url)
        self._client = client if client is not None else make_client(self._config)
        self._sleep = sleep
        self._read_meter: ReadMeter | None = None

    def __repr__(self) -> str:
        return f"DynamoStore({self._config.display_url!r})"

    @property
    def config(self) -> DynamoConfig:
        """The parsed URL (endpoint, region; the secret is hidden from repr)."""
        return self._config

    @property
    def client(self) -> Any:
        """The underlying boto3 DynamoDB client (for raw access, e.g. benchmarks)."""
        return self._client

    @property
    def read_meter(self) -> ReadMeter | None:
        """The meter pacing Query and Scan calls, or None (unpaced)."""
        return self._read_meter

    def set_read_meter(self, meter: ReadMeter | None) -> None:
        """Pace every later Query and Scan page request with ``meter`` (shared by all threads using this store)."""
        self._read_meter = meter

    def _close(self) -> None:
        """Close the HTTP connections of the DynamoDB client and of the Streams client, if one was made."""
        for client in (self._client, self._streams_client_cache):
            close = getattr(client, "close", None)
            if close is not None:
                close()

    # ------------------------------------------------------------------ errors

    def _calling(
        self, tables: Iterable[str], *, write: bool, creating: bool = False, actions: int = 0, stream: bool = False
    ) -> _DriverCall:
        """``with self._calling(...):`` around a client call: the one place driver exceptions become port errors.

        ``stream`` marks a call of the ``dynamodbstreams`` client (see :func:`.errors.map_error`).
        """
        return _DriverCall(self, tables, write, creating, actions, stream)

    # ------------------------------------------------------------------ tables

    def _create_table(self, spec: TableSpec) -> None:
        types: dict[str, str] = {}
        for attr in spec.key_attributes():
            types.setdefault(attr.name, attr.type)
        params: dict[str, Any] = {
            "TableName": spec.name,
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in types.items()],
            "KeySchema": _key_schema(spec.partition_key, spec.sort_key),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if spec.global_indexes:
            params["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": g.name,
                    "KeySchema": _key_schema(g.partition_key, g.sort_key),
                    "Projection": _projection_out(g.projection),
                }
                for g in spec.global_indexes
            ]
        if spec.local_indexes:
            params["LocalSecondaryIndexes"] = [
                {
                    "IndexName": i.name,
                    "KeySchema": _key_schema(spec.partition_key, i.sort_key),
                    "Projection": _projection_out(i.projection),
                }
                for i in spec.local_indexes
            ]
        if spec.stream is not None:
            params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
        with self._calling((), write=True, creating=True):
            self._client.create_table(**params)
        self._wait_active(spec.name)
        if spec.ttl_attribute is not None:
            with self._calling((spec.name,), write=True):
                self._client.update_time_to_live(
                    TableName=spec.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )

    def _wait_active(self, name: str) -> None:
        deadline = time.monotonic() + TABLE_WAIT_SECONDS
        delay = 0.02
        while True:
            with self._calling((name,), write=False):
                table = self._client.describe_table(TableName=name)["Table"]
            ready = table.get("TableStatus") == "ACTIVE" and all(
                g.get("IndexStatus", "ACTIVE") == "ACTIVE" for g in table.get("GlobalSecondaryIndexes", ())
            )
            if ready:
                return
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"table {name} did not become ACTIVE within {TABLE_WAIT_SECONDS:.0f} s")
            self._sleep(delay)
            delay = min(delay * 2, 1.0)

    def _describe_table(self, name: str) -> TableSpec:
        with self._calling((name,), write=False):
            table = self._client.describe_table(TableName=name)["Table"]
            ttl = self._client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        return TableSpec.from_describe(table, ttl)

    def _delete_table(self, name: str) -> None:
        with self._calling((name,), write=True):
            self._client.delete_table(TableName=name)
        deadline = time.monotonic() + TABLE_WAIT_SECONDS
        delay = 0.02
        while True:
            try:
                with self._calling((name,), write=False):
                    self._client.describe_table(TableName=name)
            except TableNotFound:
                return  # gone: what we were waiting for
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"table {name} was not deleted within {TABLE_WAIT_SECONDS:.0f} s")
            self._sleep(delay)
            delay = min(delay * 2, 1.0)

    def _list_tables(self) -> list[str]:
        names: list[str] = []
        params: dict[str, Any] = {}
        while True:
            with self._calling((), write=False):
                resp = self._client.list_tables(**params)
            names.extend(resp.get("TableNames", ()))
            last = resp.get("LastEvaluatedTableName")
            if not last:
                return names
            params["ExclusiveStartTableName"] = last

    # ------------------------------------------------------------------- items

    def _get(self, req: GetRequest) -> Item | None:
        params: dict[str, Any] = {"TableName": req.spec.name, "Key": serialize_item(req.key)}
        if req.consistent:
            params["ConsistentRead"] = True
        if req.projection is not None:
            r = Renderer()
            params["ProjectionExpression"] = r.projection(req.projection)
            params["ExpressionAttributeNames"] = r.names
        with self._calling((req.spec.name,), write=False):
            resp = self._client.get_item(**params)
        item = resp.get("Item")
        return None if item is None else deserialize_item(item)

    def _put(self, req: PutRequest) -> Item | None:
        params: dict[str, Any] = {"TableName": req.spec.name, "Item": serialize_item(req.item)}
        if req.condition is not None:
            r = Renderer()
            params["ConditionExpression"] = r.condition(req.condition)
            r.apply(params)
        return self._write_item(self._client.put_item, params, req)

    def _update(self, req: UpdateRequest) -> Item | None:
        r = Renderer()
        params: dict[str, Any] = {
            "TableName": req.spec.name,
            "Key": serialize_item(req.key),
            "UpdateExpression": r.update(req.update),
        }
        if req.condition is not None:
            params["ConditionExpression"] = r.condition(req.condition)
        r.apply(params)
        return self._write_item(self._client.update_item, params, req)

    def _delete(self, req: DeleteRequest) -> Item | None:
        params: dict[str, Any] = {"TableName": req.spec.name, "Key": serialize_item(req.key)}
        if req.condition is not None:
            r = Renderer()
            params["ConditionExpression"] = r.condition(req.condition)
            r.apply(params)
        return self._write_item(self._client.delete_item, params, req)

    def _write_item(
        self, call: Any, params: dict[str, Any], req: PutRequest | UpdateRequest | DeleteRequest
    ) -> Item | None:
        """PutItem / UpdateItem / DeleteItem with the request's return-value options; the returned attributes."""
        if req.return_values != "NONE":
            params["ReturnValues"] = req.return_values
        if req.return_old_on_failure:
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        with self._calling((req.spec.name,), write=True):
            resp = call(**params)
        attrs = resp.get("Attributes")
        return deserialize_item(attrs) if attrs else None

    # ------------------------------------------------------------ query / scan

    def _read_params(
        self, spec: TableSpec, index: IndexKeys, r: Renderer, projection: Projection | None, consistent: bool
    ) -> tuple[dict[str, Any], tuple[str, ...], tuple[str, ...]]:
        """Request parameters shared by query and scan, the key names a cursor needs, and the names to strip."""
        params: dict[str, Any] = {"TableName": spec.name}
        if index.name is not None:
            params["IndexName"] = index.name
        if consistent:
            params["ConsistentRead"] = True
        key_names = _key_names(spec, index)
        strip: tuple[str, ...] = ()
        if projection is not None:
            text, strip = _cursor_projection(r, projection, key_names)
            params["ProjectionExpression"] = text
        return params, key_names, strip

    def _query(self, req: QueryRequest) -> QueryResult:
        r = Renderer()
        params, key_names, strip = self._read_params(req.spec, req.index, r, req.projection, req.consistent)
        params["KeyConditionExpression"] = r.key_condition(req.key_condition, req.index)
        if req.filter is not None:
            params["FilterExpression"] = r.condition(req.filter)
        if not req.forward:
            params["ScanIndexForward"] = False
        r.apply(params)
        if req.start_key is not None:
            params["ExclusiveStartKey"] = serialize_item(req.start_key)
        return self._pages(
            self._client.query, params, req.spec.name, req.limit, req.filter is not None, key_names, strip
        )

    def _scan(self, req: ScanRequest) -> QueryResult:
        r = Renderer()
        params, key_names, strip = self._read_params(req.spec, req.index, r, req.projection, req.consistent)
        if req.filter is not None:
            params["FilterExpression"] = r.condition(req.filter)
        if req.total_segments > 1:
            params["Segment"] = req.segment
            params["TotalSegments"] = req.total_segments
        r.apply(params)
        if req.start_key is not None:
            params["ExclusiveStartKey"] = serialize_item(req.start_key)
        return self._pages(
            self._client.scan, params, req.spec.name, req.limit, req.filter is not None, key_names, strip
        )

    def _pages(
        self,
        call: Callable[..., dict[str, Any]],
        params: dict[str, Any],
        table: str,
        limit: int | None,
        filtered: bool,
        key_names: tuple[str, ...],
        strip: tuple[str, ...],
    ) -> QueryResult:
        """Follow DynamoDB pages until ``limit`` matching items (the port's page contract, Q1)."""
        items: list[Item] = []
        last_raw: Mapping[str, Any] | None = None
        page_size = 0
        while True:
            if limit is not None:
                remaining = limit - len(items)
                # Without a filter every evaluated item is returned, so asking for
                # exactly what is missing reads nothing extra.  With one, grow the
                # page so a selective filter does not cost a round trip per item.
                page_size = remaining if not filtered else min(max(remaining, page_size * 2), MAX_FILTERED_PAGE)
                params["Limit"] = page_size
            meter = self._read_meter
            if meter is not None:
                params["ReturnConsumedCapacity"] = "TOTAL"
                meter.before_read()
            with self._calling((table,), write=False):
                resp = call(**params)
            raw_items = resp.get("Items", ())
            if meter is not None:
                units = (resp.get("ConsumedCapacity") or {}).get("CapacityUnits")
                meter.after_read(
                    None if units is None else float(units),
                    # Items are only needed for the size estimate, when the endpoint did not say.
                    [deserialize_item(av) for av in raw_items] if units is None else [],
                    bool(params.get("ConsistentRead")),
                )
            if limit is not None and len(items) + len(raw_items) >= limit:
                raw_items = raw_items[: limit - len(items)]
                items.extend(deserialize_item(av) for av in raw_items)
                last_raw = raw_items[-1] if raw_items else last_raw
                break
            items.extend(deserialize_item(av) for av in raw_items)
            lek = resp.get("LastEvaluatedKey")
            if not lek:
                break
            params["ExclusiveStartKey"] = lek
        last_key: KeyDict | None = None
        if last_raw is not None:
            last_key = {n: deserialize(last_raw[n]) for n in key_names}
        if strip:
            for item in items:
                for n in strip:
                    item.pop(n, None)
        return QueryResult(items, last_key)

    # ------------------------------------------------------------------ batches

    def _backoff(self, attempt: int) -> None:
        self._sleep(random.uniform(0, min(BATCH_MAX_DELAY, BATCH_BASE_DELAY * (2**attempt))))

    def _batch_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        slots: dict[tuple[Any, ...], int] = {}
        specs: dict[str, TableSpec] = {}
        for i, req in enumerate(reqs):
            slots[_key_identity(req.spec, req.key)] = i
            specs[req.spec.name] = req.spec
        found: list[Item | None] = [None] * len(reqs)
        for start in range(0, len(reqs), BATCH_GET_CHUNK):
            chunk = reqs[start : start + BATCH_GET_CHUNK]
            pending: dict[str, Any] = {}
            for req in chunk:
                entry = pending.setdefault(req.spec.name, {"Keys": []})
                entry["Keys"].append(serialize_item(req.key))
                if req.consistent:
                    entry["ConsistentRead"] = True
            attempt = 0
            while pending:
                with self._calling(specs, write=False):
                    resp = self._client.batch_get_item(RequestItems=pending)
                for table, raw_items in resp.get("Responses", {}).items():
                    spec = specs[table]
                    for av in raw_items:
                        item = deserialize_item(av)
                        slot = slots.get(_key_identity(spec, item))
                        if slot is not None:
                            found[slot] = item
                pending = resp.get("UnprocessedKeys") or {}
                if pending:
                    if attempt + 1 >= BATCH_ATTEMPTS:
                        raise Throttled(f"batch_get: keys still unprocessed after {BATCH_ATTEMPTS} attempts")
                    self._backoff(attempt)
                    attempt += 1
        return found

    def _batch_write(self, reqs: list[PutRequest | DeleteRequest]) -> None:
        tables = {r.spec.name for r in reqs}
        for start in range(0, len(reqs), BATCH_WRITE_CHUNK):
            pending: dict[str, list[dict[str, Any]]] = {}
            for req in reqs[start : start + BATCH_WRITE_CHUNK]:
                if isinstance(req, PutRequest):
                    op: dict[str, Any] = {"PutRequest": {"Item": serialize_item(req.item)}}
                else:
                    op = {"DeleteRequest": {"Key": serialize_item(req.key)}}
                pending.setdefault(req.spec.name, []).append(op)
            attempt = 0
            while pending:
                with self._calling(tables, write=True):
                    resp = self._client.batch_write_item(RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}
                if pending:
                    if attempt + 1 >= BATCH_ATTEMPTS:
                        raise Throttled(
                            f"batch_write: items still unprocessed after {BATCH_ATTEMPTS} attempts "
                            "(the others were written)"
                        )
                    self._backoff(attempt)
                    attempt += 1

    # ------------------------------------------------------------- transactions

    def _transact_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        items: list[dict[str, Any]] = []
        for req in reqs:
            get: dict[str, Any] = {"TableName": req.spec.name, "Key": serialize_item(req.key)}
            if req.projection is not None:
                r = Renderer()
                get["ProjectionExpression"] = r.projection(req.projection)
                get["ExpressionAttributeNames"] = r.names
            items.append({"Get": get})
        with self._calling({r.spec.name for r in reqs}, write=False, actions=len(reqs)):
            resp = self._client.transact_get_items(TransactItems=items)
        out: list[Item | None] = []
        for entry in resp.get("Responses", ()):
            item = entry.get("Item")
            out.append(None if item is None else deserialize_item(item))
        return out

    def _transact_write(self, reqs: list[WriteRequest], token: str | None) -> None:
        params: dict[str, Any] = {"TransactItems": [_transact_item(req) for req in reqs]}
        if token is not None:
            params["ClientRequestToken"] = token
        with self._calling({r.spec.name for r in reqs}, write=True, actions=len(reqs)):
            self._client.transact_write_items(**params)


# ---------------------------------------------------------------------- helpers


class _DriverCall:
    """The translating context manager of :meth:`DynamoStore._calling` (a class: cheaper than a generator)."""

    __slots__ = ("_actions", "_creating", "_store", "_stream", "_tables", "_write")

    def __init__(
        self, store: DynamoStore, tables: Iterable[str], write: bool, creating: bool, actions: int, stream: bool
    ) -> None:
        self._store = store
        self._tables = tables
        self._write = write
        self._creating = creating
        self._actions = actions
        self._stream = stream

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if e is None or not isinstance(e, Exception) or isinstance(e, StoreError):
            return
        names = list(self._tables)

        def forget() -> None:
            for name in names:
                self._store.forget(name)

        # No driver exception crosses the port: this is the one place they are caught and mapped.
        raise map_error(
            e, write=self._write, decode=deserialize_item, on_not_found=forget, creating=self._creating,
            actions=self._actions, stream=self._stream,
        ) from e


def _key_schema(pk: KeyAttribute, sk: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": pk.name, "KeyType": "HASH"}]
    if sk is not None:
        schema.append({"AttributeName": sk.name, "KeyType": "RANGE"})
    return schema


def _projection_out(p: IndexProjection) -> dict[str, Any]:
    out: dict[str, Any] = {"ProjectionType": p.type}
    if p.type == "INCLUDE":
        out["NonKeyAttributes"] = list(p.include)
    return out


def _cursor_projection(r: Renderer, projection: Projection, key_names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The projection text with the cursor's key attributes added, and the names to strip afterwards.

    Key attributes are scalars, so a user path *below* one (``pk.x``) can
    never match anything; it is replaced by the attribute itself (a path and
    its parent together are an overlap DynamoDB rejects).
    """
    paths = list(projection.paths)
    strip: list[str] = []
    for name in key_names:
        whole = False
        below = False
        for p in paths:
            if p.elements[0] == name:
                if len(p.elements) == 1:
                    whole = True
                else:
                    below = True
        if whole:
            continue
        if below:
            paths = [p for p in paths if p.elements[0] != name]
        paths.append(Path((name,)))
        strip.append(name)
    return r.projection(Projection(tuple(paths))), tuple(strip)


def _transact_item(req: WriteRequest) -> dict[str, Any]:
    r = Renderer()
    body: dict[str, Any] = {"TableName": req.spec.name}
    if isinstance(req, PutRequest):
        kind = "Put"
        body["Item"] = serialize_item(req.item)
    else:
        body["Key"] = serialize_item(req.key)
        if isinstance(req, UpdateRequest):
            kind = "Update"
            body["UpdateExpression"] = r.update(req.update)
        elif isinstance(req, DeleteRequest):
            kind = "Delete"
        else:
            assert isinstance(req, CheckRequest)
            kind = "ConditionCheck"
    if req.condition is not None:
        body["ConditionExpression"] = r.condition(req.condition)
    r.apply(body)
    if req.return_old_on_failure:
        body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {kind: body}
