"""No request body, however malformed, gets the gateway's 500: every one is answered in a DynamoDB 4xx shape.

The operations are called as the app calls them (the decoded JSON body), over a memory store; a failure is what
:func:`storeswap.gateway.errors.error_body` would answer with a status of 500 or more (an unexpected exception,
the gateway's "InternalServerError"). The shapes are DynamoDB's request shapes with any JSON in any place.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storeswap.adapters.memory import MemoryStore
from storeswap.gateway.app import GatewayApp
from storeswap.gateway.errors import error_body
from storeswap.gateway.operations import Operations

TABLE = "hostile"

_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=4)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c, max_size=3)),
    max_leaves=5,
)
_numbers = st.sampled_from(["1", "-0", "1E+999999999", "1E+126", "NaN", "sNaN", "Infinity", "abc", "", " 1", "1" * 39])
_leaf = st.one_of(
    st.builds(lambda n: {"N": n}, _numbers),
    st.builds(lambda s: {"S": s}, st.text(max_size=4)),
    st.builds(lambda b: {"B": b}, st.sampled_from(["AAEC", "!!", ""])),
    st.sampled_from([{"BOOL": True}, {"BOOL": "yes"}, {"NULL": True}, {"NULL": False}, {}, {"X": 1}, {"S": 1},
                     {"N": 5}, {"S": "a", "N": "1"}, [], None]),
    st.builds(lambda v: {"NS": v}, st.lists(_numbers, max_size=3)),
    st.builds(lambda v: {"SS": v}, st.lists(st.text(max_size=3), max_size=3)),
)
_value = st.recursive(
    _leaf,
    lambda c: st.one_of(st.builds(lambda v: {"L": v}, st.lists(c, max_size=3)),
                        st.builds(lambda v: {"M": v}, st.dictionaries(st.text(max_size=3), c, max_size=3)),
                        st.builds(lambda v: {"L": v}, c), st.builds(lambda v: {"M": v}, c)),
    max_leaves=6,
)
_key = st.fixed_dictionaries(
    {"pk": st.one_of(st.builds(lambda s: {"S": s}, st.text(max_size=3)), _leaf),
     "sk": st.one_of(st.builds(lambda n: {"N": n}, _numbers), _leaf)},
    optional={"a": _value},
)
_any = st.one_of(_json, _value)
_values = st.dictionaries(st.sampled_from([":v", ":w", "v", ""]), _any, max_size=2)
_expressions = st.one_of(st.sampled_from(["SET a = :v", "ADD a :v", "REMOVE a", "SET a = a + :v", "DELETE a :v",
                                          "SET a[0] = :v", "attribute_exists(a)", "a IN (:v, :w)",
                                          "pk = :v AND begins_with(sk, :w)", "size(a) > :v"]),
                         st.text(max_size=8), _json)


def _body(required: dict[str, Any], **optional: Any) -> Any:
    return st.fixed_dictionaries(required, optional=optional)


_common = {"ExpressionAttributeValues": _values, "ExpressionAttributeNames": st.one_of(st.just({"#n": "a"}), _json),
           "ReturnValues": _json, "ReturnConsumedCapacity": _json, "ReturnItemCollectionMetrics": _json}
_requests = st.one_of(
    st.tuples(st.just("PutItem"), _body({"TableName": st.just(TABLE), "Item": st.one_of(_key, _json)},
                                        ConditionExpression=_expressions, Expected=_json, **_common)),
    st.tuples(st.just("UpdateItem"), _body({"TableName": st.just(TABLE), "Key": st.one_of(_key, _json)},
                                           UpdateExpression=_expressions, ConditionExpression=_expressions,
                                           AttributeUpdates=_json, Expected=_json, **_common)),
    st.tuples(st.just("DeleteItem"), _body({"TableName": st.just(TABLE), "Key": st.one_of(_key, _json)},
                                           ConditionExpression=_expressions, Expected=_json,
                                           ConditionalOperator=_json, **_common)),
    st.tuples(st.just("GetItem"), _body({"TableName": st.one_of(st.just(TABLE), _json), "Key": st.one_of(_key, _json)},
                                        ProjectionExpression=_expressions, AttributesToGet=_json,
                                        ConsistentRead=_json, ExpressionAttributeNames=_json)),
    st.tuples(st.sampled_from(["Query", "Scan"]),
              _body({"TableName": st.just(TABLE)}, KeyConditionExpression=_expressions,
                    FilterExpression=_expressions, Limit=_json, ExclusiveStartKey=st.one_of(_key, _json),
                    KeyConditions=_json, QueryFilter=_json, ScanFilter=_json, Segment=_json, TotalSegments=_json,
                    Select=_json, IndexName=_json, ScanIndexForward=_json, **_common)),
    st.tuples(st.just("BatchWriteItem"), st.fixed_dictionaries({"RequestItems": st.one_of(
        st.builds(lambda v: {TABLE: v}, st.lists(st.one_of(
            st.builds(lambda i: {"PutRequest": {"Item": i}}, _key),
            st.builds(lambda k: {"DeleteRequest": {"Key": k}}, _key), _json), max_size=3)), _json)})),
    st.tuples(st.just("BatchGetItem"), st.fixed_dictionaries({"RequestItems": st.one_of(
        st.builds(lambda k, o: {TABLE: {"Keys": k, **o}}, st.one_of(st.lists(_key, max_size=3), _json),
                  st.dictionaries(st.sampled_from(["ProjectionExpression", "AttributesToGet", "ConsistentRead"]),
                                  _json, max_size=2)), _json)})),
    st.tuples(st.just("TransactWriteItems"), _body({"TransactItems": st.one_of(st.lists(st.one_of(
        st.builds(lambda i: {"Put": {"TableName": TABLE, "Item": i}}, _key),
        st.builds(lambda k, e: {"Update": {"TableName": TABLE, "Key": k, "UpdateExpression": e}}, _key, _expressions),
        _json), max_size=3), _json)}, ClientRequestToken=_json)),
    st.tuples(st.just("TransactGetItems"), st.fixed_dictionaries({"TransactItems": st.one_of(
        st.lists(st.one_of(st.builds(lambda k: {"Get": {"TableName": TABLE, "Key": k}}, _key), _json), max_size=3),
        _json)})),
    st.tuples(st.sampled_from(["CreateTable", "UpdateTable", "DescribeTable", "ListTables", "UpdateTimeToLive",
                               "DescribeTimeToLive"]),
              st.dictionaries(st.sampled_from(["TableName", "KeySchema", "AttributeDefinitions", "Limit",
                                               "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode",
                                               "StreamSpecification", "TimeToLiveSpecification",
                                               "ExclusiveStartTableName"]), _json, max_size=4)),
)


@pytest.fixture(scope="module")
def operations() -> Operations:
    ops = Operations(MemoryStore())
    ops.handlers["CreateTable"]({
        "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "N"}],
    })
    return ops


def _answer(operations: Operations, op: str, body: Any) -> tuple[int, Any]:
    handler = operations.handlers.get(op) or operations.streams.handlers[op]
    try:
        return 200, handler(json.loads(json.dumps(body)))
    except Exception as e:  # answered as the app answers it
        return error_body(e)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=_requests)
@example(request=("GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "AttributesToGet": [[]]}))
@example(request=("ListTables", {"ExclusiveStartTableName": []}))
@example(request=("PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "ns": {"NS": ["sNaN"]}}}))
@example(request=("Scan", {"TableName": TABLE, "ScanFilter": {"a": {"ComparisonOperator": ["EQ"]}}}))
@example(request=("Scan", {"TableName": TABLE, "Segment": "0", "TotalSegments": "2",
                           "ExclusiveStartKey": {"pk": {"S": "a"}, "sk": {"N": "1"}}}))
@example(request=("Scan", {"TableName": TABLE, "Segment": [0], "TotalSegments": 2,
                           "ExclusiveStartKey": {"pk": {"S": "a"}, "sk": {"N": "1"}}}))
@example(request=("Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :v",
                            "ExpressionAttributeValues": {":v": {"S": "a"}},
                            "ExclusiveStartKey": {"pk": {"S": "a"}, "sk": {"S": "1"}}}))
@example(request=("Scan", {"TableName": TABLE, "ExclusiveStartKey": {"pk": {"N": "1"}, "sk": {"N": "1"}}}))
def test_no_request_gets_a_server_error(operations: Operations, request: tuple[str, Any]) -> None:
    op, body = request
    status, answer = _answer(operations, op, body)
    assert status < 500, (op, body, answer)


@pytest.mark.parametrize("body", [
    {"StreamArn": []}, {"StreamArn": "arn:aws:dynamodb:us-east-1:000000000000:table/hostile/stream/x", "Limit": "2"},
    {"TableName": 7}, {"ShardIterator": {"a": 1}}, {"ShardIterator": "x" * 5000}, {"ExclusiveStartStreamArn": [1]},
    {"ShardIterator": "ssi1." + base64.urlsafe_b64encode(b"[" * 1500).decode()},  # nested beyond the parser's stack
    {"StreamArn": "arn", "ShardId": [], "ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": {}},
])
def test_no_streams_request_gets_a_server_error(operations: Operations, body: dict[str, Any]) -> None:
    for op in operations.streams.handlers:
        status, answer = _answer(operations, op, body)
        assert status < 500, (op, body, answer)


def _post(app: GatewayApp, op: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """One POST through the ASGI app (no server): its status and JSON answer."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"",
             "headers": [(b"x-amz-target", f"DynamoDB_20120810.{op}".encode()),
                         (b"content-type", b"application/x-amz-json-1.0"),
                         (b"content-length", str(len(body)).encode())]}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # beyond orjson's depth and the standard parser's stack
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"TableName": "t", "Item": {"pk": {"S": "a"}, "d": ' + b'{"L": [' * 3_000 + b"]}" * 3_000 + b"}}",
    b"{nope", b'{"TableName": "\xff"}', b"\x00", b"[1, 2]", b'"x"', b"null", b'{"Limit": ' + b"9" * 5_000 + b"}",
], ids=lambda b: repr(b[:24]))
def test_no_request_body_gets_a_server_error(body: bytes) -> None:
    app = GatewayApp(MemoryStore())
    for op in ("PutItem", "ListTables"):
        status, answer = _post(app, op, body)
        assert 400 <= status < 500, (op, answer)
        if body.startswith((b"[[", b'{"a":{', b'{"TableName": "t", "Item"')):
            assert answer["__type"].endswith("SerializationException") and "nested too deeply" in answer["message"]
