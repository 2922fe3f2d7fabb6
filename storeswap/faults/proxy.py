"""A small HTTP proxy in front of a DynamoDB endpoint that injects throttling, 5xx answers and outages.

It listens on 127.0.0.1 only and forwards each request to the upstream
(a moto server).  Per request, according to its :class:`FaultPlan`, it
answers instead of the server:

* ``throttle`` — HTTP 400 ``ProvisionedThroughputExceededException`` (not forwarded);
* ``error_before`` — HTTP 500 ``InternalServerError`` without forwarding;
* ``error_after`` — forwards (the write is applied) and answers HTTP 500 anyway;
* ``down`` — closes the connection without an answer (an outage).

Every decision is counted, so a run can report how many faults it injected
and how many requests the client sent (its retries included).
"""

from __future__ import annotations

import http.client
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from attrs import define, field

__all__ = ["FaultPlan", "FaultProxy"]


@define
class FaultPlan:
    """Probabilities of each injected answer, and the counts of what was done."""

    throttle: float = 0.0
    error_before: float = 0.0
    error_after: float = 0.0
    down: bool = False
    #: Only requests whose X-Amz-Target ends with one of these are faulted (all when empty).
    targets: tuple[str, ...] = ()
    counts: dict[str, int] = field(factory=dict)
    lock: threading.Lock = field(factory=threading.Lock)

    def count(self, what: str) -> None:
        """Add one to the counter ``what``."""
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1


_ATTEMPT = re.compile(r"attempt=(\d+)")
_THROTTLE = (
    b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",'
    b'"message":"injected by storeswap.faults"}'
)
_ERROR = b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected by storeswap.faults"}'


class FaultProxy:
    """A threaded proxy on a free loopback port; ``url`` is what a DynamoDB store should use."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan or FaultPlan()
        self.rng = random.Random(seed)
        self.rng_lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                proxy.handle(self)

            def do_GET(self) -> None:
                proxy.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.local = threading.local()

    @property
    def url(self) -> str:
        """The ``dynamodb://host:port`` URL of the proxy."""
        return f"dynamodb://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _roll(self) -> float:
        with self.rng_lock:
            return self.rng.random()

    def _upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self.upstream, timeout=30)
            self.local.conn = conn
        return conn

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        """Answer one request: inject a fault or forward it."""
        plan = self.plan
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        target = req.headers.get("X-Amz-Target", "")
        plan.count("requests")
        # botocore numbers its attempts ("attempt=2; max=5"): every attempt after the first is a retry.
        attempt = _ATTEMPT.search(req.headers.get("amz-sdk-request", ""))
        if attempt is not None and attempt.group(1) != "1":
            plan.count("retries")
        faulted = not plan.targets or target.endswith(plan.targets)
        if plan.down:
            plan.count("down")
            req.close_connection = True
            req.connection.close()
            return
        roll = self._roll() if faulted else 1.0
        if roll < plan.throttle:
            plan.count("throttle")
            self._answer(req, 400, _THROTTLE)
            return
        if roll < plan.throttle + plan.error_before:
            plan.count("error_before")
            self._answer(req, 500, _ERROR)
            return
        status, headers, payload = self._forward(req, body)
        if roll < plan.throttle + plan.error_before + plan.error_after:
            plan.count("error_after")
            self._answer(req, 500, _ERROR)
            return
        plan.count("forwarded")
        self._answer(req, status, payload, headers)

    def _forward(self, req: BaseHTTPRequestHandler, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        skip = {"host", "content-length", "connection"}
        headers = {k: v for k, v in req.headers.items() if k.lower() not in skip}
        for attempt in range(2):
            conn = self._upstream()
            try:
                conn.request(req.command, req.path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                keep = [(k, v) for k, v in resp.getheaders() if k.lower() not in ("content-length", "connection")]
                return resp.status, keep, payload
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _answer(
        req: BaseHTTPRequestHandler, status: int, payload: bytes, headers: list[tuple[str, str]] | None = None
    ) -> None:
        req.send_response(status)
        if headers is None:
            headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", "storeswap-faults")]
        for k, v in headers:
            req.send_header(k, v)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        req.wfile.write(payload)
