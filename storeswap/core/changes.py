"""Change records, stream positions and TTL rules: the shapes every store's change stream shares.

A change stream is read per shard (section S of docs/semantics.md).  Each
:class:`ChangeRecord` describes one committed change of one item, shaped by
the stream's view type (:func:`make_record`, the one place that decides what
a record carries).  Positions are durable, opaque strings: a consumer
checkpoints one and resumes from it later, in another process, on another
day within the retention window.

A position names the table, the stream and, per shard, the sequence number
of the last record read (or ``None``: from the shard's trim horizon,
``"latest"``: from the shard's end at the time of the first read, ``"end"``:
a closed shard read to its end).  Memory and PostgreSQL sequence numbers are
dense per shard (1, 2, 3, ...), so a reader whose position is behind the trim
point is detected and gets :class:`StreamPositionExpired` instead of silence.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from attrs import define, field

from storeswap.core.errors import ValidationError
from storeswap.core.expressions import values_equal
from storeswap.core.keys import partition_bucket
from storeswap.core.schema import StreamView, TableSpec
from storeswap.core.values import Item, Key

__all__ = [
    "EventName",
    "UserIdentity",
    "TTL_IDENTITY",
    "ChangeRecord",
    "ChangePage",
    "Shard",
    "StreamInfo",
    "ShardRead",
    "Position",
    "LATEST",
    "END",
    "MAX_CHANGES_LIMIT",
    "RETENTION_SECONDS",
    "TTL_MAX_AGE_SECONDS",
    "change_kind",
    "make_record",
    "shard_of",
    "ttl_expiry",
    "is_expired",
    "encode_position",
    "decode_position",
    "sequence_order",
]

EventName = Literal["INSERT", "MODIFY", "REMOVE"]

#: A shard's sentinel positions (beside a sequence number, or None for the trim horizon).
LATEST = "latest"
END = "end"
#: GetRecords returns at most 1,000 records; so does ``changes``.
MAX_CHANGES_LIMIT = 1000
#: Records older than this are trimmed (DynamoDB Streams keeps 24 hours).
RETENTION_SECONDS = 24 * 3600
#: A TTL value further in the past than this is ignored (S1: five years).
TTL_MAX_AGE_SECONDS = 5 * 365 * 86400
_POSITION_PREFIX = "ssp1."


@define(frozen=True, slots=True)
class UserIdentity:
    """Who made a change when it was not a user: DynamoDB's ``userIdentity`` of a TTL delete (S2)."""

    type: str = "Service"
    principal_id: str = "dynamodb.amazonaws.com"


#: The identity of a TTL delete (S2).
TTL_IDENTITY = UserIdentity()


@define(frozen=True, slots=True)
class ChangeRecord:
    """One committed change of one item (S3).

    ``keys`` always holds the table key; ``new_image`` / ``old_image`` are
    present as the stream's ``view`` says (``None`` otherwise, and for the
    side that does not exist: no old image on INSERT, no new image on
    REMOVE).  ``sequence`` is a string of decimal digits that increases
    within ``shard``; ``position`` resumes right after this record in the
    read that produced it; ``user_identity`` is :data:`TTL_IDENTITY` for TTL
    deletes and ``None`` for writes through the API.
    """

    kind: EventName
    keys: Key
    new_image: Item | None
    old_image: Item | None
    sequence: str
    shard: str
    created: datetime | None
    view: StreamView
    user_identity: UserIdentity | None = None
    size_bytes: int | None = None
    position: str = ""

    @property
    def by_system(self) -> bool:
        """True when the store itself made the change (a TTL delete), not a caller."""
        return self.user_identity is not None and self.user_identity.type == "Service"


@define(frozen=True, slots=True)
class ChangePage:
    """What ``changes`` returns: at most ``limit`` records and the position to resume from.

    ``position`` is never ``None``: with no records it is the position the
    read started from (possibly advanced past a closed shard).
    """

    records: list[ChangeRecord]
    position: str

    def __iter__(self) -> Any:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)


@define(frozen=True, slots=True)
class Shard:
    """One shard of a stream: its id, its parent (read before it, S6) and whether it is closed.

    ``end`` is a closed shard's last sequence number when the store's description gives it (DynamoDB's
    ``EndingSequenceNumber``), so a position at its end needs no read of the shard.
    """

    id: str
    parent: str | None = None
    closed: bool = False
    end: str | None = None


def _shard_tuple(shards: Iterable[Shard]) -> tuple[Shard, ...]:
    return tuple(shards)


@define(frozen=True, slots=True)
class StreamInfo:
    """A table's stream as an adapter describes it: id, view type, shards, enabled or not."""

    id: str
    view: StreamView
    shards: tuple[Shard, ...] = field(converter=_shard_tuple)
    enabled: bool = True

    def ordered_shards(self) -> list[Shard]:
        """Shards with every parent before its children (S6); unknown (trimmed) parents are ignored."""
        known = {s.id: s for s in self.shards}
        out: list[Shard] = []
        placed: set[str] = set()

        def place(s: Shard, depth: int = 0) -> None:
            if s.id in placed or depth > len(known):
                return
            if s.parent is not None and s.parent in known:
                place(known[s.parent], depth + 1)
            placed.add(s.id)
            out.append(s)

        for s in self.shards:
            place(s)
        return out


@define(frozen=True, slots=True)
class ShardRead:
    """What an adapter's ``_read_shard`` returns: records, the shard position after them, and closure.

    ``after`` is the new position of the shard (the last record's sequence,
    or the adapter's own durable marker when no record came back);
    ``exhausted`` is True when the shard is closed and nothing follows.
    """

    records: list[ChangeRecord]
    after: str | None
    exhausted: bool = False


@define(frozen=True, slots=True)
class Position:
    """A decoded position: table, stream id and per-shard progress (see the module docstring)."""

    table: str
    stream: str
    shards: dict[str, str | None] = field(factory=dict)


def encode_position(position: Position) -> str:
    """The durable string form of a position (opaque to callers)."""
    raw = json.dumps(
        {"t": position.table, "s": position.stream, "p": position.shards}, separators=(",", ":"), ensure_ascii=True
    )
    return _POSITION_PREFIX + base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def decode_position(text: object, table: str) -> Position:
    """Decode a position string; a malformed one or one of another table is a ValidationError (S7)."""
    if not isinstance(text, str) or not text.startswith(_POSITION_PREFIX):
        raise ValidationError("not a stream position (positions come from changes() or latest_position())")
    body = text[len(_POSITION_PREFIX) :]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("ascii"))
        t, s, p = data["t"], data["s"], data["p"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("malformed stream position") from None
    if not isinstance(t, str) or not isinstance(s, str) or not isinstance(p, dict):
        raise ValidationError("malformed stream position")
    if any(not isinstance(k, str) or not (v is None or isinstance(v, str)) for k, v in p.items()):
        raise ValidationError("malformed stream position")
    if t != table:
        raise ValidationError(f"the stream position belongs to table {t!r}, not {table!r}")
    return Position(t, s, dict(p))


def sequence_order(sequence: str) -> int:
    """A sequence number as an integer, for ordering records of one shard."""
    return int(sequence)


def change_kind(old: Item | None, new: Item | None) -> EventName | None:
    """The event a write from ``old`` to ``new`` makes, or ``None`` when nothing changed (S4).

    Equality is DynamoDB's, type-exact (``1`` and ``True`` differ).
    """
    if old is None:
        return None if new is None else "INSERT"
    if new is None:
        return "REMOVE"
    return None if values_equal(old, new) else "MODIFY"


def make_record(
    spec: TableSpec,
    view: StreamView,
    kind: EventName,
    old: Item | None,
    new: Item | None,
    *,
    sequence: str,
    shard: str,
    created: datetime | None,
    user_identity: UserIdentity | None = None,
    size_bytes: int | None = None,
) -> ChangeRecord:
    """A record shaped by the view type (S3): the one rule of what each view type carries."""
    source = new if new is not None else old
    assert source is not None
    keys: Key = {n: source[n] for n in spec.key_names}
    keep_new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
    keep_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    return ChangeRecord(
        kind=kind,
        keys=keys,
        new_image=new if keep_new and new is not None else None,
        old_image=old if keep_old and old is not None else None,
        sequence=sequence,
        shard=shard,
        created=created,
        view=view,
        user_identity=user_identity,
        size_bytes=size_bytes,
    )


def shard_of(partition_value: Any, shard_count: int) -> int:
    """The shard of a partition key value: records of one partition key always land in one shard (S6)."""
    return partition_bucket(partition_value) % shard_count


def ttl_expiry(item: Mapping[str, Any], attribute: str | None) -> Decimal | None:
    """The item's expiry time in epoch seconds, or ``None`` when TTL ignores it (S1).

    Only a top-level Number counts; sets, strings and every other type are ignored.
    """
    if attribute is None:
        return None
    value = item.get(attribute)
    if isinstance(value, bool) or not isinstance(value, Decimal):
        return None
    try:
        return value if value.is_finite() else None
    except InvalidOperation:  # pragma: no cover - Decimal.is_finite does not raise
        return None


def is_expired(item: Mapping[str, Any], attribute: str | None, now: Decimal | int) -> bool:
    """True when a TTL sweep at ``now`` removes the item (S1): expiry <= now, and not more than five years old."""
    expiry = ttl_expiry(item, attribute)
    if expiry is None:
        return False
    now_d = Decimal(now)
    return now_d - TTL_MAX_AGE_SECONDS <= expiry <= now_d
