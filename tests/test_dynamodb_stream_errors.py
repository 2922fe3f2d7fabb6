"""DynamoDB Streams errors go through the adapter's one translation (``_calling`` -> ``map_error``).

Every call of the stream primitives (``DescribeTable`` for the stream ARN,
``DescribeStream``, ``GetShardIterator``, ``GetRecords``, ``UpdateTable``,
``UpdateTimeToLive``) is stubbed with botocore's Stubber to answer each error,
and the port must raise the mapped type: the stream-specific codes
(``TrimmedDataAccessException``, ``ResourceNotFoundException`` of a stream or
shard, ``ExpiredIteratorException``) as well as the general ones (throttling,
limits, 5xx, validation, connection failures).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("boto3")

import boto3
from botocore.stub import Stubber

from storeswap.adapters.dynamodb import DynamoStore
from storeswap.adapters.dynamodb.errors import AccessDenied, LimitExceeded, ShardIteratorExpired
from storeswap.backends.dynamodb import free_port
from storeswap.core.changes import Position, encode_position
from storeswap.core.errors import (
    OutcomeUnknown,
    StoreError,
    StoreUnavailable,
    StreamPositionExpired,
    TableNotFound,
    Throttled,
    ValidationError,
)

TABLE = "stream_errors"
ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/stream/2026-01-01T00:00:00.000"
SHARD = "shardId-00000001700000000000-0123abcd"
SEQ = "1" * 21
ITERATOR = "i" * 40
FRESH = "f" * 40


def _client(service: str, endpoint: str = "http://127.0.0.1:1", **config: Any) -> Any:
    from botocore.config import Config

    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(**config) if config else None,
    )


def _describe_table() -> dict[str, Any]:
    return {
        "Table": {
            "TableName": TABLE,
            "TableStatus": "ACTIVE",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            "LatestStreamArn": ARN,
        }
    }


def _describe_stream() -> dict[str, Any]:
    return {
        "StreamDescription": {
            "StreamArn": ARN,
            "StreamStatus": "ENABLED",
            "StreamViewType": "NEW_IMAGE",
            "Shards": [{"ShardId": SHARD, "SequenceNumberRange": {"StartingSequenceNumber": SEQ}}],
        }
    }


def _record(seq: str) -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"pk": {"S": "a"}},
            "NewImage": {"pk": {"S": "a"}},
            "SequenceNumber": seq,
            "SizeBytes": 5,
            "StreamViewType": "NEW_IMAGE",
        },
    }


class Stubbed:
    """A store whose DynamoDB and DynamoDB Streams clients are both stubbed."""

    def __init__(self) -> None:
        self.client = _client("dynamodb")
        self.streams = _client("dynamodbstreams")
        self.db = Stubber(self.client)
        self.st = Stubber(self.streams)
        self.store = DynamoStore("dynamodb://127.0.0.1:1", client=self.client)
        self.store.streams_client = self.streams

    def describe(self) -> None:
        self.db.add_response("describe_table", _describe_table())
        self.db.add_response("describe_time_to_live", {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})


@pytest.fixture
def stubbed() -> Iterator[Stubbed]:
    s = Stubbed()
    s.describe()
    with s.db, s.st:
        assert s.store.describe_table(TABLE).stream == "NEW_IMAGE"
        yield s
        s.db.assert_no_pending_responses()
        s.st.assert_no_pending_responses()


def _after(seq: str | None = SEQ) -> str:
    """A position inside the stream's one shard."""
    return encode_position(Position(TABLE, ARN, {SHARD: seq}))


# ------------------------------------------------------------ stream-specific codes


def test_a_stream_that_no_longer_exists_is_an_expired_position(stubbed: Stubbed) -> None:
    stubbed.st.add_client_error("describe_stream", "ResourceNotFoundException", "Requested resource not found")
    with pytest.raises(StreamPositionExpired):
        stubbed.store.changes(TABLE, after=_after())


def test_a_shard_that_no_longer_exists_is_an_expired_position(stubbed: Stubbed) -> None:
    stubbed.st.add_response("describe_stream", _describe_stream())
    stubbed.st.add_client_error(
        "get_shard_iterator", "ResourceNotFoundException", "Requested resource not found: Shard does not exist"
    )
    with pytest.raises(StreamPositionExpired):
        stubbed.store.changes(TABLE, after=_after())


@pytest.mark.parametrize("call", ["get_shard_iterator", "get_records"])
def test_trimmed_data_is_an_expired_position(stubbed: Stubbed, call: str) -> None:
    stubbed.st.add_response("describe_stream", _describe_stream())
    if call == "get_records":
        stubbed.st.add_response("get_shard_iterator", {"ShardIterator": ITERATOR})
    stubbed.st.add_client_error(call, "TrimmedDataAccessException", "trimmed")
    with pytest.raises(StreamPositionExpired):
        stubbed.store.changes(TABLE, after=_after())


def test_an_expired_iterator_is_renewed_from_the_last_position(stubbed: Stubbed) -> None:
    later = "2" * 21
    st = stubbed.st
    st.add_response("describe_stream", _describe_stream())
    st.add_response("get_shard_iterator", {"ShardIterator": ITERATOR})
    st.add_client_error("get_records", "ExpiredIteratorException", "Iterator expired")
    renewal = {"StreamArn": ARN, "ShardId": SHARD, "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": SEQ}
    st.add_response("get_shard_iterator", {"ShardIterator": FRESH}, expected_params=renewal)
    st.add_response(
        "get_records",
        {"Records": [_record(later)], "NextShardIterator": ITERATOR},
        expected_params={"ShardIterator": FRESH, "Limit": 1000},
    )
    page = stubbed.store.changes(TABLE, after=_after())
    assert [r.sequence for r in page.records] == [later]


def test_a_fresh_iterator_refused_as_expired_is_an_error_not_a_loop(stubbed: Stubbed) -> None:
    st = stubbed.st
    st.add_response("describe_stream", _describe_stream())
    st.add_response("get_shard_iterator", {"ShardIterator": ITERATOR})
    st.add_client_error("get_records", "ExpiredIteratorException", "Iterator expired")
    st.add_response("get_shard_iterator", {"ShardIterator": FRESH})
    st.add_client_error("get_records", "ExpiredIteratorException", "Iterator expired")
    with pytest.raises(ShardIteratorExpired):
        stubbed.store.changes(TABLE, after=_after())


# ------------------------------------------------------------ the general codes, on stream calls


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("LimitExceededException", 400, LimitExceeded),
        ("ThrottlingException", 400, Throttled),
        ("InternalServerError", 500, StoreUnavailable),
        ("ValidationException", 400, ValidationError),
        ("AccessDeniedException", 400, AccessDenied),
    ],
)
def test_general_codes_of_get_records_map_as_everywhere(
    stubbed: Stubbed, code: str, status: int, expected: type[StoreError]
) -> None:
    stubbed.st.add_response("describe_stream", _describe_stream())
    stubbed.st.add_response("get_shard_iterator", {"ShardIterator": ITERATOR})
    stubbed.st.add_client_error("get_records", code, "no", http_status_code=status)
    with pytest.raises(expected):
        stubbed.store.changes(TABLE, after=_after())


def test_the_tables_stream_arn_of_a_missing_table_is_table_not_found(stubbed: Stubbed) -> None:
    stubbed.db.add_client_error("describe_table", "ResourceNotFoundException", "Requested resource not found")
    with pytest.raises(TableNotFound):
        stubbed.store.changes(TABLE)
    # The cached spec was dropped, as for every other call that finds the table gone.
    stubbed.describe()
    assert stubbed.store.spec(TABLE).stream == "NEW_IMAGE"


def test_set_stream_unanswered_is_an_unknown_outcome(stubbed: Stubbed) -> None:
    stubbed.db.add_client_error("update_table", "InternalServerError", "oops", http_status_code=500)
    with pytest.raises(OutcomeUnknown):
        stubbed.store.set_stream(TABLE, None)


def test_set_ttl_refused_is_a_validation_error(stubbed: Stubbed) -> None:
    stubbed.db.add_client_error("update_time_to_live", "ValidationException", "TimeToLive is already being changed")
    with pytest.raises(ValidationError):
        stubbed.store.set_ttl(TABLE, "expires")


def test_an_unreachable_streams_endpoint_is_unavailable() -> None:
    s = Stubbed()
    s.store.streams_client = _client(
        "dynamodbstreams", f"http://127.0.0.1:{free_port()}", retries={"total_max_attempts": 1, "mode": "standard"}
    )
    s.describe()
    with s.db:
        s.store.describe_table(TABLE)
        with pytest.raises(StoreUnavailable, match="cannot connect"):
            s.store.changes(TABLE, after=_after())


# ------------------------------------------------------------ one rule in one place


def test_only_the_error_module_of_the_adapter_handles_botocore_exceptions() -> None:
    import storeswap.adapters.dynamodb as pkg

    offenders = []
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("botocore.exceptions"):
                offenders.append(path.name)
    assert offenders == []
