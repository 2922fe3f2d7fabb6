"""The gateway's ASGI application: DynamoDB's JSON 1.0 protocol in front of :class:`Operations`.

Both APIs are served on the one endpoint: ``DynamoDB_20120810.<Op>`` and
DynamoDB Streams' ``DynamoDBStreams_20120810.<Op>``.

A raw ASGI callable rather than a web framework: one POST path, the
operation in ``X-Amz-Target``, JSON in and out, so a framework's routing and
request objects would only add latency.  Per request it reads the body
under a size limit, checks the SigV4 signature when asked to, dispatches,
and answers with DynamoDB's headers (``x-amzn-RequestId``, ``x-amz-crc32``,
which botocore verifies).

Store calls block.  The in-process memory store is called inline (a thread
hop would cost more than the call).  A store whose waits the loop can await
(PostgreSQL, ``loop_calls = True``) serves its item operations as loop calls
on the event loop's own thread, suspended while they wait (decision 0038);
every other store call (DynamoDB's, and PostgreSQL's table, TTL and stream
operations) runs on a thread pool so that concurrent clients overlap.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import random
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from storeswap import loop_calls, settings
from storeswap.core.jsontext import JSON_ERRORS
from storeswap.core.port import ItemStore
from storeswap.gateway.errors import CORAL_PREFIX, ApiError, error_body
from storeswap.gateway.operations import ITEM_OPERATIONS, Operations, unknown_operation
from storeswap.gateway.sigv4 import SigV4Verifier
from storeswap.gateway.timing import StoreTally, TimedStore, server_timing_header

__all__ = ["GatewayApp", "MAX_BODY_BYTES", "TARGET_PREFIX", "from_environment", "ENV_STORE", "ENV_CREDENTIALS"]

LOG = logging.getLogger("storeswap.gateway")

#: DynamoDB's own request limit (a 25-item BatchWriteItem of 400 KB items fits).
MAX_BODY_BYTES = 16 * 1024 * 1024
TARGET_PREFIX = "DynamoDB_20120810."
STREAMS_PREFIX = "DynamoDBStreams_20120810."
_CONTENT_TYPE = b"application/x-amz-json-1.0"
#: How ``storeswap serve --workers N`` tells each worker process what to serve.
ENV_STORE = settings.GATEWAY_STORE.name
ENV_CREDENTIALS = settings.GATEWAY_CREDENTIALS.name
ENV_REGION = settings.GATEWAY_REGION.name
ENV_MAX_BODY = settings.GATEWAY_MAX_BODY.name
ENV_THREADS = settings.GATEWAY_THREADS.name
ENV_SERVER_TIMING = settings.GATEWAY_SERVER_TIMING.name

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # orjson refuses escaped lone surrogates ("\\ud800"), which DynamoDB strings may hold
    # and botocore sends; the standard library reads them.
    try:
        return json.loads(body)
    except JSON_ERRORS as e:  # RecursionError: nested beyond orjson's 1,024 levels and the standard parser's stack
        what = "nested too deeply" if isinstance(e, RecursionError) else "not valid JSON"
        raise ApiError("SerializationException", f"the request body is {what}") from None


def _dumps(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload)
    except TypeError:
        # A string with a lone surrogate: only the standard library's escaping can write it.
        return json.dumps(payload, separators=(",", ":")).encode()


#: Request ids need only be unique, not unpredictable: a PRNG seeded from the OS (and reseeded in a forked child)
#: costs no system call per request, where ``os.urandom`` cost one (decision 0042).
_IDS = random.Random()
os.register_at_fork(after_in_child=_IDS.seed)


def _request_id() -> bytes:
    return _IDS.getrandbits(208).to_bytes(26, "big").hex().upper().encode()


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.cancelled():  # the client went away while the store call ran
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


class _Worker:
    """One store thread's hand-off slot: the job it is given and the lock it sleeps on until then."""

    __slots__ = ("job", "wake")

    def __init__(self) -> None:
        self.job: tuple[Any, ...] | None = None
        self.wake = threading.Lock()
        self.wake.acquire()  # held: the worker blocks on it until a job (or shutdown) releases it


class StoreThreads:
    """Threads that run blocking store calls for the event loop: one hand-off each way.

    Leaner than ``loop.run_in_executor``: no ``concurrent.futures.Future``,
    no future chaining; a job is a tuple and its result comes back with one
    ``call_soon_threadsafe``.  The threads start with the pool, so the first
    requests do not pay for them.

    A job goes to the thread that became idle *last* (a stack of idle
    threads; jobs wait in a FIFO backlog only when every thread is busy).
    A shared queue wakes the thread that has waited longest, so one client's
    requests went round all the threads in turn, each woken cold; the
    hand-off to the most recently used thread is 10-25 us shorter on this
    machine (decision 0034).  Concurrent jobs still spread over all threads.
    """

    def __init__(self, size: int, name: str = "gateway") -> None:
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._backlog: collections.deque[tuple[Any, ...]] = collections.deque()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, args=(_Worker(),), name=f"{name}-{i}", daemon=True) for i in range(size)
        ]
        for t in self._threads:
            t.start()

    @property
    def idle(self) -> int:
        """How many threads are waiting for a job."""
        with self._lock:
            return len(self._idle)

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> asyncio.Future[Any]:
        """Run ``fn(arg)`` on a thread; an asyncio future of its result (on the running loop)."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        job = (loop, fut, fn, arg)
        with self._lock:
            if self._idle:
                worker = self._idle.pop()
                worker.job = job
                worker.wake.release()
            else:
                self._backlog.append(job)
        return fut

    def _next(self, me: _Worker) -> tuple[Any, ...] | None:
        """The next job for thread ``me`` (waiting for one when there is none); None once shut down."""
        while True:
            with self._lock:
                if self._backlog:
                    return self._backlog.popleft()
                if self._closed:
                    return None
                self._idle.append(me)
            me.wake.acquire()
            job, me.job = me.job, None
            if job is not None:
                return job
            # Woken by shutdown: finish the backlog first.

    def _work(self, me: _Worker) -> None:
        while True:
            job = self._next(me)
            if job is None:
                return
            loop, fut, fn, arg = job
            del job
            try:
                value, ok = fn(arg), True
            except BaseException as e:  # handed to the awaiting request, answered in DynamoDB's shape
                value, ok = e, False
            # Drop this thread's references to the request before answering: held until the next job,
            # the request body would be freed when that job starts, inside the next request's time.
            del fn, arg
            with contextlib.suppress(RuntimeError):  # the loop was closed (shutdown): nobody waits for this
                loop.call_soon_threadsafe(_resolve, fut, ok, value)
            del loop, fut, value

    def shutdown(self) -> None:
        """Stop the threads once the queued jobs are done (does not wait)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.wake.release()


class LoopCalls:
    """Store calls on the event loop's own thread (:mod:`storeswap.loop_calls`), at most ``size`` at once.

    For a store that declares ``loop_calls = True``: its waits for the server are awaited by the loop, so a
    request needs no thread hand-off at all.  ``size`` is the store's pool size: more calls at once would
    only wait for a connection (a wait that suspends the call; the store sees to that).  uvicorn cancels no
    request task while it runs; at the loop's teardown a call still waiting is cancelled, and the store
    closes the connection it was waiting on (the pool replaces it).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._gate = asyncio.Semaphore(size)

    async def submit(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """``fn(arg)`` on this thread, suspended while it waits for the store."""
        async with self._gate:
            return await loop_calls.run(fn, arg)


def store_concurrency(store: ItemStore) -> int:
    """How many store calls can usefully run at once: the store's connection pool size (16 when it has none).

    More threads (or loop calls) than connections would only queue on the
    pool, holding a thread (or a suspended call) each while they wait.
    """
    size = getattr(store, "pool_size", None)
    return size if isinstance(size, int) and size > 0 else 16


class GatewayApp:
    """An ASGI app serving the DynamoDB API over ``store``.

    ``auth`` verifies every request's signature (None: no authentication);
    ``threads`` is the number of threads store calls run on (0: inline;
    None: inline for the memory store, otherwise the store's connection
    pool size, so that no thread waits for a connection).  With ``threads``
    None, a store that declares ``loop_calls = True`` (PostgreSQL) serves the
    item operations in loop calls on the event loop's thread instead
    (:class:`LoopCalls`, decision 0038); the table, TTL and stream
    operations stay on the threads.
    ``server_timing`` adds a ``Server-Timing`` header to every response
    (:mod:`storeswap.gateway.timing`).
    """

    def __init__(
        self,
        store: ItemStore,
        *,
        region: str = "us-east-1",
        auth: SigV4Verifier | None = None,
        max_body: int = MAX_BODY_BYTES,
        threads: int | None = None,
        server_timing: bool = False,
    ) -> None:
        self.store = store
        watch = getattr(store, "watch_catalog", None)
        if watch is not None:
            # Other processes (serve --workers, a second gateway, a migration) may change tables:
            # keep this store's cached specs in step with theirs (decision 0029).
            watch()
        self._tally = StoreTally() if server_timing else None
        seen: Any = store if self._tally is None else TimedStore(store, self._tally)
        self.operations = Operations(seen, region=region)
        self.auth = auth
        self.max_body = max_body
        self.region = region
        # A store whose waits the loop can await serves item operations in loop calls, with no thread hand-off
        # (decision 0038); ``threads`` given puts every call on that many threads, as before.
        on_loop = threads is None and store.loop_calls
        if threads is None:
            threads = 0 if store.kind == "memory" else store_concurrency(store)
        self._pool = StoreThreads(threads) if threads > 0 else None
        self._loop_calls = LoopCalls(store_concurrency(store)) if on_loop else None
        self._on_loop = frozenset(TARGET_PREFIX + name for name in ITEM_OPERATIONS) if on_loop else frozenset()
        self._handlers = {TARGET_PREFIX + name: h for name, h in self.operations.handlers.items()}
        self._handlers.update(
            (STREAMS_PREFIX + name, h) for name, h in self.operations.streams.handlers.items()
        )

    def close(self) -> None:
        """Stop the thread pool (the store is the caller's to close)."""
        if self._pool is not None:
            self._pool.shutdown()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":  # websockets: not part of DynamoDB's protocol
            return
        start = time.perf_counter_ns() if self._tally is not None else 0
        request_id = _request_id()
        store_ns = -1
        # The decoded request body, kept here so that it is freed after the response has been sent:
        # freeing a 25-item batch's objects takes tens of microseconds the client need not wait for.
        held: list[Any] = []
        try:
            status, payload, store_ns = await self._handle(scope, receive, held)
        except Exception as e:  # every failure is answered in DynamoDB's shape, never as a trace
            status, payload = error_body(e)
        await self._respond(send, status, payload, request_id, start, store_ns)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive, held: list[Any]) -> tuple[int, Any, int]:
        """Status, response payload, and the store time in ns (-1 when not timing); the decoded body goes in
        ``held``."""
        method = scope["method"]
        target = ""
        length = -1
        for name, value in scope["headers"]:
            if name == b"x-amz-target":
                target = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    raise ApiError("SerializationException", "invalid Content-Length") from None
        if method == "GET" and not target:
            # What DynamoDB answers on GET /: a health line (load balancers and readiness probes use it).
            return 200, f"healthy: dynamodb.{self.region}.amazonaws.com ", 0
        if method != "POST":
            raise ApiError("UnknownOperationException", f"{method} is not supported; DynamoDB's API is POST /",
                           status=405)
        if length > self.max_body:
            raise ApiError("RequestEntityTooLarge", f"the request body exceeds the limit of {self.max_body} bytes",
                           status=413)
        body = await self._body(receive)
        if self.auth is not None:
            self.auth.verify(
                method, scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0] or "/",
                scope.get("query_string", b"").decode("latin-1"), scope["headers"], body,
            )
        handler = self._handlers.get(target)
        if handler is None:
            raise unknown_operation(target)
        params = _loads(body) if body else {}
        held.append(params)
        if not isinstance(params, dict):
            raise ApiError("SerializationException", "the request body is a JSON object", prefix=CORAL_PREFIX)
        runner = self._loop_calls if target in self._on_loop else self._pool
        tally = self._tally
        if tally is not None:
            if runner is None:
                out, store_ns = tally.run(handler, params)
            else:
                out, store_ns = await runner.submit(lambda p: tally.run(handler, p), params)
            return 200, out, store_ns
        if runner is None:
            return 200, handler(params), -1
        return 200, await runner.submit(handler, params), -1

    async def _body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ApiError("SerializationException", "the client disconnected")
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > self.max_body:
                    raise ApiError("RequestEntityTooLarge",
                                   f"the request body exceeds the limit of {self.max_body} bytes", status=413)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _respond(
        self, send: Send, status: int, payload: Any, request_id: bytes, start: int, store_ns: int
    ) -> None:
        if isinstance(payload, str):
            data = payload.encode()
            content_type = b"text/plain"
        else:
            data = _dumps(payload)
            content_type = _CONTENT_TYPE
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(data)).encode()),
            (b"x-amzn-requestid", request_id),
            (b"x-amz-crc32", str(zlib.crc32(data)).encode()),
        ]
        if self._tally is not None:
            headers.append((b"server-timing", server_timing_header(time.perf_counter_ns() - start, max(store_ns, 0))))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


def from_environment() -> GatewayApp:
    """The app of one ``storeswap serve --workers N`` worker process, configured by ``STORESWAP_GATEWAY_*``.

    Each worker opens its own store (its own connection pool) on the URL the
    parent resolved, so every worker serves the same data.
    """
    from storeswap.connect import open_store
    from storeswap.gateway.sigv4 import load_credentials

    url = settings.get(settings.GATEWAY_STORE)
    if url is None:
        raise KeyError(f"{ENV_STORE} is not set: a worker is started by storeswap serve --workers")
    store = open_store(url)
    credentials = settings.get(settings.GATEWAY_CREDENTIALS)
    threads = settings.get(settings.GATEWAY_THREADS)
    return GatewayApp(
        store,
        region=settings.get(settings.GATEWAY_REGION) or "us-east-1",
        auth=SigV4Verifier(load_credentials(credentials)) if credentials else None,
        max_body=settings.get_int(settings.GATEWAY_MAX_BODY),
        threads=int(threads) if threads else None,
        server_timing=settings.get(settings.GATEWAY_SERVER_TIMING) == "1",
    )
