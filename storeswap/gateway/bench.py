"""``python -m storeswap.gateway.bench``: the gateway against moto, side by side, in one interleaved run.

Servers: the gateway over memory and over PostgreSQL (each a ``storeswap
serve`` subprocess, so server and clients do not share a GIL; PostgreSQL also
with ``--workers 2``, and once more with ``synchronous_commit=off`` on the
gateway's sessions, see below) and moto's server.  Operations: GetItem, PutItem, UpdateItem, Query (10 items) and
BatchWriteItem (25 items), at 1 and 8 concurrent clients, through a raw
keep-alive HTTP client and through boto3.  Rounds rotate over the servers
so that a change in machine load hits every column alike.

Also reported:

- the driver's ceiling, the ``psycopg-raw`` column of the raw-client rows: each operation as the fewest durable
  statements of its shape through psycopg alone, on the same database, interleaved with the servers
  (:class:`PsycopgClient`); a gateway over PostgreSQL cannot serve more than this on the same machine, so it
  says how far a goal like "10x moto" is from what the driver and the machine allow;
- the gateway's server-side overhead, from a gateway started with
  ``--server-timing``: per request, the app's time minus the time inside the
  store for that very call; beside it the client's view, the raw HTTP p50
  and the p50 of the same port call on the same item in this process,
  interleaved call by call (that difference includes the client's own HTTP
  work and loopback);
- the DynamoDB adapter against raw boto3 with the gateway over memory as the
  server (moto's own latency hid the adapter's cost), interleaved pairs.

Durability classes: moto keeps its tables in memory and flushes nothing,
while a PostgreSQL commit waits for its WAL flush (an fsync, shared with every
other writer of the cluster).  The ``gateway-postgres-nosync`` column runs
the same server with ``synchronous_commit=off`` set on its own sessions only
(:func:`nosync_url`; the server's configuration is not touched): commits
return before the flush, the database stays consistent after a crash, but
the last writes acknowledged (up to about three ``wal_writer_delay``, 0.6 s
by default) can be lost, which is still more durable than moto and is the
comparable class.  The durable columns are the default and stay in the
table; the two ratios are reported side by side (``--no-nosync`` leaves the
column out).

No thresholds: the output is a report (Markdown on stdout, JSON with
``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["main", "run", "nosync_url", "NOSYNC_OPTION", "CLIENTS", "find_wrk", "wrk_script", "parse_wrk", "request_body",
           "PsycopgClient", "RAW_TABLE", "RAW_DRIVER", "prepare_raw_table", "drop_raw_table"]

TABLE = "gw_bench"
#: Writes go to their own table, so the read workload sees the same small table all run long.
WRITE_TABLE = "gw_bench_writes"
PAYLOAD = "x" * 100
OPS = ("GetItem", "PutItem", "UpdateItem", "Query10", "BatchWrite25")
#: The clients: Python's http.client (RawClient), wrk (a compiled load generator) and boto3.
CLIENTS = ("raw", "wrk", "boto3")
_HOST = "127.0.0.1"
#: The libpq ``options`` setting of the nosync column: no WAL flush wait at commit, on these sessions only.
NOSYNC_OPTION = "-c synchronous_commit=off"


# ---------------------------------------------------------------- requests


def request_body(op: str, worker: int, i: int) -> dict[str, Any]:
    """The DynamoDB request of operation ``op`` for the i-th call of a worker."""
    if op == "GetItem":
        return {"TableName": TABLE, "Key": {"pk": {"S": f"g#{(worker * 7919 + i) % 200}"}, "sk": {"N": "0"}}}
    if op == "PutItem":
        return {"TableName": WRITE_TABLE, "Item": {"pk": {"S": f"p#{worker}#{i}"}, "sk": {"N": "0"},
                                             "payload": {"S": PAYLOAD}}}
    if op == "UpdateItem":
        return {"TableName": WRITE_TABLE, "Key": {"pk": {"S": f"u#{worker}#{i % 50}"}, "sk": {"N": "0"}},
                "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
    if op == "Query10":
        return {"TableName": TABLE, "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "q"}}, "Limit": 10}
    assert op == "BatchWrite25"
    return {"RequestItems": {WRITE_TABLE: [
        {"PutRequest": {"Item": {"pk": {"S": f"b#{worker}#{i}"}, "sk": {"N": str(j)}, "payload": {"S": PAYLOAD}}}}
        for j in range(25)
    ]}}


_TARGETS = {"GetItem": "GetItem", "PutItem": "PutItem", "UpdateItem": "UpdateItem", "Query10": "Query",
            "BatchWrite25": "BatchWriteItem"}
_BOTO = {"GetItem": "get_item", "PutItem": "put_item", "UpdateItem": "update_item", "Query10": "query",
         "BatchWrite25": "batch_write_item"}


class RawClient:
    """A keep-alive HTTP/1.1 client speaking DynamoDB's JSON protocol (no signing: servers here do not check).

    ``http.client`` writes the headers and the body with two ``send`` calls; the socket is corked around
    each request (``TCP_CORK``, where the platform has it) so the request leaves in one segment, as a
    client writing one buffer would send it, and a server does not wait for the second half (that wait is
    the client's, not the server's, and would otherwise count in the server's ``app`` time).
    """

    #: An unsigned placeholder of the header boto3 sends (no server here checks signatures).
    AUTH = ("AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
            "SignedHeaders=host;x-amz-date;x-amz-target, Signature=" + "0" * 64)

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(_HOST, port, timeout=60)
        self.conn.connect()
        self._cork = getattr(socket, "TCP_CORK", None)
        #: The Server-Timing header of the last response ("" when the server sent none).
        self.last_timing = ""

    def call(self, op: str, body: dict[str, Any]) -> bytes:
        data = json.dumps(body).encode()
        sock = self.conn.sock
        if self._cork is not None and sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, self._cork, 1)
        self.conn.request("POST", "/", data, {
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{_TARGETS[op]}",
            "X-Amz-Date": "20260101T000000Z", "Authorization": self.AUTH,
        })
        if self._cork is not None and sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, self._cork, 0)  # uncorking sends the request
        resp = self.conn.getresponse()
        out = resp.read()
        self.last_timing = resp.getheader("server-timing") or ""
        if resp.status != 200:
            raise RuntimeError(f"{op}: HTTP {resp.status}: {out[:300]!r}")
        return out

    def ping(self) -> bytes:
        """``GET /``: the HTTP round trip (client, loopback, uvicorn, the app's dispatch) with no store call."""
        self.conn.request("GET", "/")
        resp = self.conn.getresponse()
        return resp.read()

    def close(self) -> None:
        self.conn.close()


#: The raw-driver column's table (see :class:`PsycopgClient`).
RAW_TABLE = "storeswap_bench_raw_driver"
#: The raw-driver column's name.
RAW_DRIVER = "psycopg-raw"
#: The size of the adapter's encoded bench item (pk, sk and a 100-character payload), as the raw rows' ``item``.
_RAW_ITEM = b"\x01" + b"i" * 130


class PsycopgClient:
    """The driver's ceiling: each operation as the fewest durable PostgreSQL statements of its shape, through psycopg
    alone, with no gateway, no HTTP and no adapter (the ``psycopg-raw`` column).

    GetItem and Query10 are one SELECT; PutItem one ``INSERT ... ON CONFLICT DO UPDATE``; UpdateItem a read and a
    compare-and-swap write (the adapter's plan: decode, evaluate, write back if unchanged); BatchWrite25 one
    25-row ``unnest`` upsert.  Every statement is prepared and autocommitted, so each write waits for its WAL
    flush as the gateway's do.  No item is decoded or encoded.  A gateway over PostgreSQL does at least this
    much database work per request and spends its own CPU on the same cores besides, so this column bounds what
    any adapter on this driver and machine could serve.
    """

    def __init__(self, url: str) -> None:
        import psycopg

        from storeswap.adapters.postgres.store import parse_url

        self.conn = psycopg.connect(parse_url(url)[1], autocommit=True)

    def call(self, op: str, body: dict[str, Any]) -> Any:
        c = self.conn
        if op == "GetItem":
            key = body["Key"]
            return c.execute(f"SELECT item FROM {RAW_TABLE} WHERE pk = %s AND sk = %s",
                             (key["pk"]["S"], int(key["sk"]["N"])), prepare=True).fetchall()
        if op == "Query10":
            return c.execute(f"SELECT item FROM {RAW_TABLE} WHERE pk = %s ORDER BY sk LIMIT 10",
                             (body["ExpressionAttributeValues"][":p"]["S"],), prepare=True).fetchall()
        if op == "PutItem":
            item = body["Item"]
            return c.execute(f"INSERT INTO {RAW_TABLE} (pk, sk, item) VALUES (%s, %s, %s) "
                             "ON CONFLICT (pk, sk) DO UPDATE SET item = EXCLUDED.item",
                             (item["pk"]["S"], int(item["sk"]["N"]), _RAW_ITEM), prepare=True)
        if op == "UpdateItem":
            key = (body["Key"]["pk"]["S"], int(body["Key"]["sk"]["N"]))
            row = c.execute(f"SELECT item FROM {RAW_TABLE} WHERE pk = %s AND sk = %s", key, prepare=True).fetchone()
            old = None if row is None else row[0]
            new = _RAW_ITEM if old is None or old[-1:] == b"j" else _RAW_ITEM[:-1] + b"j"
            return c.execute(f"INSERT INTO {RAW_TABLE} AS t (pk, sk, item) VALUES (%s, %s, %s) "
                             "ON CONFLICT (pk, sk) DO UPDATE SET item = EXCLUDED.item WHERE t.item = %s",
                             (*key, new, old), prepare=True)
        assert op == "BatchWrite25"
        puts = [r["PutRequest"]["Item"] for r in body["RequestItems"][WRITE_TABLE]]
        return c.execute(f"INSERT INTO {RAW_TABLE} (pk, sk, item) SELECT * FROM unnest(%s::text[], %s::int8[], "
                         "%s::bytea[]) ON CONFLICT (pk, sk) DO UPDATE SET item = EXCLUDED.item",
                         ([p["pk"]["S"] for p in puts], [int(p["sk"]["N"]) for p in puts], [_RAW_ITEM] * len(puts)),
                         prepare=True)

    def close(self) -> None:
        self.conn.close()


def prepare_raw_table(url: str) -> None:
    import psycopg

    from storeswap.adapters.postgres.store import parse_url

    with psycopg.connect(parse_url(url)[1], autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        c.execute(f"CREATE TABLE {RAW_TABLE} (pk text, sk int8, item bytea NOT NULL, PRIMARY KEY (pk, sk))")
        rows = [(f"g#{i}", 0) for i in range(200)] + [("q", i) for i in range(20)]
        with c.cursor() as cur:
            cur.executemany(f"INSERT INTO {RAW_TABLE} VALUES (%s, %s, %s)", [(*r, _RAW_ITEM) for r in rows])


def drop_raw_table(url: str) -> None:
    import psycopg

    from storeswap.adapters.postgres.store import parse_url

    with psycopg.connect(parse_url(url)[1], autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")


def _boto_client(port: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("dynamodb", endpoint_url=f"http://{_HOST}:{port}", region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench",
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1},
                                      max_pool_connections=16, tcp_keepalive=True))


class BotoClient:
    """boto3's client API, one client per worker."""

    def __init__(self, port: int) -> None:
        self.client = _boto_client(port)

    def call(self, op: str, body: dict[str, Any]) -> Any:
        return getattr(self.client, _BOTO[op])(**body)

    def close(self) -> None:
        self.client.close()


# ------------------------------------------------------------- wrk client

#: Quantiles a wrk run reports (``done()`` in the script): the midpoints of 1,000 equal slices, so rounds
#: merge by pooling their quantile points, each weighted by its round's requests / 1,000 (:func:`_pool`).
WRK_QUANTILES = 1000
_MARK = "\x00"


def find_wrk() -> str | None:
    """The wrk binary: ``STORESWAP_WRK`` (dev.py sets it), else ``wrk`` on ``PATH``; None when there is none."""
    import shutil

    from storeswap import settings

    configured = settings.get(settings.WRK)
    if configured:
        return configured if os.path.isfile(configured) and os.access(configured, os.X_OK) else None
    return shutil.which("wrk")


def wrk_body_format(op: str, tag: str) -> tuple[str, str]:
    """A Lua ``string.format`` pattern of ``op``'s request body for request number ``n``, and its arguments.

    The same shapes as :func:`request_body` (the same tables, key spaces and sizes); ``tag`` keeps the keys a wrk
    run writes apart from every other cell's.
    """
    m = _MARK
    if op == "GetItem":
        body: dict[str, Any] = {"TableName": TABLE, "Key": {"pk": {"S": f"g#{m}"}, "sk": {"N": "0"}}}
        args = ["n % 200"]
    elif op == "PutItem":
        body = {"TableName": WRITE_TABLE, "Item": {"pk": {"S": f"p#{tag}#{m}"}, "sk": {"N": "0"},
                                                  "payload": {"S": PAYLOAD}}}
        args = ["n"]
    elif op == "UpdateItem":
        body = {"TableName": WRITE_TABLE, "Key": {"pk": {"S": f"u#{tag}#{m}"}, "sk": {"N": "0"}},
                "UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
        args = ["n % 400"]
    elif op == "Query10":
        body, args = request_body(op, 0, 0), []
    else:
        assert op == "BatchWrite25"
        body = {"RequestItems": {WRITE_TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": f"b#{tag}#{m}"}, "sk": {"N": str(j)}, "payload": {"S": PAYLOAD}}}}
            for j in range(25)
        ]}}
        args = ["n"] * 25
    text = json.dumps(body).replace("%", "%%").replace("\\u0000", "%d")
    return text, ", ".join(args)


def wrk_script(op: str, tag: str) -> str:
    """The Lua script of one wrk cell: ``op``'s requests (as :class:`RawClient` sends them), then its figures."""
    fmt, args = wrk_body_format(op, tag)
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{_TARGETS[op]}",
               "X-Amz-Date": "20260101T000000Z", "Authorization": RawClient.AUTH}
    lua_headers = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    body = f"string.format([==[{fmt}]==], {args})" if args else f"[==[{fmt}]==]"
    return f"""local n = 0
local headers = {{{lua_headers}}}
request = function()
  n = n + 1
  return wrk.format("POST", "/", headers, {body})
end
done = function(summary, latency, requests)
  local q = {{}}
  for k = 0, {WRK_QUANTILES - 1} do q[#q + 1] = latency:percentile((k + 0.5) * 100 / {WRK_QUANTILES}) end
  local e = summary.errors
  io.write(string.format("STORESWAP requests=%d duration_us=%d status_errors=%d socket_errors=%d\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout))
  io.write("STORESWAP quantiles_us=" .. table.concat(q, ",") .. "\\n")
end
"""


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures a :func:`wrk_script` run printed: requests, seconds, errors and quantiles (ms)."""
    fields: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("STORESWAP "):
            for part in line.split()[1:]:
                key, _, value = part.partition("=")
                fields[key] = value
    if "requests" not in fields or "quantiles_us" not in fields:
        raise RuntimeError(f"wrk printed no figures: {output[-500:]!r}")
    return {"requests": int(fields["requests"]), "seconds": int(fields["duration_us"]) / 1e6,
            "status_errors": int(fields["status_errors"]), "socket_errors": int(fields["socket_errors"]),
            "quantiles_ms": [float(x) / 1000 for x in fields["quantiles_us"].split(",")]}


def _wrk_cell(wrk: str, port: int, op: str, clients: int, seconds: int, tag: str) -> dict[str, Any]:
    """One wrk run: ``clients`` keep-alive connections on one wrk thread for ``seconds``; its parsed figures."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(wrk_script(op, tag))
    try:
        done = subprocess.run(
            [wrk, "-t1", f"-c{clients}", f"-d{seconds}s", "--timeout", "30s", "-s", f.name, f"http://{_HOST}:{port}/"],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        )
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise RuntimeError(f"wrk {op}: exit {done.returncode}: {(done.stderr or done.stdout)[-500:]}")
    figures = parse_wrk(done.stdout)
    if figures["status_errors"] or figures["socket_errors"] or not figures["requests"]:
        raise RuntimeError(f"wrk {op}: {figures['status_errors']} error responses, {figures['socket_errors']} "
                           f"socket errors in {figures['requests']} requests")
    return figures


def _pool(runs: list[dict[str, Any]], q: float) -> float:
    """Quantile ``q`` of the rounds pooled: each round's quantile points weighted by its requests."""
    points: list[tuple[float, float]] = sorted(
        (float(x), r["requests"] / len(r["quantiles_ms"])) for r in runs for x in r["quantiles_ms"]
    )
    total = sum(w for _, w in points)
    seen = 0.0
    for x, w in points:
        seen += w
        if seen >= q * total:
            return x
    return points[-1][0]


# ----------------------------------------------------------------- servers


def _wait(port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 60) -> None:
    from storeswap.backends.dynamodb import wait_for_http

    wait_for_http(_HOST, port, timeout, proc)


def start_gateway(store: str, workers: int = 1, *, server_timing: bool = False) -> tuple[int, subprocess.Popen[bytes]]:
    """``storeswap serve --store STORE [--workers N] [--server-timing]`` on a free port, as a child process."""
    from storeswap.backends.dynamodb import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "storeswap.cli", "--quiet", "serve", "--store", store, "--port", str(port),
         "--workers", str(workers), *(["--server-timing"] if server_timing else [])],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    _wait(port, proc)
    return port, proc


def _prepare(port: int) -> None:
    c = _boto_client(port)
    for name in (TABLE, WRITE_TABLE):
        with contextlib.suppress(c.exceptions.ResourceNotFoundException):
            c.delete_table(TableName=name)
        c.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                  {"AttributeName": "sk", "KeyType": "RANGE"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                             {"AttributeName": "sk", "AttributeType": "N"}],
                       BillingMode="PAY_PER_REQUEST")
        c.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
    items = [{"pk": {"S": f"g#{i}"}, "sk": {"N": "0"}, "payload": {"S": PAYLOAD}} for i in range(200)]
    items += [{"pk": {"S": "q"}, "sk": {"N": str(i)}, "payload": {"S": PAYLOAD}} for i in range(20)]
    for i in range(0, len(items), 25):
        c.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
    c.close()


def nosync_url(url: str) -> str:
    """``url`` with ``synchronous_commit=off`` for every session it opens (libpq ``options``, appended)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = " ".join([*(v for k, v in query if k == "options"), NOSYNC_OPTION])
    query = [(k, v) for k, v in query if k != "options"] + [("options", options)]
    return urlunsplit(parts._replace(query=urlencode(query)))


# ------------------------------------------------------------------ timing


def _cell(make: Callable[[], Any], op: str, clients: int, calls: int, offset: int) -> tuple[list[float], float]:
    """``calls`` calls of ``op`` per client on ``clients`` threads; latencies (ms) and wall seconds."""
    workers = [make() for _ in range(clients)]
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1)

    def work(w: int) -> None:
        client = workers[w]
        bodies = [request_body(op, w, offset + i) for i in range(calls)]
        client.call(op, bodies[0])  # warm the connection
        barrier.wait()
        try:
            for body in bodies:
                t = time.perf_counter_ns()
                client.call(op, body)
                lat[w].append((time.perf_counter_ns() - t) / 1e6)
        except BaseException as e:  # reported after the cell
            errors.append(e)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for c in workers:
        c.close()
    if errors:
        raise RuntimeError(f"{op}: {errors[0]}") from errors[0]
    return [x for per in lat for x in per], wall


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def _overhead(store_url: str, calls: int, ops: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Per op, what the gateway adds over the store for the same call on the same item.

    A gateway of its own is started with ``--server-timing``, so every
    response says how long the app spent on it and how long of that inside
    the store (``Server-Timing: store;dur=..., app;dur=...``): ``app - store``
    per request is the gateway's own cost for exactly that call, with no
    client, loopback or twin in it.  Beside it, from the client: the raw
    HTTP p50, and the p50 of the same port call in this process on the same
    table and the same item (PostgreSQL: the same database; memory: a store
    with the same items), the two interleaved call by call, and the HTTP
    floor (``GET /``).
    """
    from storeswap import BatchPut, open_store
    from storeswap.gateway.timing import parse_server_timing

    port, proc = start_gateway(store_url, server_timing=True)
    store = None
    try:
        _prepare(port)
        if store_url.startswith("memory"):
            store = open_store("memory://")
            from storeswap.core.schema import KeyAttribute, TableSpec

            for name in (TABLE, WRITE_TABLE):
                store.create_table(TableSpec(name, KeyAttribute("pk"), KeyAttribute("sk", "N")))
            store.bulk_put(TABLE, [{"pk": f"g#{i}", "sk": 0, "payload": PAYLOAD} for i in range(200)]
                           + [{"pk": "q", "sk": i, "payload": PAYLOAD} for i in range(20)])
        else:
            store = open_store(store_url)
        direct = store
        # The same item as the gateway's call of the same i (the wire body of worker 50, call i).
        calls_by_op: dict[str, Callable[[int], Any]] = {
            "GetItem": lambda i: direct.get(TABLE, {"pk": f"g#{(50 * 7919 + i) % 200}", "sk": 0}),
            "PutItem": lambda i: direct.put(WRITE_TABLE, {"pk": f"p#50#{i}", "sk": 0, "payload": PAYLOAD}),
            "UpdateItem": lambda i: direct.update(WRITE_TABLE, {"pk": f"u#50#{i % 50}", "sk": 0}, "ADD n :one",
                                                  values={":one": Decimal(1)}),
            "Query10": lambda i: direct.query(TABLE, "pk = :p", values={":p": "q"}, limit=10),
            "BatchWrite25": lambda i: direct.batch_write(
                [BatchPut(WRITE_TABLE, {"pk": f"b#50#{i}", "sk": j, "payload": PAYLOAD}) for j in range(25)]),
        }
        client = RawClient(port)
        client.ping()
        floor: list[float] = []
        for _ in range(calls):
            t = time.perf_counter_ns()
            client.ping()
            floor.append((time.perf_counter_ns() - t) / 1e6)
        http_floor = statistics.median(floor)
        out: dict[str, dict[str, float]] = {}
        for op in ops:
            call = calls_by_op[op]
            call(900_000)
            client.call(op, request_body(op, 50, 900_000))
            in_process: list[float] = []
            wire: list[float] = []
            server_store: list[float] = []
            server_own: list[float] = []
            for i in range(calls):
                body = request_body(op, 50, 900_001 + i)
                for side in ("in-process", "wire") if i % 2 == 0 else ("wire", "in-process"):
                    t = time.perf_counter_ns()
                    if side == "wire":
                        client.call(op, body)
                        wire.append((time.perf_counter_ns() - t) / 1e6)
                    else:
                        call(900_001 + i)
                        in_process.append((time.perf_counter_ns() - t) / 1e6)
                timing = parse_server_timing(client.last_timing)
                server_store.append(timing["store"])
                server_own.append((timing["app"] - timing["store"]) * 1000)
            d, w = statistics.median(in_process), statistics.median(wire)
            out[op] = {"direct_p50_ms": d, "gateway_raw_p50_ms": w, "overhead_us": (w - d) * 1000,
                       "http_floor_p50_ms": http_floor, "translation_us": (w - d - http_floor) * 1000,
                       "server_store_p50_ms": statistics.median(server_store),
                       "server_app_minus_store_p50_us": statistics.median(server_own),
                       "server_app_minus_store_p99_us": _pct(server_own, 0.99)}
        client.close()
        return out
    finally:
        if store is not None:
            store.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _adapter_ratio(port: int, calls: int) -> dict[str, dict[str, float]]:
    """DynamoDB adapter vs raw boto3 on the same server, interleaved call by call: p50s and their ratio.

    The raw side is what a boto3 user would write, as the bench's raw twin
    (``storeswap.benchmarks.raw_dynamodb``) is: Python values in through
    boto3's ``TypeSerializer``, items out through its ``TypeDeserializer``.
    Both sides therefore do the same work (values in, values out); a raw side
    that sent pre-built wire bodies and returned undecoded wire items did
    less, and the ratio charged the adapter for the decoding every caller
    needs (decision 0036).
    """
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    from storeswap import BatchPut, open_store

    store = open_store(f"dynamodb://{_HOST}:{port}")
    raw = _boto_client(port)
    ser, de = TypeSerializer().serialize, TypeDeserializer().deserialize

    def enc(values: dict[str, Any]) -> dict[str, Any]:
        return {k: ser(v) for k, v in values.items()}

    def dec(item: dict[str, Any]) -> dict[str, Any]:
        return {k: de(v) for k, v in item.items()}

    def raw_get(i: int) -> Any:
        item = raw.get_item(TableName=TABLE, Key=enc({"pk": f"g#{i % 200}", "sk": 0})).get("Item")
        return None if item is None else dec(item)

    def raw_query(i: int) -> Any:
        resp = raw.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues=enc({":p": "q"}),
                         Limit=10)
        return [dec(item) for item in resp["Items"]]

    pairs: dict[str, tuple[Callable[[int], Any], Callable[[int], Any]]] = {
        "GetItem": (lambda i: store.get(TABLE, {"pk": f"g#{i % 200}", "sk": 0}), raw_get),
        "PutItem": (lambda i: store.put(WRITE_TABLE, {"pk": f"p#a#{i}", "sk": 0, "payload": PAYLOAD}),
                    lambda i: raw.put_item(TableName=WRITE_TABLE, Item=enc({"pk": f"p#r#{i}", "sk": 0,
                                                                               "payload": PAYLOAD}))),
        "UpdateItem": (lambda i: store.update(WRITE_TABLE, {"pk": f"u#a#{i % 50}", "sk": 0}, "ADD n :one",
                                              values={":one": Decimal(1)}),
                       lambda i: raw.update_item(TableName=WRITE_TABLE, Key=enc({"pk": f"u#r#{i % 50}", "sk": 0}),
                                                 UpdateExpression="ADD n :one",
                                                 ExpressionAttributeValues=enc({":one": Decimal(1)}))),
        "Query10": (lambda i: store.query(TABLE, "pk = :p", values={":p": "q"}, limit=10), raw_query),
        "BatchWrite25": (lambda i: store.batch_write(
            [BatchPut(WRITE_TABLE, {"pk": f"b#a#{i}", "sk": j, "payload": PAYLOAD}) for j in range(25)]),
            lambda i: raw.batch_write_item(RequestItems={WRITE_TABLE: [
                {"PutRequest": {"Item": enc({"pk": f"b#r#{i}", "sk": j, "payload": PAYLOAD})}} for j in range(25)]})),
    }
    out: dict[str, dict[str, float]] = {}
    for op, (adapter, direct) in pairs.items():
        adapter(0)
        direct(0)
        a_lat: list[float] = []
        r_lat: list[float] = []
        for i in range(calls):
            for fn, sink in ((adapter, a_lat), (direct, r_lat)) if i % 2 == 0 else ((direct, r_lat), (adapter, a_lat)):
                t = time.perf_counter_ns()
                fn(i + 1)
                sink.append((time.perf_counter_ns() - t) / 1e6)
        a, r = statistics.median(a_lat), statistics.median(r_lat)
        out[op] = {"adapter_p50_ms": a, "boto3_p50_ms": r, "ratio": a / r}
    store.close()
    raw.close()
    return out


# -------------------------------------------------------------------- run


def run(*, calls: int = 200, rounds: int = 3, concurrency: tuple[int, ...] = (1, 8),
        postgres: str | None = "postgres", ops: tuple[str, ...] = OPS, pg_workers: int = 2,
        nosync: bool = True, clients: tuple[str, ...] = CLIENTS, wrk_seconds: int = 1,
        raw_driver: bool = True) -> dict[str, Any]:
    """Run the benchmark; returns the results (see :func:`render`).

    ``nosync``: also a PostgreSQL gateway (``pg_workers`` processes) whose sessions run with
    ``synchronous_commit=off`` (moto's durability class, see the module docstring).  ``clients``: any of
    ``raw`` (:class:`RawClient`, ``calls`` per cell and round), ``wrk`` (``wrk_seconds`` per cell and round)
    and ``boto3``; a client that cannot run here (no wrk) is left out and named in ``not_run``.  ``raw_driver``:
    with PostgreSQL and the raw client, also the ``psycopg-raw`` column (:class:`PsycopgClient`, the driver's
    ceiling on the same database).
    """
    from storeswap.backends.dynamodb import start_moto
    from storeswap.benchmarks.environment import cpu_times, stolen_share

    started = cpu_times()
    unknown = set(clients) - set(CLIENTS)
    if unknown:
        raise ValueError(f"unknown clients {sorted(unknown)}: choose from {', '.join(CLIENTS)}")
    not_run: list[str] = []
    wrk = find_wrk() if "wrk" in clients else None
    if "wrk" in clients and wrk is None:
        not_run.append("wrk client: no wrk binary (STORESWAP_WRK, or `wrk` on PATH; Debian: apt-get install wrk)")
        clients = tuple(c for c in clients if c != "wrk")
    servers: dict[str, int] = {}
    procs: list[subprocess.Popen[bytes]] = []
    drivers: dict[str, str] = {}
    try:
        servers["gateway-memory"], proc = start_gateway("memory")
        procs.append(proc)
        pg_url = None
        if postgres:
            if "://" not in postgres:
                from storeswap.backends.postgres import provision

                pg_url = provision()
            else:
                pg_url = postgres
            servers["gateway-postgres"], proc = start_gateway(pg_url)
            procs.append(proc)
            if pg_workers > 1:
                servers[f"gateway-postgres-{pg_workers}w"], proc = start_gateway(pg_url, pg_workers)
                procs.append(proc)
            if nosync:
                name = "gateway-postgres-nosync" + (f"-{pg_workers}w" if pg_workers > 1 else "")
                servers[name], proc = start_gateway(nosync_url(pg_url), pg_workers)
                procs.append(proc)
        moto_url = start_moto()
        servers["moto"] = int(moto_url.rsplit(":", 1)[1])
        for port in servers.values():
            _prepare(port)
        # The driver's ceiling (PsycopgClient): a column of the raw-client rows, interleaved with the servers.
        if pg_url and raw_driver and "raw" in clients:
            drivers[RAW_DRIVER] = pg_url
            prepare_raw_table(pg_url)
        cells: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        makers: dict[str, Callable[[int], Any]] = {"raw": RawClient, "boto3": BotoClient}
        for r in range(rounds):
            for op in ops:
                for kind in clients:
                    for conc in concurrency:
                        per_client = max(1, calls // conc)
                        if kind == "wrk":
                            assert wrk is not None
                            for s_index, (name, port) in enumerate(servers.items()):
                                cell = cells.setdefault((name, op, kind, conc), {"runs": []})
                                cell["runs"].append(_wrk_cell(wrk, port, op, conc, wrk_seconds, f"w{s_index}r{r}c{conc}"))
                            continue
                        targets: list[tuple[str, Callable[[], Any]]] = [
                            (name, functools.partial(makers[kind], port)) for name, port in servers.items()
                        ]
                        if kind == "raw":
                            targets += [(name, functools.partial(PsycopgClient, url)) for name, url in drivers.items()]
                        # The PostgreSQL columns share one database: each writes keys of its own (the offset).
                        for s_index, (name, make) in enumerate(targets):
                            cell = cells.setdefault((name, op, kind, conc), {"lat": [], "wall": 0.0, "n": 0})
                            lat, wall = _cell(make, op, conc, per_client,
                                              offset=s_index * 1_000_000 + r * 100_000 + conc * 10_000)
                            cell["lat"].extend(lat)
                            cell["wall"] += wall
                            cell["n"] += len(lat)
        rows = []
        for (name, op, kind, conc), cell in cells.items():
            if kind == "wrk":
                runs = cell["runs"]
                n = sum(x["requests"] for x in runs)
                rows.append({"server": name, "op": op, "client": kind, "clients": conc,
                             "p50_ms": _pool(runs, 0.5), "p99_ms": _pool(runs, 0.99),
                             "rps": n / sum(x["seconds"] for x in runs), "n": n})
                continue
            rows.append({"server": name, "op": op, "client": kind, "clients": conc,
                         "p50_ms": _pct(cell["lat"], 0.5), "p99_ms": _pct(cell["lat"], 0.99),
                         "rps": cell["n"] / cell["wall"], "n": cell["n"]})
        overhead = {}
        stores = {"memory": "memory"}
        if pg_url:
            stores["postgres"] = pg_url
        for store_kind, url in stores.items():
            for op, v in _overhead(url, calls, ops).items():
                overhead[f"{store_kind}/{op}"] = v
        ratios = _adapter_ratio(servers["gateway-memory"], calls)
        return {"rows": rows, "overhead": overhead, "adapter_vs_boto3": ratios, "load": os.getloadavg(),
                "stolen": stolen_share(started, cpu_times()),
                "cpus": os.cpu_count(), "calls": calls, "rounds": rounds, "wrk_seconds": wrk_seconds,
                "not_run": not_run}
    finally:
        if drivers:
            drop_raw_table(next(iter(drivers.values())))
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _is_nosync(server: str) -> bool:
    return server.startswith("gateway-postgres-nosync")


def render(result: dict[str, Any]) -> str:
    """The results as Markdown tables."""
    from storeswap.benchmarks.report import BASELINE_FLAG, flag_ratio

    rows = result["rows"]
    servers = list(dict.fromkeys(r["server"] for r in rows))
    stolen = result.get("stolen")
    steal = "" if stolen is None else f" ({stolen:.0%} of the CPU time stolen by the host during the run)"
    lines = [f"Load average {', '.join(f'{x:.2f}' for x in result['load'])} on {result['cpus']} CPUs{steal}; "
             f"{result['rounds']} interleaved rounds of {result['calls']} calls per cell "
             f"(wrk: {result.get('wrk_seconds', 1)} s per cell and round).", ""]
    lines += [f"Not run: {why}." for why in result.get("not_run", [])] + ([""] if result.get("not_run") else [])
    head = " | ".join(f"{s} p50 / p99 ms · req/s" for s in servers)
    nosync = any(_is_nosync(s) for s in servers)
    raw = RAW_DRIVER in servers
    ratios = (" | best durable gateway-postgres / moto req/s" + (" | nosync / moto req/s" if nosync else "")
              + (f" | {RAW_DRIVER} / moto req/s (the driver's ceiling)" if raw else ""))
    lines += [f"| op | client | conc | {head}{ratios} |", "|" + "---|" * (4 + len(servers) + nosync + raw)]
    keys = list(dict.fromkeys((r["op"], r["client"], r["clients"]) for r in rows))
    by_cell = {(x["server"], x["op"], x["client"], x["clients"]): x for x in rows}
    for op, client, clients in keys:
        cells, rps = [], {}
        for s in servers:
            r = by_cell.get((s, op, client, clients))
            if r is None:  # the raw driver runs with the raw client only
                cells.append("-")
                continue
            cells.append(f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} · {r['rps']:.0f}")
            rps[s] = r["rps"]
        best = max((v for k, v in rps.items() if k.startswith("gateway-postgres") and not _is_nosync(k)),
                   default=float("nan"))
        factors = [f"{best / rps['moto']:.1f}x"]
        if nosync:
            factors.append(f"{max(v for k, v in rps.items() if _is_nosync(k)) / rps['moto']:.1f}x")
        if raw:
            factors.append(f"{rps[RAW_DRIVER] / rps['moto']:.1f}x" if RAW_DRIVER in rps else "-")
        lines.append(f"| {op} | {client} | {clients} | {' | '.join(cells)} | {' | '.join(factors)} |")
    lines += ["", "Server-side overhead: per request, the gateway's own time (Server-Timing app - store) for the "
              "same call; beside it, from the client, the gateway p50 via raw HTTP and the same port call on the "
              "same item in process, interleaved (their difference includes the client's HTTP work and loopback):",
              "",
              "| store/op | server: store p50 ms | server: app - store p50 / p99 µs | in-process p50 ms "
              "| gateway raw p50 ms | client-seen overhead µs | HTTP floor (GET /) p50 ms |",
              "|---|---|---|---|---|---|---|"]
    for k, v in result["overhead"].items():
        lines.append(f"| {k} | {v['server_store_p50_ms']:.3f} | {v['server_app_minus_store_p50_us']:.0f} / "
                     f"{v['server_app_minus_store_p99_us']:.0f} | {v['direct_p50_ms']:.3f} "
                     f"| {v['gateway_raw_p50_ms']:.3f} | {v['overhead_us']:.0f} | {v['http_floor_p50_ms']:.3f} |")
    lines += ["", "DynamoDB adapter vs raw boto3, gateway over memory as the server (interleaved pairs):", "",
              "| op | adapter p50 ms | boto3 p50 ms | ratio |", "|---|---|---|---|"]
    for op, v in result["adapter_vs_boto3"].items():
        flag = f" ⚠ {BASELINE_FLAG}" if flag_ratio(v["ratio"]) else ""  # the bench report's rule (issue 16)
        lines.append(f"| {op} | {v['adapter_p50_ms']:.3f} | {v['boto3_p50_ms']:.3f} | {v['ratio']:.2f}{flag} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m storeswap.gateway.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per cell and round (split over the clients)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--postgres", default="postgres", help="store for the PostgreSQL gateway ('' to leave it out)")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--pg-workers", type=int, default=2, help="also a PostgreSQL gateway with this many worker processes (1: none)")
    parser.add_argument("--no-nosync", dest="nosync", action="store_false",
                        help="leave out the PostgreSQL gateway with synchronous_commit=off (moto's durability class)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="clients to run (raw, wrk, boto3)")
    parser.add_argument("--wrk-seconds", type=int, default=1, help="seconds per wrk cell and round")
    parser.add_argument("--no-raw-driver", dest="raw_driver", action="store_false",
                        help="leave out the psycopg-raw column (the driver's ceiling on the same database)")
    parser.add_argument("--out", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    result = run(calls=args.calls, rounds=args.rounds,
                 concurrency=tuple(int(c) for c in args.concurrency.split(",")),
                 postgres=args.postgres or None, ops=tuple(args.ops.split(",")), pg_workers=args.pg_workers,
                 nosync=args.nosync, clients=tuple(args.clients.split(",")), wrk_seconds=args.wrk_seconds,
                 raw_driver=args.raw_driver)
    print(render(result))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
