"""Error mapping of the DynamoDB adapter: no botocore exception crosses the port.

Modelled errors come from botocore's Stubber; throttling and 5xx from a tiny
local HTTP server that answers every request with the same error, so that
botocore's own standard-mode retries really run; connection failures from a
port nobody listens on.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("boto3")

import boto3
from botocore.stub import Stubber

from storeswap import (
    BatchPut,
    ConditionFailed,
    IdempotencyMismatch,
    ItemTooLarge,
    KeyAttribute,
    OutcomeUnknown,
    StoreError,
    StoreUnavailable,
    TableExists,
    TableNotFound,
    TableSpec,
    Throttled,
    TransactionCanceled,
    TransactionConflict,
    TxCheck,
    TxDelete,
    TxPut,
    TxUpdate,
    ValidationError,
)
from storeswap.adapters.dynamodb import DynamoStore
from storeswap.adapters.dynamodb.errors import ItemCollectionTooLarge, map_error
from storeswap.adapters.dynamodb.marshal import deserialize_item
from storeswap.backends.dynamodb import free_port

TABLE = "errors_tbl"
SPEC = TableSpec(TABLE, KeyAttribute("pk", "S"), KeyAttribute("sk", "S"))
KEY = {"pk": "p", "sk": "s"}


def _client(endpoint: str = "http://127.0.0.1:1", **config: Any) -> Any:
    from botocore.config import Config

    return boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(**config) if config else None,
    )


def _describe_response() -> dict[str, Any]:
    return {
        "Table": {
            "TableName": TABLE,
            "TableStatus": "ACTIVE",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
        }
    }


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoStore, Stubber]]:
    client = _client()
    stubber = Stubber(client)
    stubber.add_response("describe_table", _describe_response())
    stubber.add_response("describe_time_to_live", {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
    sleeps: list[float] = []
    store = DynamoStore("dynamodb://127.0.0.1:1", client=client, sleep=sleeps.append)
    store.sleeps = sleeps  # type: ignore[attr-defined]
    with stubber:
        assert store.describe_table(TABLE) == SPEC
        yield store, stubber


def test_conditional_check_failed_carries_the_old_item(stubbed: tuple[DynamoStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error(
        "put_item", "ConditionalCheckFailedException", "The conditional request failed",
        modeled_fields={"Item": {"pk": {"S": "p"}, "sk": {"S": "s"}, "n": {"N": "1.50"}}},
    )
    with pytest.raises(ConditionFailed) as caught:
        store.put(TABLE, {**KEY, "n": 2}, condition="n = :one", values={":one": 1}, return_old_on_failure=True)
    assert caught.value.item == {"pk": "p", "sk": "s", "n": Decimal("1.5")}
    assert str(caught.value.item["n"]) == "1.5"
    stubber.add_client_error("delete_item", "ConditionalCheckFailedException", "The conditional request failed")
    with pytest.raises(ConditionFailed) as caught:
        store.delete(TABLE, KEY, condition="attribute_exists(pk)")
    assert caught.value.item is None


def test_transaction_cancelled_reasons_in_request_order(stubbed: tuple[DynamoStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error(
        "transact_write_items", "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, ValidationError, TransactionConflict]",
        modeled_fields={"CancellationReasons": [
            {"Code": "None"},
            {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
             "Item": {"pk": {"S": "p"}, "sk": {"S": "2"}, "b": {"B": b"\x00"}}},
            {"Code": "ValidationError", "Message": "bad"},
            {"Code": "TransactionConflict", "Message": "conflict"},
        ]},
    )
    with pytest.raises(TransactionCanceled) as caught:
        store.transact_write([
            TxPut(TABLE, {"pk": "p", "sk": "1"}),
            TxCheck(TABLE, {"pk": "p", "sk": "2"}, "attribute_not_exists(pk)", return_old_on_failure=True),
            TxUpdate(TABLE, {"pk": "p", "sk": "3"}, "SET n = n + :one", values={":one": 1}),
            TxDelete(TABLE, {"pk": "p", "sk": "4"}),
        ], token="tok")
    err = caught.value
    assert err.codes == ["None", "ConditionalCheckFailed", "ValidationError", "TransactionConflict"]
    assert err.reasons[1].item == {"pk": "p", "sk": "2", "b": b"\x00"}
    assert err.reasons[0].item is None


def test_transaction_cancelled_without_structured_reasons_reads_the_message() -> None:
    from botocore.exceptions import ClientError

    e = ClientError({"Error": {"Code": "TransactionCanceledException",
                               "Message": "Transaction cancelled, please refer cancellation reasons for specific "
                                          "reasons [None, ConditionalCheckFailed]"}}, "TransactWriteItems")
    mapped = map_error(e, write=True, decode=deserialize_item, actions=2)
    assert isinstance(mapped, TransactionCanceled)
    assert mapped.codes == ["None", "ConditionalCheckFailed"]


@pytest.mark.parametrize(("code", "message", "expected"), [
    ("IdempotentParameterMismatchException", "token reused", IdempotencyMismatch),
    ("TransactionConflictException", "conflict", TransactionConflict),
    ("TransactionInProgressException", "in progress", TransactionConflict),
    ("ValidationException", "One or more parameter values were invalid", ValidationError),
    ("ValidationException", "Item size has exceeded the maximum allowed size", ItemTooLarge),
    ("ItemCollectionSizeLimitExceededException", "too big", ItemCollectionTooLarge),
    ("ResourceNotFoundException", "Requested resource not found", TableNotFound),
])
def test_modelled_errors(stubbed: tuple[DynamoStore, Stubber], code: str, message: str,
                         expected: type[StoreError]) -> None:
    store, stubber = stubbed
    stubber.add_client_error("transact_write_items", code, message)
    with pytest.raises(expected):
        store.transact_write([TxPut(TABLE, {"pk": "p", "sk": "1"})])


def test_table_not_found_drops_the_cached_spec(stubbed: tuple[DynamoStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error("get_item", "ResourceNotFoundException", "Requested resource not found")
    with pytest.raises(TableNotFound):
        store.get(TABLE, KEY)
    # the spec is looked up again on the next call
    stubber.add_client_error("describe_table", "ResourceNotFoundException", "Requested resource not found")
    with pytest.raises(TableNotFound):
        store.get(TABLE, KEY)


def test_create_table_that_exists(stubbed: tuple[DynamoStore, Stubber]) -> None:
    store, stubber = stubbed
    stubber.add_client_error("create_table", "ResourceInUseException", "Table already exists")
    with pytest.raises(TableExists):
        store.create_table(SPEC)


def test_unprocessed_items_are_retried_with_backoff(stubbed: tuple[DynamoStore, Stubber]) -> None:
    store, stubber = stubbed
    left = {TABLE: [{"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"S": "2"}}}}]}
    stubber.add_response("batch_write_item", {"UnprocessedItems": left})
    stubber.add_response("batch_write_item", {"UnprocessedItems": left})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})
    store.batch_write([BatchPut(TABLE, {"pk": "p", "sk": "1"}), BatchPut(TABLE, {"pk": "p", "sk": "2"})])
    stubber.assert_no_pending_responses()
    sleeps = store.sleeps  # type: ignore[attr-defined]
    assert len(sleeps) == 2 and all(0 <= s <= 2.0 for s in sleeps)


def test_unprocessed_items_forever_is_throttled(stubbed: tuple[DynamoStore, Stubber]) -> None:
    from storeswap.adapters.dynamodb import store as store_module

    store, stubber = stubbed
    left = {TABLE: [{"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"S": "1"}}}}]}
    for _ in range(store_module.BATCH_ATTEMPTS):
        stubber.add_response("batch_write_item", {"UnprocessedItems": left})
    with pytest.raises(Throttled):
        store.batch_write([BatchPut(TABLE, {"pk": "p", "sk": "1"})])


def test_unprocessed_keys_are_retried(stubbed: tuple[DynamoStore, Stubber]) -> None:
    store, stubber = stubbed
    k1 = {"pk": {"S": "p"}, "sk": {"S": "1"}}
    k2 = {"pk": {"S": "p"}, "sk": {"S": "2"}}
    stubber.add_response("batch_get_item", {"Responses": {TABLE: [{**k2, "v": {"N": "2"}}]},
                                            "UnprocessedKeys": {TABLE: {"Keys": [k1]}}})
    stubber.add_response("batch_get_item", {"Responses": {TABLE: [{**k1, "v": {"N": "1"}}]}, "UnprocessedKeys": {}})
    got = store.batch_get({TABLE: [{"pk": "p", "sk": "1"}, {"pk": "p", "sk": "2"}, {"pk": "p", "sk": "3"}]})
    assert sorted(got[TABLE], key=lambda i: i["sk"]) == [
        {"pk": "p", "sk": "1", "v": Decimal(1)}, {"pk": "p", "sk": "2", "v": Decimal(2)}]


def test_a_driver_failure_that_is_not_botocore_is_mapped_too() -> None:
    assert isinstance(map_error(AttributeError("x"), write=True, decode=deserialize_item), OutcomeUnknown)
    mapped = map_error(AttributeError("x"), write=False, decode=deserialize_item)
    assert isinstance(mapped, StoreError) and not isinstance(mapped, OutcomeUnknown)


# ------------------------------------------------------------ a real HTTP server


class _ErrorServer:
    """Answers every DynamoDB request with one error; counts the requests (so retries are visible)."""

    def __init__(self, status: int, code: str) -> None:
        self.requests = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "no"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _store_at(port: int, attempts: int) -> DynamoStore:
    # No test here is about a timeout: the server answers at once, with its error, and a closed port refuses at once.
    # The timeouts only bound a hang, so they are long enough that a reply slowed by a loaded machine is still the
    # reply under test (with a 2 s read timeout it could become a timeout, mapped to another error than Throttled).
    store = DynamoStore(f"dynamodb://127.0.0.1:{port}?max_attempts={attempts}&connect_timeout=30&read_timeout=60")
    # The table spec is what a describe would have returned; no server call needed for it.
    store._spec_cache.specs[TABLE] = SPEC
    return store


@pytest.mark.parametrize("code", ["ProvisionedThroughputExceededException", "ThrottlingException",
                                  "RequestLimitExceeded"])
def test_throttling_is_retried_by_botocore_then_throttled(code: str) -> None:
    server = _ErrorServer(400, code)
    try:
        store = _store_at(server.port, attempts=2)
        with pytest.raises(Throttled):
            store.get(TABLE, KEY)
        assert server.requests == 2  # botocore's standard mode retried once
        store.close()
    finally:
        server.close()


def test_server_errors_make_writes_unknown_and_reads_unavailable() -> None:
    server = _ErrorServer(500, "InternalServerError")
    try:
        store = _store_at(server.port, attempts=1)
        with pytest.raises(OutcomeUnknown) as caught:
            store.put(TABLE, KEY)
        assert caught.value.outcome_unknown and caught.value.retryable
        with pytest.raises(OutcomeUnknown):
            store.update(TABLE, KEY, "SET a = :v", values={":v": 1})
        with pytest.raises(OutcomeUnknown):
            store.transact_write([TxPut(TABLE, KEY)])
        with pytest.raises(StoreUnavailable):
            store.get(TABLE, KEY)
        with pytest.raises(StoreUnavailable):
            store.query(TABLE, "pk = :p", values={":p": "p"})
        store.close()
    finally:
        server.close()


def test_nobody_listening() -> None:
    store = _store_at(free_port(), attempts=1)
    with pytest.raises(StoreUnavailable) as read:
        store.get(TABLE, KEY)
    with pytest.raises(OutcomeUnknown) as write:
        store.put(TABLE, KEY)
    for caught in (read, write):
        assert "botocore" not in type(caught.value).__module__
    store.close()


def test_repr_never_shows_credentials() -> None:
    store = DynamoStore("dynamodb://AKIDEXAMPLE:s3cr3t%2Fkey@127.0.0.1:8000?region=eu-west-1")
    assert "s3cr3t" not in repr(store) and "AKIDEXAMPLE" not in repr(store)
    assert "s3cr3t" not in repr(store.config)
    assert repr(store) == "DynamoStore('dynamodb://127.0.0.1:8000?region=eu-west-1')"
    assert store.config.secret_key == "s3cr3t/key"
    store.close()


def test_url_parsing() -> None:
    from storeswap.adapters.dynamodb.client import parse_url
    from storeswap.core.errors import ConfigurationError

    assert parse_url("dynamodb://").endpoint_url is None
    assert parse_url("dynamodb://localhost:8000").endpoint_url == "http://localhost:8000"
    assert parse_url("dynamodb://example.com:443?tls=true").endpoint_url == "https://example.com:443"
    assert parse_url("dynamodb://?region=eu-central-1").region == "eu-central-1"
    assert parse_url("dynamodb://h:1?max_attempts=9").max_attempts == 9
    for bad in ["dynamodb://h:1?bogus=1", "dynamodb://h:1?max_attempts=x", "dynamodb://?tls=true",
                "dynamodb://user@h:1", "postgresql://h"]:
        with pytest.raises(ConfigurationError):
            parse_url(bad)


def test_local_endpoint_gets_placeholder_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    store = DynamoStore("dynamodb://127.0.0.1:8000")
    creds = store.client._request_signer._credentials
    assert (creds.access_key, creds.secret_key) == ("storeswap", "storeswap")
    assert store.client.meta.region_name == "us-east-1"
    store.close()
