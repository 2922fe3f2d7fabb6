"""``storeswap serve``: starts, serves, warns when reachable from outside without --auth, refuses bad auth options."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from storeswap.backends.dynamodb import free_port, wait_for_http
from storeswap.cli import main
from storeswap.gateway.server import is_loopback

ROOT = Path(__file__).resolve().parents[1]


def _serve(*args: str, store: str = "memory") -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "storeswap.cli", "serve", "--store", store, "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return proc, port


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_serve_on_loopback_answers_without_a_warning() -> None:
    proc, port = _serve()
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/").read().startswith(b"healthy")
    finally:
        err = _stop(proc)
    assert "DynamoDB API on http://127.0.0.1" in err and "warning" not in err
    # SIGTERM ends serve() normally (exit 0), so atexit clean-up (an embedded PostgreSQL) runs.
    assert proc.returncode == 0, err


def test_binding_beyond_loopback_without_auth_warns() -> None:
    proc, port = _serve("--host", "0.0.0.0")
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
    finally:
        err = _stop(proc)
    assert "warning: the gateway listens on 0.0.0.0" in err and "--auth sigv4" in err


def test_bad_auth_options_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--store", "memory", "--auth", "sigv4"]) == 2
    assert "needs --credentials" in capsys.readouterr().err
    assert main(["serve", "--store", "memory", "--auth", "basic"]) == 2
    assert "--auth is none or sigv4" in capsys.readouterr().err
    assert main(["serve", "--store", "memory", "--workers", "2"]) == 2
    assert "outside the process" in capsys.readouterr().err


def _expired_item_disappears(port: int) -> None:
    import boto3

    c = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                     aws_access_key_id="x", aws_secret_access_key="x")
    table = f"ttl_{uuid.uuid4().hex[:8]}"
    c.create_table(TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    c.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    c.put_item(TableName=table, Item={"pk": {"S": "old"}, "expires": {"N": str(int(time.time()) - 60)}})
    c.put_item(TableName=table, Item={"pk": {"S": "new"}, "expires": {"N": str(int(time.time()) + 3600)}})
    deadline = time.monotonic() + 30
    while "Item" in c.get_item(TableName=table, Key={"pk": {"S": "old"}}, ConsistentRead=True):
        assert time.monotonic() < deadline, "the expired item is still there after 30 s of 0.2 s sweeps"
        time.sleep(0.1)
    assert "Item" in c.get_item(TableName=table, Key={"pk": {"S": "new"}}, ConsistentRead=True)
    c.delete_table(TableName=table)


def test_ttl_sweep_removes_an_expired_item_through_the_gateway() -> None:
    proc, port = _serve("--ttl-sweep-s", "0.2")
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
        _expired_item_disappears(port)
    finally:
        err = _stop(proc)
    assert "TTL sweep every 0.2 s" in err


@pytest.mark.slow
def test_ttl_sweep_with_worker_processes_on_postgres() -> None:
    """With --workers the supervising process sweeps (one sweeper, not one per worker)."""
    from storeswap.backends.postgres import provision

    proc, port = _serve("--ttl-sweep-s", "0.2", "--workers", "2", store=provision())
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
        _expired_item_disappears(port)
    finally:
        _stop(proc)


def test_without_ttl_sweep_expired_items_stay() -> None:
    """The control: no --ttl-sweep-s, no sweeper (DynamoDB's TTL is a background deletion, never a read filter)."""
    import boto3

    proc, port = _serve()
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
        c = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                         aws_access_key_id="x", aws_secret_access_key="x")
        c.create_table(TableName="ttl_kept", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       BillingMode="PAY_PER_REQUEST")
        c.update_time_to_live(TableName="ttl_kept", TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
        c.put_item(TableName="ttl_kept", Item={"pk": {"S": "old"}, "expires": {"N": "1"}})
        time.sleep(1.0)
        assert "Item" in c.get_item(TableName="ttl_kept", Key={"pk": {"S": "old"}}, ConsistentRead=True)
    finally:
        _stop(proc)


def test_bad_ttl_sweep_interval_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--store", "memory", "--ttl-sweep-s", "0"]) == 2
    assert "--ttl-sweep-s is a positive number" in capsys.readouterr().err


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.com")
