"""DynamoDB Streams reading against what moto cannot produce at will (moto serves one shard, S6, S8).

The table lives in an in-process moto; the ``dynamodbstreams`` client is a
fake that serves a closed parent shard, its open child (listed first) and a
trimmed position, or (:class:`NeverPausing`) one open shard whose writes
never pause.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
import moto
from botocore.exceptions import ClientError

from storeswap import KeyAttribute, TableSpec
from storeswap.adapters.dynamodb import DynamoStore
from storeswap.core.errors import StreamPositionExpired

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/lineage/stream/2026-01-01T00:00:00.000"


def _record(seq: str, pk: str, kind: str = "INSERT", identity: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "eventName": kind,
        "dynamodb": {
            "ApproximateCreationDateTime": datetime(2026, 1, 1, tzinfo=UTC),
            "Keys": {"pk": {"S": pk}},
            "NewImage": {"pk": {"S": pk}, "n": {"N": seq}},
            "SequenceNumber": seq,
            "SizeBytes": 10,
            "StreamViewType": "NEW_IMAGE",
        },
    }
    if identity:
        out["userIdentity"] = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    return out


class FakeStreams:
    """A closed parent (records 100, 101) and its open child (200), the child listed first."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def describe_stream(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("describe_stream", kw))
        return {
            "StreamDescription": {
                "StreamArn": ARN,
                "StreamStatus": "ENABLED",
                "StreamViewType": "NEW_IMAGE",
                "Shards": [
                    {"ShardId": "child", "ParentShardId": "parent", "SequenceNumberRange": {"StartingSequenceNumber": "200"}},
                    {
                        "ShardId": "parent",
                        "SequenceNumberRange": {"StartingSequenceNumber": "100", "EndingSequenceNumber": "101"},
                    },
                ],
            }
        }

    def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get_shard_iterator", kw))
        if kw.get("SequenceNumber") == "1":
            raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetShardIterator")
        return {"ShardIterator": f"{kw['ShardId']}|{kw['ShardIteratorType']}|{kw.get('SequenceNumber', '')}"}

    def get_records(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("get_records", kw))
        shard, kind, seq = kw["ShardIterator"].split("|")
        if shard == "parent":
            records = [_record("100", "a"), _record("101", "a", "REMOVE", identity=True)]
            records = [r for r in records if not seq or int(r["dynamodb"]["SequenceNumber"]) > int(seq)]
            page = records[: kw.get("Limit", 1000)]
            if len(page) < len(records):
                last = page[-1]["dynamodb"]["SequenceNumber"]
                return {"Records": page, "NextShardIterator": f"parent|AFTER_SEQUENCE_NUMBER|{last}"}
            return {"Records": page}  # closed shard: no NextShardIterator at its end
        if kind == "LATEST" or (kind == "AFTER_SEQUENCE_NUMBER" and seq == "200"):  # at the tip: nothing yet
            return {"Records": [], "NextShardIterator": "child|AFTER_SEQUENCE_NUMBER|200"}
        return {"Records": [_record("200", "a", "INSERT")], "NextShardIterator": "child|AFTER_SEQUENCE_NUMBER|200"}


@pytest.fixture
def store() -> Iterator[DynamoStore]:
    with moto.mock_aws():
        s = DynamoStore("dynamodb://", client=boto3.client("dynamodb", region_name="us-east-1"))
        s.create_table(TableSpec("lineage", KeyAttribute("pk"), stream="NEW_IMAGE"))
        s.client.describe_table = lambda **kw: {"Table": {"LatestStreamArn": ARN}}  # type: ignore[method-assign]
        s.streams_client = FakeStreams()
        yield s


def test_a_parent_shard_is_read_to_its_end_before_its_child(store: DynamoStore) -> None:
    assert [s.id for s in store.shards("lineage")] == ["parent", "child"]
    page = store.changes("lineage")
    assert [(r.shard, r.sequence, r.kind) for r in page.records] == [
        ("parent", "100", "INSERT"),
        ("parent", "101", "REMOVE"),
        ("child", "200", "INSERT"),
    ]
    assert page.records[1].by_system and not page.records[0].by_system
    assert page.records[0].new_image == {"pk": "a", "n": 100}
    # Resuming: the parent is done, the child continues after 200 (nothing new).
    assert store.changes("lineage", after=page.position).records == []
    # Resuming from inside the parent re-reads only what follows, and then the child.
    middle = page.records[0].position
    assert [r.sequence for r in store.changes("lineage", after=middle).records] == ["101", "200"]


def test_a_child_waits_while_its_parent_has_records_left(store: DynamoStore) -> None:
    page = store.changes("lineage", limit=1)
    assert [r.sequence for r in page.records] == ["100"]
    iterators = [kw for name, kw in store.streams_client.calls if name == "get_shard_iterator"]
    assert {kw["ShardId"] for kw in iterators} == {"parent"}


def test_a_trimmed_position_is_a_typed_error(store: DynamoStore) -> None:
    from storeswap.core.changes import Position, encode_position

    stale = encode_position(Position("lineage", ARN, {"parent": "1", "child": None}))
    with pytest.raises(StreamPositionExpired):
        store.changes("lineage", after=stale)


def test_the_latest_position_takes_a_closed_shards_end_from_its_description(store: DynamoStore) -> None:
    from storeswap.core.changes import decode_position

    position = store.latest_position("lineage")
    reads = [kw["ShardIterator"].split("|")[0] for name, kw in store.streams_client.calls if name == "get_records"]
    assert "parent" not in reads and "child" in reads  # only the open shard is read to its tip
    assert decode_position(position, "lineage").shards == {"parent": "101", "child": "200"}
    # And the position is where it says: nothing of either shard is read again from it.
    assert store.changes("lineage", after=position).records == []


class ParentWithEmptyPages(FakeStreams):
    """The lineage above, with a closed parent whose reads come back empty every time (empty pages inside it)."""

    def get_records(self, **kw: Any) -> dict[str, Any]:
        if kw["ShardIterator"].startswith("parent|"):
            self.calls.append(("get_records", kw))
            return {"Records": [], "NextShardIterator": kw["ShardIterator"]}
        return super().get_records(**kw)


def test_a_bounded_read_does_not_read_a_child_before_a_parent_it_could_not_finish(store: DynamoStore) -> None:
    """S6 in ``iter_changes(until=)``: the parent ends short of ``until``, so its child waits for a later read."""
    until = store.latest_position("lineage")  # parent 101 (from its description), child 200
    store.streams_client = ParentWithEmptyPages()
    assert list(store.iter_changes("lineage", until=until)) == []


class NeverPausing:
    """One open shard, and a writer that adds a record to it before every ``every``-th GetRecords.

    Sequence numbers are sparse (steps of 10), as DynamoDB's are.  With ``gap_at``, a reader whose iterator
    stands right after that record gets ``GAP_PAGES`` empty pages first (GetRecords may return empty pages
    inside a shard).  With ``trim_probe``, the first GetRecords of the first LATEST iterator is refused as
    trimmed (DynamoDB Local has answered a LATEST iterator of an empty shard so).  The writer stops after ``cap`` reads, so that a reader that chases the tip (the old
    ``latest_position``) ends, and the test can say how far it chased.
    """

    GAP_PAGES = 5

    def __init__(
        self, *, every: int = 1, gap_at: str | None = None, trim_probe: bool = False, existing: int = 5, cap: int = 200
    ) -> None:
        self.sequences = [str(300 + 10 * i) for i in range(existing)]
        self.every, self.gap_at, self.trim_probe, self.cap = every, gap_at, trim_probe, cap
        self.reads = 0

    def describe_stream(self, **kw: Any) -> dict[str, Any]:
        shard = {"ShardId": "only", "SequenceNumberRange": {"StartingSequenceNumber": "300"}}
        return {"StreamDescription": {"StreamArn": ARN, "StreamStatus": "ENABLED", "StreamViewType": "NEW_IMAGE",
                                      "Shards": [shard]}}

    def get_shard_iterator(self, **kw: Any) -> dict[str, Any]:
        kind = kw["ShardIteratorType"]
        after = {"TRIM_HORIZON": "", "LATEST": self.sequences[-1]}.get(kind, kw.get("SequenceNumber", ""))
        if kind == "LATEST" and self.trim_probe:
            self.trim_probe = False
            return {"ShardIterator": f"{after}|trimmed"}
        return {"ShardIterator": f"{after}|{self.GAP_PAGES}"}

    def get_records(self, **kw: Any) -> dict[str, Any]:
        self.reads += 1
        if self.reads <= self.cap and self.reads % self.every == 0:
            self.sequences.append(str(int(self.sequences[-1]) + 10))  # a write lands between two calls
        after, gap = kw["ShardIterator"].split("|")
        if gap == "trimmed":
            raise ClientError({"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetRecords")
        if after == self.gap_at and int(gap) > 0:
            return {"Records": [], "NextShardIterator": f"{after}|{int(gap) - 1}"}
        page = [q for q in self.sequences if not after or int(q) > int(after)][: kw.get("Limit", 1000)]
        if self.gap_at is not None and (not after or int(after) < int(self.gap_at)):
            page = [q for q in page if int(q) <= int(self.gap_at)]  # a page ends at the gap
        nxt = page[-1] if page else after
        return {"Records": [_record(q, f"k{q}") for q in page], "NextShardIterator": f"{nxt}|{self.GAP_PAGES}"}


@pytest.mark.parametrize(
    ("every", "gap_at", "trim_probe"),
    [(1, None, False), (1, "310", False), (2, None, False), (2, "310", False), (1, None, True)],
    ids=["a-write-per-read", "a-write-per-read-empty-pages-inside", "a-write-per-two-reads",
         "a-write-per-two-reads-empty-pages-inside", "the-first-probe-refused-as-trimmed"],
)
def test_the_latest_position_is_found_while_writes_never_pause(every: int, gap_at: str | None, trim_probe: bool) -> None:
    """The tip of an open shard under writes that never pause: reading "until a page comes back empty" never ends.

    The position is the tip at a moment during the call: at least the tip when the call began (record 340),
    at most the tip when it returned; reading from it returns the record right after it.  Empty pages inside
    the shard (after 310) do not end the read early; a probe refused as trimmed is replaced.
    """
    from storeswap.core.changes import decode_position

    streams = NeverPausing(every=every, gap_at=gap_at, trim_probe=trim_probe)
    with moto.mock_aws():
        s = DynamoStore("dynamodb://", client=boto3.client("dynamodb", region_name="us-east-1"))
        s.create_table(TableSpec("lineage", KeyAttribute("pk"), stream="NEW_IMAGE"))
        s.client.describe_table = lambda **kw: {"Table": {"LatestStreamArn": ARN}}  # type: ignore[method-assign]
        s.streams_client = streams
        position = s.latest_position("lineage")
        assert streams.reads < streams.cap, f"latest_position chased the tip for {streams.reads} reads"
        tip = decode_position(position, "lineage").shards["only"]
        assert tip is not None
        assert 340 <= int(tip) <= int(streams.sequences[-1]), (tip, streams.sequences)
        if (every, gap_at, trim_probe) == (1, None, False):
            assert tip == "340"  # the probe saw 350, the first write after it was taken
        following = s.changes("lineage", after=position).records
        assert following[0].sequence == str(int(tip) + 10)
