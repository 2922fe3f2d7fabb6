"""The gateway's store-call threads and its opt-in Server-Timing header (no timing thresholds)."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from storeswap import open_store
from storeswap.gateway.server import GatewayServer
from storeswap.gateway.timing import parse_server_timing

_TABLE = {"TableName": "timed", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
          "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"}


def _call(conn: http.client.HTTPConnection, op: str, body: dict) -> tuple[int, dict, http.client.HTTPResponse]:
    conn.request("POST", "/", json.dumps(body).encode(), {"X-Amz-Target": f"DynamoDB_20120810.{op}",
                                                           "Content-Type": "application/x-amz-json-1.0"})
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read()), resp


@pytest.mark.parametrize("threads", [0, 3])
def test_server_timing_reports_store_and_app_time(threads: int) -> None:
    with GatewayServer(open_store("memory://"), threads=threads, server_timing=True) as g:
        conn = http.client.HTTPConnection(g.host, g.port)
        assert _call(conn, "CreateTable", _TABLE)[0] == 200
        _call(conn, "PutItem", {"TableName": "timed", "Item": {"pk": {"S": "a"}}})
        status, out, resp = _call(conn, "GetItem", {"TableName": "timed", "Key": {"pk": {"S": "a"}}})
        assert status == 200 and out == {"Item": {"pk": {"S": "a"}}}
        timing = parse_server_timing(resp.getheader("server-timing"))
        assert set(timing) == {"store", "app"}
        assert 0 < timing["store"] <= timing["app"]
        # An error is answered (and timed) the same way.
        status, out, resp = _call(conn, "GetItem", {"TableName": "missing", "Key": {"pk": {"S": "a"}}})
        assert status == 400 and out["__type"].endswith("ResourceNotFoundException")
        assert "app" in parse_server_timing(resp.getheader("server-timing"))
        conn.close()


def test_no_server_timing_header_by_default() -> None:
    with GatewayServer(open_store("memory://")) as g:
        conn = http.client.HTTPConnection(g.host, g.port)
        _, _, resp = _call(conn, "CreateTable", _TABLE)
        assert resp.getheader("server-timing") is None
        conn.close()


def test_store_threads_serve_concurrent_clients_and_carry_errors_back() -> None:
    """With a pool of 2 threads, 8 clients each get their own answers, and store errors keep their shape."""
    with GatewayServer(open_store("memory://"), threads=2) as g:
        setup = http.client.HTTPConnection(g.host, g.port)
        _call(setup, "CreateTable", _TABLE)
        failures: list[str] = []

        def client(n: int) -> None:
            conn = http.client.HTTPConnection(g.host, g.port)
            for i in range(30):
                key = {"pk": {"S": f"{n}-{i}"}}
                _call(conn, "PutItem", {"TableName": "timed", "Item": {**key, "n": {"N": str(i)}}})
                status, out, _ = _call(conn, "GetItem", {"TableName": "timed", "Key": key})
                if out.get("Item", {}).get("n") != {"N": str(i)}:
                    failures.append(f"{n}-{i}: {out}")
                status, out, _ = _call(conn, "PutItem", {"TableName": "timed", "Item": key,
                                                         "ConditionExpression": "attribute_not_exists(pk)"})
                if status != 400 or not out["__type"].endswith("ConditionalCheckFailedException"):
                    failures.append(f"{n}-{i}: {status} {out}")
            conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        setup.close()
