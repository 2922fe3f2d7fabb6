"""The DynamoDB Streams API (``DynamoDBStreams_20120810.*``) over the port's change streams.

ListStreams, DescribeStream, GetShardIterator and GetRecords translate onto
``stream_info``, ``latest_position`` and ``changes(table, shard=, after=)``:

- a stream ARN is the table's ARN, ``/stream/`` and a label naming the
  port's stream id (:func:`stream_arn_of` and :meth:`StreamOperations.resolve`
  are the one mapping, both ways);
- a shard iterator is an opaque string holding the port's position for one
  shard, so ``NextShardIterator`` is the page's position and a reader resumes
  exactly after the last record; iterators expire after 15 minutes, as
  DynamoDB's do (``ExpiredIteratorException``);
- shard ids and sequence numbers take DynamoDB's shapes on the wire (SDKs
  check their lengths): ``shardId-00000000000000000000-<port id>`` and the
  port's sequence zero-padded to 21 digits (:func:`wire_shard`,
  :func:`wire_sequence` and their inverses are the one mapping);
- ``AT_SEQUENCE_NUMBER n`` is the port's ``after`` of ``n - 1``: the port's
  sequence numbers are integers increasing within a shard (``sequence_order``);
- records are the Streams JSON of :mod:`storeswap.migrate.stream_json`;
  a position behind the retention window is ``TrimmedDataAccessException``.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

import attrs

from storeswap.core.changes import END, LATEST, Position, StreamInfo, decode_position, encode_position, sequence_order
from storeswap.core.errors import StreamPositionExpired, TableNotFound, ValidationError
from storeswap.core.jsontext import JSON_ERRORS
from storeswap.core.port import ItemStore
from storeswap.gateway.errors import DYNAMODB_PREFIX, ApiError
from storeswap.gateway.tables import ACCOUNT, table_arn
from storeswap.migrate.stream_json import stream_record_json

__all__ = [
    "StreamOperations",
    "stream_arn_of",
    "stream_label_of",
    "wire_shard",
    "port_shard",
    "wire_sequence",
    "port_sequence",
    "ITERATOR_LIFETIME_S",
    "ITERATOR_TYPES",
]

#: A shard iterator is valid for 15 minutes after GetShardIterator or GetRecords returned it.
ITERATOR_LIFETIME_S = 15 * 60
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
_ITERATOR_PREFIX = "ssi1."
_STREAM_MARK = "/stream/"

_SHARD_PREFIX = "shardId-00000000000000000000-"
_SEQUENCE_DIGITS = 21

StreamHandler = Callable[[dict[str, Any]], dict[str, Any]]


def wire_shard(shard: str) -> str:
    """The ShardId of a port shard id."""
    return _SHARD_PREFIX + shard


def port_shard(shard_id: str) -> str | None:
    """The port shard id of a ShardId (None when it is not one this gateway made)."""
    return shard_id[len(_SHARD_PREFIX):] if shard_id.startswith(_SHARD_PREFIX) else None


def wire_sequence(sequence: str) -> str:
    """The SequenceNumber of a port sequence number."""
    return sequence.zfill(_SEQUENCE_DIGITS)


def port_sequence(sequence: str) -> str:
    """The port sequence number of a SequenceNumber (ValidationError when it is not decimal digits)."""
    if not sequence.isdigit():
        raise ValidationError("a SequenceNumber is a string of decimal digits")
    return str(sequence_order(sequence))


def stream_label_of(stream_id: str) -> str:
    """The label of a port stream id in its ARN (the memory store's ids already end in ``/stream/<label>``)."""
    return stream_id.rsplit(_STREAM_MARK, 1)[-1]


def stream_arn_of(region: str, table: str, stream_id: str) -> str:
    """The ARN of the port stream ``stream_id`` of ``table``."""
    return f"{table_arn(region, table)}{_STREAM_MARK}{stream_label_of(stream_id)}"


def _not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message, prefix=DYNAMODB_PREFIX)


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
                              "Member must not be null")
    return value


class StreamOperations:
    """The Streams API over one :class:`ItemStore` (``handlers`` maps operation names to handlers)."""

    def __init__(self, store: ItemStore, *, region: str = "us-east-1", clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.region = region
        self.clock = clock
        self.handlers: dict[str, StreamHandler] = {
            "ListStreams": self.list_streams,
            "DescribeStream": self.describe_stream,
            "GetShardIterator": self.get_shard_iterator,
            "GetRecords": self.get_records,
        }

    # ---------------------------------------------------------------- mapping

    def latest(self, table: str) -> StreamInfo | None:
        """The table's current (or last) stream; None when it never had one, is gone, or the store has none."""
        if not self.store.supports_change_streams:
            return None
        try:
            return self.store.stream_info(table)
        except (ValidationError, StreamPositionExpired, TableNotFound):
            return None

    def resolve(self, arn: str) -> tuple[str, StreamInfo]:
        """The table and port stream an ARN names (ResourceNotFoundException when there is none)."""
        prefix = f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/"
        if not arn.startswith(prefix) or _STREAM_MARK not in arn[len(prefix):]:
            raise _not_found(f"Requested resource not found: Stream: {arn} not found")
        table, label = arn[len(prefix):].split(_STREAM_MARK, 1)
        current = self.latest(table)
        if current is None:
            raise _not_found(f"Requested resource not found: Stream: {arn} not found")
        if stream_label_of(current.id) == label:
            return table, current
        # An earlier stream of the table: its id has the same form as the current one's.
        head = current.id.rsplit(_STREAM_MARK, 1)[0] + _STREAM_MARK if _STREAM_MARK in current.id else ""
        try:
            return table, self.store.stream_info(table, head + label)
        except (ValidationError, StreamPositionExpired):
            raise _not_found(f"Requested resource not found: Stream: {arn} not found") from None

    def _iterator(self, table: str, stream: str, shard: str, position: str) -> str:
        raw = json.dumps({"t": table, "s": stream, "h": shard, "p": position, "e": self.clock()},
                         separators=(",", ":"))
        return _ITERATOR_PREFIX + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode_iterator(self, text: str) -> tuple[str, str, str, str]:
        body = text[len(_ITERATOR_PREFIX):] if text.startswith(_ITERATOR_PREFIX) else None
        try:
            if body is None:
                raise ValueError
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            table, stream, shard, position, issued = data["t"], data["s"], data["h"], data["p"], float(data["e"])
        except (*JSON_ERRORS, KeyError, TypeError, binascii.Error, OverflowError):
            raise ValidationError("Invalid ShardIterator") from None
        if self.clock() - issued > ITERATOR_LIFETIME_S:
            raise ApiError("ExpiredIteratorException", "Iterator expired. The iterator was created more than "
                           "15 minutes ago.", prefix=DYNAMODB_PREFIX)
        return str(table), str(stream), str(shard), str(position)

    # ------------------------------------------------------------- operations

    def list_streams(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListStreams: each table's latest stream (optionally one table's), paged by ExclusiveStartStreamArn."""
        limit = body.get("Limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise ValidationError("Limit for ListStreams is 1 to 100")
        only = body.get("TableName")
        if only is not None:
            self.store.describe_table(only)  # ResourceNotFoundException for an unknown table
        streams = []
        for table in [only] if only is not None else self.store.list_tables():
            info = self.latest(table)
            if info is not None:
                streams.append({"StreamArn": stream_arn_of(self.region, table, info.id), "TableName": table,
                                "StreamLabel": stream_label_of(info.id)})
        start = body.get("ExclusiveStartStreamArn")
        if start is not None:
            arns = [s["StreamArn"] for s in streams]
            streams = streams[arns.index(start) + 1:] if start in arns else []
        out: dict[str, Any] = {"Streams": streams[:limit]}
        if len(streams) > limit:
            out["LastEvaluatedStreamArn"] = streams[limit - 1]["StreamArn"]
        return out

    def describe_stream(self, body: dict[str, Any]) -> dict[str, Any]:
        """DescribeStream: status, view type, key schema and the shards with their lineage."""
        arn = _string(body, "StreamArn")
        table, info = self.resolve(arn)
        spec = self.store.describe_table(table)
        limit = body.get("Limit", 100)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise ValidationError("Limit for DescribeStream is 1 to 100")
        shards = info.ordered_shards()
        start = body.get("ExclusiveStartShardId")
        if start is not None:
            start = port_shard(str(start))
            ids = [s.id for s in shards]
            shards = shards[ids.index(start) + 1:] if start in ids else []
        described = []
        for s in shards[:limit]:
            entry: dict[str, Any] = {"ShardId": wire_shard(s.id), "SequenceNumberRange": {}}
            if s.parent is not None:
                entry["ParentShardId"] = wire_shard(s.parent)
            if s.closed:
                entry["SequenceNumberRange"]["EndingSequenceNumber"] = wire_sequence(
                    self._last_sequence(table, info, s.id)
                )
            described.append(entry)
        key_schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
        if spec.sort_key is not None:
            key_schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
        out: dict[str, Any] = {
            "StreamArn": arn,
            "StreamLabel": stream_label_of(info.id),
            "StreamStatus": "ENABLED" if info.enabled else "DISABLED",
            "StreamViewType": info.view,
            "TableName": table,
            "KeySchema": key_schema,
            "Shards": described,
        }
        if len(shards) > limit:
            out["LastEvaluatedShardId"] = shards[limit - 1].id
        return {"StreamDescription": out}

    def _last_sequence(self, table: str, info: StreamInfo, shard: str) -> str:
        """A closed shard's last sequence number ("0" when it never held a record), read through the port."""
        position = encode_position(Position(table, info.id, {shard: None}))
        last = "0"
        while True:
            page = self.store.changes(table, shard=shard, after=position)
            if page.records:
                last = page.records[-1].sequence
            position = page.position
            if not page.records or decode_position(position, table).shards.get(shard) == END:
                return last

    def get_shard_iterator(self, body: dict[str, Any]) -> dict[str, Any]:
        """GetShardIterator: TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER of one shard."""
        arn = _string(body, "StreamArn")
        shard_id = _string(body, "ShardId")
        shard = port_shard(shard_id)
        kind = _string(body, "ShardIteratorType")
        if kind not in ITERATOR_TYPES:
            raise ValidationError(f"1 validation error detected: Value '{kind}' at 'shardIteratorType' failed to "
                                  f"satisfy constraint: Member must satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]")
        table, info = self.resolve(arn)
        if shard is None or shard not in {s.id for s in info.shards}:
            raise _not_found(f"Requested resource not found: Shard does not exist: {shard_id}")
        after: str | None
        if kind == "TRIM_HORIZON":
            after = None
        elif kind == "LATEST":
            current = self.store.stream_info(table)
            if current.id == info.id:
                after = decode_position(self.store.latest_position(table), table).shards.get(shard)
            else:
                after = LATEST  # an earlier stream records nothing more: its end stays where it is
        else:
            sequence = body.get("SequenceNumber")
            if not isinstance(sequence, str):
                raise ValidationError(f"{kind} needs a SequenceNumber")
            after = port_sequence(sequence)
            if kind == "AT_SEQUENCE_NUMBER":
                after = str(sequence_order(after) - 1)
        position = encode_position(Position(table, info.id, {shard: after}))
        return {"ShardIterator": self._iterator(table, info.id, shard, position)}

    def get_records(self, body: dict[str, Any]) -> dict[str, Any]:
        """GetRecords: up to Limit records of the iterator's shard, and the iterator after them."""
        table, stream, shard, position = self._decode_iterator(_string(body, "ShardIterator"))
        limit = body.get("Limit")
        try:
            page = self.store.changes(table, shard=shard, after=position, limit=limit)
        except TableNotFound:
            raise _not_found(f"Requested resource not found: Table: {table} not found") from None
        arn = stream_arn_of(self.region, table, stream)
        out: dict[str, Any] = {
            "Records": [
                stream_record_json(attrs.evolve(r, sequence=wire_sequence(r.sequence)), arn, self.region, api=True)
                for r in page.records
            ],
        }
        progress = decode_position(page.position, table).shards.get(shard)
        if progress != END:
            # Only this shard's progress: the iterator stays short whatever the stream's shard count.
            position = encode_position(Position(table, stream, {shard: progress}))
            out["NextShardIterator"] = self._iterator(table, stream, shard, position)
        return out
