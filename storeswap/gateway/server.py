"""Running the gateway on uvicorn: in the foreground (``storeswap serve``) or on a background thread.

uvicorn with its httptools parser and the uvloop event loop (decision
0015): keep-alive connections, many concurrent clients on one event loop,
no access log on the hot path, and each response written to the socket at
once (:mod:`storeswap.gateway.http_protocol`, decision 0042).
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading
import time
from typing import Any

from storeswap.core.errors import StoreUnavailable
from storeswap.core.port import ItemStore
from storeswap.gateway.app import MAX_BODY_BYTES, GatewayApp
from storeswap.gateway.sigv4 import SigV4Verifier

__all__ = ["GatewayServer", "serve", "serve_workers", "is_loopback", "uvicorn_config", "bind_socket"]

LOG = logging.getLogger("storeswap.gateway")
#: Idle keep-alive connections stay open this long (SDK pools reuse them; uvicorn's default is 5 s).
KEEP_ALIVE_SECONDS = 75


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: GatewayApp | str, host: str, port: int, **extra: Any) -> Any:
    """The uvicorn configuration the gateway runs with (``app`` may be an import string of a factory)."""
    import uvicorn

    from storeswap.gateway.http_protocol import CoalescingHttpToolsProtocol

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        **extra,
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,  # httptools, one socket write per response (decision 0042)
        lifespan="off",
        ws="none",  # DynamoDB's protocol has no websockets: an upgrade request is plain HTTP to the app
        access_log=False,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        server_header=False,
        date_header=False,
        proxy_headers=False,  # the app never reads the client address; the middleware only cost time
    )


def _quiet_sigterm() -> None:
    if threading.current_thread() is threading.main_thread():
        # uvicorn re-raises the SIGTERM it caught once it has shut down; with the
        # default handler that kills the process before atexit runs, leaving
        # whatever the store started (an embedded PostgreSQL, a moto server)
        # behind.  A no-op handler lets serve() return and clean up normally.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)


def serve_workers(
    store_url: str,
    *,
    workers: int,
    host: str = "127.0.0.1",
    port: int = 8000,
    credentials: str | None = None,
    region: str = "us-east-1",
    max_body: int = MAX_BODY_BYTES,
    threads: int | None = None,
    server_timing: bool = False,
    ttl_sweep_s: float | None = None,
) -> None:
    """Serve with ``workers`` processes on one socket, each with its own store on ``store_url``.

    For stores that live outside the process (PostgreSQL, DynamoDB): one
    Python process is bound by its GIL, several use every core.  Each
    worker's store watches the catalog, so DDL through one worker is seen
    by the others (``PostgresStore.watch_catalog``).  ``ttl_sweep_s`` runs
    one TTL sweeper, in this supervising process on its own store, not one
    per worker.
    """
    import os

    from uvicorn.supervisors import Multiprocess

    from storeswap.gateway import app as app_module

    os.environ[app_module.ENV_STORE] = store_url
    os.environ[app_module.ENV_REGION] = region
    os.environ[app_module.ENV_MAX_BODY] = str(max_body)
    if credentials:
        os.environ[app_module.ENV_CREDENTIALS] = credentials
    if threads is not None:
        os.environ[app_module.ENV_THREADS] = str(threads)
    if server_timing:
        os.environ[app_module.ENV_SERVER_TIMING] = "1"
    _quiet_sigterm()
    config = uvicorn_config("storeswap.gateway.app:from_environment", host, port, factory=True, workers=workers)
    sock = config.bind_socket()
    sweeping = None
    try:
        if ttl_sweep_s is not None:
            from storeswap.connect import open_store

            sweeping = open_store(store_url)
            watch = getattr(sweeping, "watch_catalog", None)
            if watch is not None:  # TTL is enabled through the workers: the sweeper must hear of it
                watch()
            sweeping.start_ttl_sweeper(ttl_sweep_s)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        if sweeping is not None:
            if sweeping.ttl_sweeper is not None:
                sweeping.ttl_sweeper.stop()
            sweeping.close()


def serve(
    store: ItemStore,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    auth: SigV4Verifier | None = None,
    region: str = "us-east-1",
    max_body: int = MAX_BODY_BYTES,
    threads: int | None = None,
    server_timing: bool = False,
) -> None:
    """Serve the DynamoDB API over ``store`` until interrupted (Ctrl-C / SIGTERM)."""
    import uvicorn

    _quiet_sigterm()
    app = GatewayApp(store, region=region, auth=auth, max_body=max_body, threads=threads, server_timing=server_timing)
    try:
        uvicorn.Server(uvicorn_config(app, host, port)).run()
    finally:
        app.close()


class GatewayServer:
    """A gateway on a background thread (tests, benchmarks, ``app_tests``): ``with GatewayServer(store) as g: g.url``."""

    def __init__(
        self,
        store: ItemStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        auth: SigV4Verifier | None = None,
        region: str = "us-east-1",
        threads: int | None = None,
        server_timing: bool = False,
    ) -> None:
        import uvicorn

        self.store = store
        self.app = GatewayApp(store, region=region, auth=auth, threads=threads, server_timing=server_timing)
        self._sock = bind_socket(host, port)
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port))
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` for SDK clients."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def store_url(self) -> str:
        """``dynamodb://host:port``: the DynamoDB adapter pointed at this gateway."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"dynamodb://{host}:{self.port}"

    def start(self, timeout: float = 30.0) -> GatewayServer:
        """Start serving; returns once the server accepts connections."""
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"gateway:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StoreUnavailable(f"the gateway on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (the store stays open)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self.app.close()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
