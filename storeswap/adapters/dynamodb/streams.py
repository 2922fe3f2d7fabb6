"""DynamoDB Streams and TTL behind the port, through boto3's ``dynamodbstreams`` client.

:class:`DynamoStreamMethods` is a base of :class:`~storeswap.adapters.dynamodb.store.DynamoStore`
and implements the port's stream primitives with the real API:

- ``DescribeTable`` gives the table's latest stream ARN (the position's
  stream id); ``DescribeStream`` (paged by ``ExclusiveStartShardId``) the
  shards with their lineage — the port reads a parent before its children;
- ``GetShardIterator`` (``TRIM_HORIZON``, ``LATEST`` or
  ``AFTER_SEQUENCE_NUMBER`` of the position) and ``GetRecords`` read a shard;
  positions hold sequence numbers, never iterators (those expire after 15
  minutes), so a checkpoint stays valid for the whole 24-hour retention;
  an iterator that expired mid-read is replaced once from the last position;
- ``UpdateTable`` (``StreamSpecification``) enables or disables a stream,
  ``UpdateTimeToLive`` the TTL attribute.

DynamoDB removes expired items by itself on AWS (``native_ttl_sweeper``);
``expire`` then falls back to the port's default sweep (scan + conditional
deletes), which is what a local endpoint (moto, DynamoDB Local) needs.

Errors go through the adapter's one translation point (``_calling``, i.e.
:func:`storeswap.adapters.dynamodb.errors.map_error`) like every other call;
the streams codes are part of that mapping (``TrimmedDataAccessException``
and, on a ``dynamodbstreams`` call, ``ResourceNotFoundException`` become
:class:`~storeswap.core.errors.StreamPositionExpired`;
``ExpiredIteratorException`` becomes
:class:`~storeswap.adapters.dynamodb.errors.ShardIteratorExpired`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from storeswap.adapters.dynamodb.client import make_client
from storeswap.adapters.dynamodb.errors import ShardIteratorExpired
from storeswap.adapters.dynamodb.marshal import deserialize_item
from storeswap.core.changes import (
    LATEST,
    ChangeRecord,
    Shard,
    ShardRead,
    StreamInfo,
    UserIdentity,
    make_record,
    sequence_order,
)
from storeswap.core.errors import StreamPositionExpired, ValidationError
from storeswap.core.schema import StreamView, TableSpec

__all__ = ["DynamoStreamMethods", "EMPTY_PAGES"]

#: GetRecords may return empty pages in the middle of an open shard; give up after this many in a row.
EMPTY_PAGES = 3


class DynamoStreamMethods:
    """The stream and TTL primitives of the DynamoDB adapter (a base of ``DynamoStore``)."""

    _client: Any
    _config: Any
    _streams_client_cache: Any = None

    def _wait_active(self, name: str) -> None:  # implemented by DynamoStore
        raise NotImplementedError

    def _calling(  # implemented by DynamoStore: the adapter's one error translation
        self, tables: Iterable[str], *, write: bool, creating: bool = False, actions: int = 0, stream: bool = False
    ) -> AbstractContextManager[None]:
        raise NotImplementedError

    @property
    def native_ttl_sweeper(self) -> bool:
        """DynamoDB on AWS expires items itself; local endpoints (moto, DynamoDB Local) do not."""
        return self._config.endpoint_url is None

    @property
    def streams_client(self) -> Any:
        """The boto3 ``dynamodbstreams`` client (made on first use, same endpoint and credentials)."""
        if self._streams_client_cache is None:
            self._streams_client_cache = make_client(self._config, service="dynamodbstreams")
        return self._streams_client_cache

    @streams_client.setter
    def streams_client(self, client: Any) -> None:
        """Use a ready-made streams client (tests give one with a shard lineage moto cannot make)."""
        self._streams_client_cache = client

    # ---------------------------------------------------------- primitives

    def _stream_info(self, spec: TableSpec, stream_id: str | None) -> StreamInfo:
        if stream_id is None:
            with self._calling((spec.name,), write=False):
                table = self._client.describe_table(TableName=spec.name)["Table"]
            stream_id = table.get("LatestStreamArn")
            if not stream_id:
                raise ValidationError(f"table {spec.name} has no stream (enable one with set_stream)")
        shards: list[Shard] = []
        params: dict[str, Any] = {"StreamArn": stream_id}
        while True:
            with self._calling((), write=False, stream=True):
                desc = self.streams_client.describe_stream(**params)["StreamDescription"]
            for s in desc.get("Shards", ()):
                end = (s.get("SequenceNumberRange") or {}).get("EndingSequenceNumber")
                shards.append(Shard(s["ShardId"], s.get("ParentShardId"), end is not None, end))
            last = desc.get("LastEvaluatedShardId")
            if not last:
                break
            params["ExclusiveStartShardId"] = last
        enabled = desc.get("StreamStatus") in ("ENABLED", "ENABLING")
        return StreamInfo(stream_id, desc["StreamViewType"], tuple(shards), enabled)

    def _iterator(self, info: StreamInfo, shard: Shard, after: str | None) -> str | None:
        params: dict[str, Any] = {"StreamArn": info.id, "ShardId": shard.id}
        if after is None:
            params["ShardIteratorType"] = "TRIM_HORIZON"
        elif after == LATEST:
            params["ShardIteratorType"] = "LATEST"
        else:
            params["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            params["SequenceNumber"] = after
        with self._calling((), write=False, stream=True):
            it: str | None = self.streams_client.get_shard_iterator(**params).get("ShardIterator")
        return it

    def _read_shard(self, spec: TableSpec, info: StreamInfo, shard: Shard, after: str | None, limit: int) -> ShardRead:
        iterator = self._iterator(info, shard, after)
        records: list[ChangeRecord] = []
        empty = 0
        position = after
        while iterator is not None and len(records) < limit and empty < EMPTY_PAGES:
            resp = self._get_records(info, shard, iterator, position, limit - len(records))
            got = [_record(spec, info, shard, r) for r in resp.get("Records", ())]
            records.extend(got)
            if got:
                position = got[-1].sequence
                empty = 0
            else:
                empty += 1
            iterator = resp.get("NextShardIterator")
            if got and not shard.closed:
                break  # an open shard: hand over what there is rather than poll for more
        return ShardRead(records, position, exhausted=iterator is None)

    def _get_records(self, info: StreamInfo, shard: Shard, iterator: str, position: str | None, limit: int) -> Any:
        """One GetRecords page; an iterator that expired is replaced once, from ``position`` (the last sequence read).

        Iterators live 15 minutes; positions are sequence numbers, so the read resumes where it is.  A fresh
        iterator refused as expired too raises, rather than loop; no fresh one (the shard has nothing more to
        iterate) is an empty page without a next iterator.
        """
        try:
            with self._calling((), write=False, stream=True):
                return self.streams_client.get_records(ShardIterator=iterator, Limit=limit)
        except ShardIteratorExpired:
            fresh = self._iterator(info, shard, position)
        if fresh is None:
            return {}
        with self._calling((), write=False, stream=True):
            return self.streams_client.get_records(ShardIterator=fresh, Limit=limit)

    def _shard_end(self, spec: TableSpec, info: StreamInfo, shard: Shard) -> str | None:
        if shard.end is not None:
            # A closed shard's description names its last sequence number: a 24-hour stream holds many
            # closed shards (they roll over every few hours), each a long read at five GetRecords a second.
            return shard.end
        # DynamoDB has no "sequence number of the newest record" call for an open shard: read it to its tip once,
        # so that the position is a durable sequence number rather than a LATEST that moves on (decision 0043).
        # "Read until a page comes back empty" alone never ends on a table whose writes never pause (each read
        # finds the ones written meanwhile), so an iterator taken at LATEST first bounds the read: the first
        # record it returns is the first one written after it was taken, and the position just before that
        # record is the tip as it was then (a moment inside this call, which is all a latest position promises).
        # Once that bound is known, empty pages (GetRecords may return some inside a shard) do not end the read:
        # the record at the bound exists, so reading on reaches it.  Without one (nothing written since), the read
        # ends as before, after EMPTY_PAGES empty pages in a row or at the end of a shard that closed meanwhile.
        probe: str | None = self._iterator(info, shard, LATEST)
        bound: int | None = None
        position: str | None = None
        reader = self._iterator(info, shard, None)
        empty = 0
        while reader is not None:
            if bound is None and probe is not None:
                bound, probe = self._first_sequence(info, shard, probe)
            resp = self._get_records(info, shard, reader, position, 1000)
            records = resp.get("Records", ())
            for raw in records:
                sequence = raw["dynamodb"]["SequenceNumber"]
                if bound is not None and sequence_order(sequence) >= bound:
                    return position
                position = sequence
            reader = resp.get("NextShardIterator")
            empty = 0 if records else empty + 1
            if bound is None and empty >= EMPTY_PAGES:
                return position
        return position  # the shard closed during the read, and it was read to its end

    def _first_sequence(self, info: StreamInfo, shard: Shard, iterator: str) -> tuple[int | None, str | None]:
        """One GetRecords on the LATEST probe: its first record's sequence number (``None`` if none yet), the next one.

        A probe refused as expired (after 15 minutes) or trimmed (DynamoDB Local has answered a LATEST iterator
        of an empty shard so after the first write) is replaced by a fresh LATEST: a later moment, still inside
        the call.  A closed shard's probe ends (``None``): its read then ends at the shard's end.
        """
        try:
            with self._calling((), write=False, stream=True):
                resp = self.streams_client.get_records(ShardIterator=iterator, Limit=1)
        except (ShardIteratorExpired, StreamPositionExpired):
            return None, self._iterator(info, shard, LATEST)
        records = resp.get("Records", ())
        if records:
            return sequence_order(records[0]["dynamodb"]["SequenceNumber"]), None
        return None, resp.get("NextShardIterator")

    def _set_stream(self, spec: TableSpec, view: StreamView | None) -> None:
        stream: dict[str, Any] = (
            {"StreamEnabled": False} if view is None else {"StreamEnabled": True, "StreamViewType": view}
        )
        with self._calling((spec.name,), write=True):
            self._client.update_table(TableName=spec.name, StreamSpecification=stream)
        self._wait_active(spec.name)

    def _set_ttl(self, spec: TableSpec, attribute: str | None) -> None:
        ttl = (
            {"Enabled": False, "AttributeName": spec.ttl_attribute}
            if attribute is None
            else {"Enabled": True, "AttributeName": attribute}
        )
        with self._calling((spec.name,), write=True):
            self._client.update_time_to_live(TableName=spec.name, TimeToLiveSpecification=ttl)


def _created(value: Any) -> datetime | None:
    """ApproximateCreationDateTime: boto3 parses it into a datetime; tolerate epoch seconds and ISO text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            return None
    return None


def _record(spec: TableSpec, info: StreamInfo, shard: Shard, raw: Mapping[str, Any]) -> ChangeRecord:
    body = raw.get("dynamodb", {})
    keys = deserialize_item(body.get("Keys", {}))
    new = deserialize_item(body["NewImage"]) if "NewImage" in body else None
    old = deserialize_item(body["OldImage"]) if "OldImage" in body else None
    identity = raw.get("userIdentity")
    user = None if not identity else UserIdentity(identity.get("Type", ""), identity.get("PrincipalId", ""))
    view: StreamView = body.get("StreamViewType") or info.view
    kind = raw["eventName"]
    # make_record is the one rule of what a view carries; the KEYS_ONLY case needs the keys as an image.
    record = make_record(
        spec,
        view,
        kind,
        old if old is not None else (keys if kind == "REMOVE" else None),
        new if new is not None else (keys if kind != "REMOVE" else None),
        sequence=body["SequenceNumber"],
        shard=shard.id,
        created=_created(body.get("ApproximateCreationDateTime")),
        user_identity=user,
        size_bytes=body.get("SizeBytes"),
    )
    return record
