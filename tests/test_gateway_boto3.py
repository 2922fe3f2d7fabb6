"""boto3 (client and resource APIs) against the gateway over memory: wire shapes, errors, pages, legacy parameters."""

from __future__ import annotations

import json
import urllib.request
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

from storeswap.connect import open_store
from storeswap.gateway.server import GatewayServer


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayServer]:
    with GatewayServer(open_store("memory://")) as g:
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
def resource(gateway: GatewayServer) -> Any:
    return boto3.resource("dynamodb", **_kwargs(gateway))


_counter = iter(range(10**6))


def _table(client: Any, *, sort: bool = True, gsi: bool = False, lsi: bool = False) -> str:
    name = f"t{next(_counter)}_gw"
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    params: dict[str, Any] = {}
    if sort:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    if gsi:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
        params["GlobalSecondaryIndexes"] = [{
            "IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }]
    if lsi:
        attrs.append({"AttributeName": "l", "AttributeType": "S"})
        params["LocalSecondaryIndexes"] = [{
            "IndexName": "by_l",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }]
    client.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys, BillingMode="PAY_PER_REQUEST",
                        **params)
    return name


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_the_seed_counter_snippet_runs_unchanged(client: Any) -> None:
    client.create_table(
        TableName="counters", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="counters", Item={"pk": {"S": "visits"}, "n": {"N": "0"}})
    for _ in range(3):
        client.update_item(TableName="counters", Key={"pk": {"S": "visits"}}, UpdateExpression="ADD n :one",
                           ExpressionAttributeValues={":one": {"N": "1"}})
    assert client.get_item(TableName="counters", Key={"pk": {"S": "visits"}})["Item"]["n"] == {"N": "3"}


def test_headers_request_id_and_crc32(gateway: GatewayServer) -> None:
    req = urllib.request.Request(
        gateway.endpoint_url, data=b"{}", method="POST",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
    )
    with urllib.request.urlopen(req) as resp:
        body = resp.read()
        assert resp.headers["Content-Type"] == "application/x-amz-json-1.0"
        assert len(resp.headers["x-amzn-RequestId"]) == 52
        assert int(resp.headers["x-amz-crc32"]) == zlib.crc32(body)
    assert "TableNames" in json.loads(body)


def _post(gateway: GatewayServer, target: str, data: bytes) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(gateway.endpoint_url, data=data, method="POST", headers={"X-Amz-Target": target})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_protocol_errors_have_dynamodb_shapes_and_no_traces(gateway: GatewayServer) -> None:
    status, body = _post(gateway, "DynamoDB_20120810.Frobnicate", b"{}")
    assert status == 400 and body["__type"].endswith("#UnknownOperationException")
    status, body = _post(gateway, "DynamoDB_20120810.GetItem", b"{not json")
    assert status == 400 and body["__type"].endswith("#SerializationException")
    status, body = _post(gateway, "DynamoDB_20120810.GetItem", b'{"TableName": "nope_table", "Key": {"pk": {"S": "a"}}}')
    assert status == 400 and body["__type"] == "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    status, body = _post(gateway, "DynamoDB_20120810.GetItem", b'{"TableName": "nope_table", "Key": {"pk": {"X": 1}}}')
    assert status == 400 and "Traceback" not in json.dumps(body) and 'File "' not in body["message"]
    status, body = _post(gateway, "DynamoDBStreams_20120810.Frobnicate", b"{}")
    assert status == 400 and body["__type"].endswith("#UnknownOperationException")


def test_body_limit() -> None:
    store = open_store("memory://")
    from storeswap.gateway.app import GatewayApp

    with GatewayServer(store) as g:
        g.app.max_body = 1000
        status, body = _post(g, "DynamoDB_20120810.PutItem", b"{" + b" " * 2000 + b"}")
        assert status == 413 and "limit" in body["message"]
    assert GatewayApp  # the limit lives on the app


def test_validation_and_resource_errors(client: Any) -> None:
    name = _table(client)
    with pytest.raises(ClientError) as e:
        client.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    assert _code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "f": {"N": "1e999"}})
    assert _code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "big": {"S": "x" * 410_000}})
    assert _code(e) == "ValidationException" and "Item size has exceeded" in str(e.value)
    with pytest.raises(ClientError) as e:
        client.describe_table(TableName="missing_table")
    assert _code(e) == "ResourceNotFoundException"


def test_condition_failure_returns_the_item_when_asked(client: Any) -> None:
    name = _table(client)
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "old"}})
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as e:
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}},
                        ConditionExpression="attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
    assert e.value.response["Item"]["v"] == {"S": "old"}
    with pytest.raises(client.exceptions.ConditionalCheckFailedException) as e:
        client.delete_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                           ConditionExpression="v = :x", ExpressionAttributeValues={":x": {"S": "new"}})
    assert "Item" not in e.value.response


def test_transaction_cancellation_reasons_in_order(client: Any) -> None:
    name = _table(client)
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    with pytest.raises(client.exceptions.TransactionCanceledException) as e:
        client.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ])
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["pk"] == {"S": "a"}
    assert "[None, ConditionalCheckFailed]" in e.value.response["Error"]["Message"]
    assert "Item" not in client.get_item(TableName=name, Key={"pk": {"S": "b"}, "sk": {"N": "1"}})


def test_client_request_token_makes_a_repeat_a_no_op(client: Any) -> None:
    name = _table(client)
    params = {"TransactItems": [{"Update": {
        "TableName": name, "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}}}}], "ClientRequestToken": "tok-1"}
    client.transact_write_items(**params)
    client.transact_write_items(**params)
    assert client.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]["n"] == {"N": "1"}


def test_limit_counts_evaluated_items_and_last_evaluated_key(client: Any) -> None:
    name = _table(client)
    for i in range(6):
        client.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": str(i)}, "even": {"BOOL": i % 2 == 0}})
    # DynamoDB applies Limit before the filter: 3 evaluated, 2 of them match.
    page = client.query(TableName=name, KeyConditionExpression="pk = :p", FilterExpression="even = :t",
                        ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"BOOL": True}}, Limit=3)
    assert (page["Count"], page["ScannedCount"]) == (2, 3)
    assert page["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "2"}}
    rest = client.query(TableName=name, KeyConditionExpression="pk = :p", ExclusiveStartKey=page["LastEvaluatedKey"],
                        ExpressionAttributeValues={":p": {"S": "p"}})
    assert [i["sk"]["N"] for i in rest["Items"]] == ["3", "4", "5"] and "LastEvaluatedKey" not in rest
    count = client.query(TableName=name, KeyConditionExpression="pk = :p", Select="COUNT",
                         ExpressionAttributeValues={":p": {"S": "p"}})
    assert count["Count"] == 6 and "Items" not in count


def test_paginators_and_parallel_scan(client: Any) -> None:
    name = _table(client)
    for i in range(30):
        client.put_item(TableName=name, Item={"pk": {"S": f"p{i % 7}"}, "sk": {"N": str(i)}})
    pages = list(client.get_paginator("scan").paginate(TableName=name, PaginationConfig={"PageSize": 4}))
    assert sum(p["Count"] for p in pages) == 30 and len(pages) >= 8
    seen: list[str] = []
    for segment in range(3):
        for p in client.get_paginator("scan").paginate(TableName=name, Segment=segment, TotalSegments=3,
                                                         PaginationConfig={"PageSize": 2}):
            seen.extend(i["sk"]["N"] for i in p["Items"])
    assert sorted(seen, key=int) == [str(i) for i in range(30)]


def test_legacy_parameters(client: Any) -> None:
    name = _table(client)
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "5"}},
                    Expected={"pk": {"Exists": False}})
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}}, Expected={"pk": {"Exists": False}})
    client.update_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                       AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "2"}},
                                         "tags": {"Action": "PUT", "Value": {"SS": ["x"]}}},
                       Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "5"}]}})
    item = client.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, AttributesToGet=["v", "tags"])
    assert item["Item"] == {"v": {"N": "7"}, "tags": {"SS": ["x"]}}
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "2"}, "v": {"N": "1"}})
    page = client.query(TableName=name, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "1"}]}},
        QueryFilter={"v": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "3"}]}})
    assert [i["sk"]["N"] for i in page["Items"]] == ["1"]
    scan = client.scan(TableName=name, ScanFilter={"v": {"ComparisonOperator": "BETWEEN",
                                                         "AttributeValueList": [{"N": "0"}, {"N": "2"}]}})
    assert [i["sk"]["N"] for i in scan["Items"]] == ["2"]
    with pytest.raises(ClientError) as e:
        client.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}}, AttributesToGet=["v"],
                        ProjectionExpression="v")
    assert _code(e) == "ValidationException" and "both expression and non-expression" in str(e.value)


def test_batches_and_unprocessed_shapes(client: Any) -> None:
    name = _table(client, sort=False)
    resp = client.batch_write_item(RequestItems={name: [
        {"PutRequest": {"Item": {"pk": {"S": f"k{i}"}, "n": {"N": str(i)}}}} for i in range(25)]})
    assert resp["UnprocessedItems"] == {}
    got = client.batch_get_item(RequestItems={name: {"Keys": [{"pk": {"S": f"k{i}"}} for i in range(30)],
                                                     "ProjectionExpression": "n"}})
    assert got["UnprocessedKeys"] == {} and sorted(int(i["n"]["N"]) for i in got["Responses"][name]) == list(range(25))
    tx = client.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": {"pk": {"S": "k1"}}}},
                                                   {"Get": {"TableName": name, "Key": {"pk": {"S": "zz"}}}}])
    assert tx["Responses"][0]["Item"]["n"] == {"N": "1"} and tx["Responses"][1] == {}


def test_consumed_capacity_and_item_collection_metrics(client: Any) -> None:
    name = _table(client, lsi=True, gsi=True)
    put = client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "l": {"S": "x"}},
                          ReturnConsumedCapacity="TOTAL", ReturnItemCollectionMetrics="SIZE")
    assert put["ConsumedCapacity"]["TableName"] == name and put["ConsumedCapacity"]["CapacityUnits"] >= 1
    assert put["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": {"S": "a"}}
    q = client.query(TableName=name, IndexName="by_l", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "a"}}, ReturnConsumedCapacity="INDEXES")
    assert q["ConsumedCapacity"]["LocalSecondaryIndexes"]["by_l"]["CapacityUnits"] > 0
    b = client.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}}]},
                                ReturnConsumedCapacity="TOTAL")
    assert b["ConsumedCapacity"][0]["TableName"] == name


def test_table_description(client: Any) -> None:
    name = _table(client, gsi=True)
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": "x"}})
    client.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"N": "1"}})
    t = client.describe_table(TableName=name)["Table"]
    assert t["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    assert t["TableStatus"] == "ACTIVE" and t["ItemCount"] == 2
    assert t["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    (g,) = t["GlobalSecondaryIndexes"]
    assert g["IndexArn"] == f"{t['TableArn']}/index/by_g" and g["ItemCount"] == 1 and g["IndexStatus"] == "ACTIVE"
    client.get_waiter("table_exists").wait(TableName=name)
    assert client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


def test_update_time_to_live_on_a_table_that_holds_items(client: Any) -> None:
    name = _table(client)
    client.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "exp": {"N": "1"}})
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    # The items stay where they were (no re-created table), and writes go on.
    assert client.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]["exp"] == {"N": "1"}
    client.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"N": "1"}})
    with pytest.raises(ClientError) as e:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert _code(e) == "ValidationException"  # already enabled
    with pytest.raises(ClientError) as e:
        client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "other"})
    assert _code(e) == "ValidationException"  # enabled on another attribute
    client.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    assert client.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    assert client.scan(TableName=name)["Count"] == 2


def test_list_tables_pages(client: Any) -> None:
    for _ in range(3):
        _table(client, sort=False)
    names: list[str] = []
    for page in client.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["TableNames"]) <= 2
        names.extend(page["TableNames"])
    assert names == sorted(names) and len(names) == len(set(names)) >= 3


def test_resource_api(resource: Any) -> None:
    table = resource.create_table(
        TableName="orders_res", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    with table.batch_writer() as batch:
        for i in range(40):
            batch.put_item(Item={"pk": "c1", "sk": i, "total": Decimal("1.5") * i, "tags": {"a", "b"}, "b": b"\x00\x01"})
    resp = table.query(KeyConditionExpression=Key("pk").eq("c1") & Key("sk").between(10, 12),
                       FilterExpression=Attr("total").gt(15))
    assert [i["sk"] for i in resp["Items"]] == [11, 12]
    item = table.get_item(Key={"pk": "c1", "sk": 3})["Item"]
    assert item["total"] == Decimal("4.5") and item["tags"] == {"a", "b"} and item["b"].value == b"\x00\x01"
    table.update_item(Key={"pk": "c1", "sk": 3}, UpdateExpression="SET #s = :s REMOVE tags",
                      ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": "paid"})
    assert table.get_item(Key={"pk": "c1", "sk": 3})["Item"]["status"] == "paid"
    assert len(table.scan(Limit=5)["Items"]) == 5
    table.delete()
    assert "orders_res" not in [t.name for t in resource.tables.all()]


class _ThrottledBatches:
    """A memory store whose batch calls are refused for capacity (as a throttled DynamoDB behind the gateway would)."""

    @staticmethod
    def make() -> Any:
        from storeswap.adapters.memory import MemoryStore
        from storeswap.core.errors import Throttled

        class Store(MemoryStore):
            def _batch_write(self, reqs: Any) -> None:
                raise Throttled("no capacity")

            def _batch_get(self, reqs: Any) -> Any:
                raise Throttled("no capacity")

        return Store()


def test_a_throttled_store_gives_unprocessed_items_and_keys() -> None:
    with GatewayServer(_ThrottledBatches.make()) as g:
        c = boto3.client("dynamodb", **_kwargs(g))
        name = _table(c, sort=False)
        request = {name: [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(3)]}
        assert c.batch_write_item(RequestItems=request)["UnprocessedItems"] == request
        keys = {name: {"Keys": [{"pk": {"S": "k1"}}]}}
        resp = c.batch_get_item(RequestItems=keys)
        assert resp["UnprocessedKeys"] == keys and resp["Responses"] == {name: []}
