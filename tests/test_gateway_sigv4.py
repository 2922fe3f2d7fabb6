"""SigV4 on the gateway: botocore's own signer makes the requests; wrong keys, bad signatures and stale dates are refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from storeswap.connect import open_store
from storeswap.core.errors import ConfigurationError
from storeswap.gateway.server import GatewayServer
from storeswap.gateway.sigv4 import SigV4Verifier, load_credentials

KEY, SECRET = "AKIDGATEWAYTEST", "gateway-secret-key"


@pytest.fixture
def credentials_file(tmp_path: Path) -> Path:
    path = tmp_path / "credentials"
    path.write_text(f"[default]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n\n[other]\n"
                    "aws_access_key_id = AKIDOTHER\naws_secret_access_key = other\n")
    return path


@pytest.fixture
def gateway(credentials_file: Path) -> Iterator[GatewayServer]:
    with GatewayServer(open_store("memory://"), auth=SigV4Verifier(load_credentials(credentials_file))) as g:
        yield g


def _client(g: GatewayServer, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client("dynamodb", endpoint_url=g.endpoint_url, region_name="eu-west-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"total_max_attempts": 1}))


def _create(client: Any, name: str) -> Any:
    return client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                               BillingMode="PAY_PER_REQUEST")


def test_load_credentials(credentials_file: Path, tmp_path: Path) -> None:
    assert load_credentials(credentials_file) == {KEY: SECRET, "AKIDOTHER": "other"}
    empty = tmp_path / "empty"
    empty.write_text("[x]\nregion = us-east-1\n")
    with pytest.raises(ConfigurationError):
        load_credentials(empty)
    with pytest.raises(ConfigurationError):
        load_credentials(tmp_path / "missing")
    binary = tmp_path / "binary"
    binary.write_bytes(b"[x]\naws_access_key_id = \xff\xfe\n")
    with pytest.raises(ConfigurationError, match="not text"):
        load_credentials(binary)
    with pytest.raises(ConfigurationError):
        load_credentials(tmp_path)  # a directory


def test_a_correctly_signed_request_runs(gateway: GatewayServer) -> None:
    _create(_client(gateway), "signed_ok")
    assert _client(gateway).list_tables()["TableNames"] == ["signed_ok"]


def test_wrong_secret_is_an_invalid_signature_and_runs_nothing(gateway: GatewayServer) -> None:
    with pytest.raises(ClientError) as e:
        _create(_client(gateway, secret="wrong"), "never_created")
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _client(gateway).list_tables()["TableNames"] == []


def test_unknown_access_key(gateway: GatewayServer) -> None:
    with pytest.raises(ClientError) as e:
        _client(gateway, key="AKIDNOBODY").list_tables()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"


def _signed(g: GatewayServer, body: bytes, *, secret: str = SECRET) -> AWSRequest:
    request = AWSRequest(method="POST", url=g.endpoint_url + "/", data=body, headers={
        "X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials(KEY, secret), "dynamodb", "us-east-1").add_auth(request)
    return request


def _send(g: GatewayServer, request: AWSRequest, body: bytes | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(g.endpoint_url + "/", data=body if body is not None else request.body,
                                 method="POST", headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_botocore_signed_request_and_a_tampered_body(gateway: GatewayServer) -> None:
    request = _signed(gateway, b"{}")
    assert _send(gateway, request) == (200, {"TableNames": []})
    status, body = _send(gateway, request, b'{"Limit": 1}')
    assert status == 400 and body["__type"].endswith("#InvalidSignatureException")


def test_missing_authorization(gateway: GatewayServer) -> None:
    request = _signed(gateway, b"{}")
    del request.headers["Authorization"]
    status, body = _send(gateway, request)
    assert status == 400 and body["__type"].endswith("#MissingAuthenticationTokenException")


def test_an_expired_date_is_refused(credentials_file: Path) -> None:
    # The server's clock runs 20 minutes ahead: a request signed now is past the 15-minute window.
    ahead = SigV4Verifier(load_credentials(credentials_file), clock=lambda: datetime.now(UTC) + timedelta(minutes=20))
    with GatewayServer(open_store("memory://"), auth=ahead) as g:
        with pytest.raises(ClientError) as e:
            _create(_client(g), "too_late")
        assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert "Signature expired" in e.value.response["Error"]["Message"]
        assert g.store.list_tables() == []
