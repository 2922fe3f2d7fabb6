"""The guide's raw boto3 handler against a DynamoDB endpoint, beside the repository version.

The endpoint is ``COUNTER_DYNAMODB_ENDPOINT`` when set (DynamoDB Local, AWS,
or a ``storeswap serve`` gateway); else every test runs twice: against the
moto server storeswap provisions, and against storeswap's DynamoDB gateway
over a memory store (the same unchanged boto3 code on storeswap's semantics).
Both handlers store the same items, so a counter created by one is
incremented by the other.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

boto3 = pytest.importorskip("boto3", reason="the raw handler needs boto3 (storeswap[dynamodb])")

import raw_boto3_handler  # noqa: E402

_ENDPOINTS = ["given"] if os.environ.get("COUNTER_DYNAMODB_ENDPOINT") else ["moto", "gateway-memory"]


@pytest.fixture(scope="module", params=_ENDPOINTS)
def endpoint(request):
    if request.param == "given":
        yield os.environ["COUNTER_DYNAMODB_ENDPOINT"]
    elif request.param == "moto":
        from storeswap.backends.dynamodb import provision

        yield "http://" + provision().split("://", 1)[1].split("?", 1)[0]
    else:
        from storeswap.connect import open_store
        from storeswap.gateway.server import GatewayServer

        store = open_store("memory://")
        with GatewayServer(store) as gateway:
            yield gateway.endpoint_url
        store.close()


@pytest.fixture
def raw(endpoint, monkeypatch):
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ.get("AWS_ACCESS_KEY_ID", "testing"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    table = f"counters_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("COUNTER_TABLE", table)
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    raw_boto3_handler.reset()
    yield raw_boto3_handler
    raw_boto3_handler.reset()
    client.delete_table(TableName=table)


def call(handler, body):
    response = handler.handler({"body": json.dumps(body)}, None)
    return response["statusCode"], json.loads(response["body"])


def test_the_raw_handler_creates_and_increments(raw):
    status, body = call(raw, {})
    assert status == 200 and body["value"] == 1
    assert call(raw, {"id": body["id"], "by": 4}) == (200, {"id": body["id"], "value": 5})
    assert call(raw, {"id": str(uuid.uuid4())})[0] == 404
    assert call(raw, {"by": "x"})[0] == 400


def test_both_handlers_serve_one_table(raw, endpoint, monkeypatch):
    import counter_service

    monkeypatch.setenv("STORESWAP_URL", "dynamodb://" + endpoint.split("://", 1)[1])
    try:
        _, made_raw = call(raw, {})
        _, made_repo = call(counter_service, {})
        assert call(counter_service, {"id": made_raw["id"]})[1]["value"] == 2
        assert call(raw, {"id": made_repo["id"]})[1]["value"] == 2
        stored = counter_service.repository().get(counter_service.Counter, id=uuid.UUID(made_raw["id"]))
        assert stored == counter_service.Counter(uuid.UUID(made_raw["id"]), value=2, version=3)
    finally:
        counter_service.close_repositories()
