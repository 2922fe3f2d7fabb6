"""boto3's ``dynamodbstreams`` client against the gateway over memory: list, describe, iterate, resume, trim."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from storeswap.connect import open_store
from storeswap.core.port import ItemStore
from storeswap.gateway.server import GatewayServer
from storeswap.gateway.streams import ITERATOR_LIFETIME_S


@pytest.fixture(scope="module")
def backing() -> ItemStore:
    return open_store("memory://")


@pytest.fixture(scope="module")
def gateway(backing: ItemStore) -> Iterator[GatewayServer]:
    with GatewayServer(backing) as g:
        yield g


def _kwargs(g: GatewayServer) -> dict[str, Any]:
    return {
        "endpoint_url": g.endpoint_url, "region_name": "us-east-1", "aws_access_key_id": "k",
        "aws_secret_access_key": "s", "config": Config(retries={"mode": "standard", "total_max_attempts": 1}),
    }


@pytest.fixture(scope="module")
def client(gateway: GatewayServer) -> Any:
    return boto3.client("dynamodb", **_kwargs(gateway))


@pytest.fixture(scope="module")
def streams(gateway: GatewayServer) -> Any:
    return boto3.client("dynamodbstreams", **_kwargs(gateway))


_counter = iter(range(10**6))


def _table(client: Any, view: str | None = "NEW_AND_OLD_IMAGES") -> str:
    name = f"s{next(_counter)}_streams"
    params: dict[str, Any] = {}
    if view is not None:
        params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    client.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST", **params,
    )
    return name


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def _read_all(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **extra: Any) -> list[dict[str, Any]]:
    """Every record of every shard, by following NextShardIterator until a page comes back empty."""
    out: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind,
                                        **extra)["ShardIterator"]
        while it:
            page = streams.get_records(ShardIterator=it, Limit=2)
            out.extend(page["Records"])
            if not page["Records"]:
                break
            it = page.get("NextShardIterator")
    return out


def test_list_describe_and_iterate(client: Any, streams: Any) -> None:
    name = _table(client)
    plain = _table(client, None)
    table = client.describe_table(TableName=name)["Table"]
    arn = table["LatestStreamArn"]
    assert arn.startswith(f"{table['TableArn']}/stream/") and arn.endswith(table["LatestStreamLabel"])
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert "LatestStreamArn" not in client.describe_table(TableName=plain)["Table"]
    listed = streams.list_streams()["Streams"]
    assert {"StreamArn": arn, "TableName": name, "StreamLabel": table["LatestStreamLabel"]} in listed
    assert plain not in {s["TableName"] for s in listed}
    assert streams.list_streams(TableName=name)["Streams"] == [
        {"StreamArn": arn, "TableName": name, "StreamLabel": table["LatestStreamLabel"]}
    ]
    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] == "ENABLED" and desc["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert desc["TableName"] == name and desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert desc["Shards"] and all(s["ShardId"].startswith("shardId-") for s in desc["Shards"])

    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "2"}})
    client.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    records = _read_all(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    modify = records[1]["dynamodb"]
    assert modify["Keys"] == {"pk": {"S": "a"}}
    assert modify["OldImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert modify["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "2"}}
    assert modify["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert records[0]["eventSource"] == "aws:dynamodb" and records[0]["awsRegion"] == "us-east-1"
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3


def test_resume_from_a_sequence_number_and_latest(client: Any, streams: Any) -> None:
    name = _table(client, "KEYS_ONLY")
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    for i in range(4):
        client.put_item(TableName=name, Item={"pk": {"S": "same"}, "v": {"N": str(i)}})
    # One item's records all land in one shard.
    (shard,) = [s for s in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
                if _read_shard(streams, arn, s["ShardId"])]
    records = _read_shard(streams, arn, shard["ShardId"])
    seq = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert len(seq) == 4 and records[0]["dynamodb"]["Keys"] == {"pk": {"S": "same"}}
    assert "NewImage" not in records[0]["dynamodb"]  # KEYS_ONLY
    after = _read_shard(streams, arn, shard["ShardId"], "AFTER_SEQUENCE_NUMBER", SequenceNumber=seq[1])
    assert [r["dynamodb"]["SequenceNumber"] for r in after] == seq[2:]
    at = _read_shard(streams, arn, shard["ShardId"], "AT_SEQUENCE_NUMBER", SequenceNumber=seq[1])
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == seq[1:]
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="LATEST")["ShardIterator"]
    assert streams.get_records(ShardIterator=latest)["Records"] == []
    client.put_item(TableName=name, Item={"pk": {"S": "same"}, "v": {"N": "9"}})
    # The LATEST iterator was pinned when it was made: it sees the write made after it.
    page = streams.get_records(ShardIterator=latest)
    assert [r["eventName"] for r in page["Records"]] == ["MODIFY"]
    # NextShardIterator resumes exactly after the last record.
    assert streams.get_records(ShardIterator=page["NextShardIterator"])["Records"] == []


def _read_shard(streams: Any, arn: str, shard: str, kind: str = "TRIM_HORIZON", **extra: Any) -> list[dict[str, Any]]:
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]
    out: list[dict[str, Any]] = []
    while it:
        page = streams.get_records(ShardIterator=it)
        if not page["Records"]:
            return out
        out.extend(page["Records"])
        it = page.get("NextShardIterator")
    return out


def test_a_trimmed_position_is_trimmed_data_access(client: Any, streams: Any, backing: ItemStore) -> None:
    name = _table(client)
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    for i in range(3):
        client.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"N": str(i)}})
    (shard,) = [s["ShardId"] for s in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
                if _read_shard(streams, arn, s["ShardId"])]
    first = _read_shard(streams, arn, shard)[0]["dynamodb"]["SequenceNumber"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                    SequenceNumber=first)["ShardIterator"]
    assert backing.trim_changes(name, retention_s=0) == 3  # the server's retention trimmer
    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator=it)
    assert _code(e) == "TrimmedDataAccessException"
    # A reader from the trim horizon is not an expired one: it gets what is retained.
    assert _read_shard(streams, arn, shard) == []


def test_stream_settings_through_update_table(client: Any, streams: Any) -> None:
    name = _table(client, None)
    client.put_item(TableName=name, Item={"pk": {"S": "before"}})
    desc = client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                                    "StreamViewType": "NEW_IMAGE"})
    arn = desc["TableDescription"]["LatestStreamArn"]
    client.put_item(TableName=name, Item={"pk": {"S": "during"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in _read_all(streams, arn)] == ["during"]
    with pytest.raises(ClientError) as e:  # disable first, as on DynamoDB
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
    assert _code(e) == "ValidationException"
    off = client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})["TableDescription"]
    assert "StreamSpecification" not in off and off["LatestStreamArn"] == arn
    assert streams.describe_stream(StreamArn=arn)["StreamDescription"]["StreamStatus"] == "DISABLED"
    client.put_item(TableName=name, Item={"pk": {"S": "after"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in _read_all(streams, arn)] == ["during"]


def test_errors_have_dynamodb_shapes(client: Any, streams: Any, gateway: GatewayServer) -> None:
    name = _table(client)
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    with pytest.raises(ClientError) as e:
        streams.describe_stream(StreamArn=arn.replace(name, "missing_table"))
    assert _code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-nope",
                                   ShardIteratorType="TRIM_HORIZON")
    assert _code(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                   SequenceNumber="not-digits-at-all-xxxxx")
    assert _code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator="garbage")
    assert _code(e) == "ValidationException"
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    ops = gateway.app.operations.streams
    real_clock = ops.clock
    ops.clock = lambda: real_clock() + ITERATOR_LIFETIME_S + 1
    try:
        with pytest.raises(ClientError) as e:
            streams.get_records(ShardIterator=it)
        assert _code(e) == "ExpiredIteratorException"
    finally:
        ops.clock = real_clock
