"""Find or start a DynamoDB endpoint for tests, benchmarks and the CLI.

:func:`provision` returns a ``dynamodb://host:port`` URL, trying in order:

1. ``STORESWAP_DYNAMODB_URL`` when set (a real endpoint, or one you started);
2. an ``amazon/dynamodb-local`` testcontainer when a Docker engine answers;
3. a moto server in a child process on a free port of 127.0.0.1.

Exactly one INFO line on the ``storeswap.backends`` logger says which was
used.  The result is memoised for the process; whatever was started is
stopped at interpreter exit.  The moto child also watches its parent and
exits when the parent disappears, so a killed test run leaves no server
behind.

Run as ``python -m storeswap.backends.dynamodb --moto PORT`` to start the
moto server the way the provisioner does.

The moto server applies DynamoDB calls one at a time
----------------------------------------------------
moto's own server (``moto.server.main``) is werkzeug's threaded server over
one in-memory backend that has no locks: every request runs on its own thread
and moto's operations are plain Python read-modify-writes.  Under load that
breaks guarantees DynamoDB itself keeps, which the contract suite checks:

* two concurrent ``ADD`` s on one item can both read the old number, and one
  increment is lost (R4's 8-thread test once summed 199 of 200);
* ``TransactWriteItems`` deep-copies the tables it touches and, when it is
  cancelled, puts the copies back, so a write another thread made to the same
  table in between is lost;
* ``Scan`` and ``Query`` iterate the table's dicts while a concurrent
  ``PutItem`` grows them ("dictionary changed size during iteration", HTTP 500).

So the server started here wraps moto's WSGI application in
:class:`OneCallAtATime`: every request whose ``X-Amz-Target`` is a DynamoDB or
DynamoDB Streams operation first has its body read in full, *outside* any lock,
and only then is moto's handling of it (the backend call and the recording of
the request) run under one lock, and its response materialised before the lock
is released.  Reading the body first matters: a client (or the fault proxy of
:mod:`storeswap.faults`) that stalls or drops a request mid-body only blocks
its own thread.  Everything else, ``/moto-api`` in particular, is not
serialised: ``/moto-api/recorder/replay-recording`` replays the recording by
sending the requests to this same server and waits for them, so holding the
lock across it would deadlock (which is what serialising *every* request did).
Reads are serialised as well as writes because of the Scan and transaction
cases above; moto's request handling is pure Python under the GIL, so one lock
costs little throughput.
"""

from __future__ import annotations

import functools
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from storeswap import settings
from storeswap.backends._common import LOGGER, docker_engine_answers, stop_at_exit
from storeswap.core.errors import ConfigurationError, StoreUnavailable
from storeswap.redaction import redact_url

__all__ = ["provision", "ENV_URL", "IMAGE", "start_container", "start_moto", "OneCallAtATime"]

ENV_URL = "STORESWAP_DYNAMODB_URL"
#: Pinned image of DynamoDB Local (override with STORESWAP_DYNAMODB_IMAGE).
IMAGE = str(settings.DYNAMODB_IMAGE.default)
CONTAINER_PORT = 8000
#: Seconds to wait for a started server to answer HTTP.
START_TIMEOUT = 60.0
_HOST = "127.0.0.1"

_lock = threading.Lock()
_url: str | None = None


def provision() -> str:
    """A ``dynamodb://host:port`` URL of a running endpoint (memoised; see the module docstring)."""
    global _url
    with _lock:
        if _url is None:
            _url = _provision()
        return _url


def _provision() -> str:
    env = settings.get(settings.DYNAMODB_URL)
    if env:
        LOGGER.info("dynamodb backend: %s from %s", redact_url(env), ENV_URL)
        return env
    if docker_engine_answers():
        url = start_container()
        LOGGER.info("dynamodb backend: %s container at %s", _image(), url)
        return url
    url = start_moto()
    LOGGER.info("dynamodb backend: moto server at %s (no %s, no Docker engine)", url, ENV_URL)
    return url


def _image() -> str:
    return settings.get(settings.DYNAMODB_IMAGE) or IMAGE


# ------------------------------------------------------------------- container


def start_container() -> str:
    """Start DynamoDB Local in a testcontainer; stopped at exit.  Returns its URL."""
    try:
        from testcontainers.core.container import DockerContainer
    except ImportError as e:
        raise ConfigurationError("a Docker engine answers but testcontainers is missing: pip install "
                                 "'storeswap[docker]'") from e
    container: Any = (
        DockerContainer(_image())
        .with_exposed_ports(CONTAINER_PORT)
        # -sharedDb: one database whatever the credentials and region of the caller.
        .with_command("-jar DynamoDBLocal.jar -inMemory -sharedDb")
    )
    container.start()
    stop_at_exit(container.stop, "the DynamoDB Local container")
    host = container.get_container_host_ip()
    port = int(container.get_exposed_port(CONTAINER_PORT))
    wait_for_http(host, port, START_TIMEOUT)
    return f"dynamodb://{host}:{port}"


# ------------------------------------------------------------------------ moto


def free_port(host: str = _HOST) -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer will do
    except (OSError, ValueError):
        return False


def wait_for_http(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``host:port`` answers HTTP; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not _answers(host, port):
        if proc is not None and proc.poll() is not None:
            raise StoreUnavailable(f"the server on port {port} exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise StoreUnavailable(f"nothing answered on {host}:{port} within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def start_moto(host: str = _HOST, attempts: int = 3) -> str:
    """Start a moto server in a child process on a free port; stopped at exit.  Returns its URL."""
    try:
        import moto.server  # noqa: F401
    except ImportError as e:
        raise ConfigurationError("no Docker engine and no moto: pip install 'storeswap[embedded]'") from e
    last: Exception | None = None
    for _ in range(attempts):  # another process may take the free port before moto binds it
        port = free_port(host)
        log = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the child, closed below
        cmd = [sys.executable, "-m", "storeswap.backends.dynamodb", "--moto", str(port), "--host", host,
               "--parent", str(os.getpid())]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            wait_for_http(host, port, START_TIMEOUT, proc)
        except StoreUnavailable as e:
            _stop(proc)
            log.seek(0)
            tail = log.read()[-2000:].decode("utf-8", "replace")
            last = StoreUnavailable(f"the moto server did not start: {e}\n{tail}")
            log.close()
            continue
        log.close()
        stop_at_exit(functools.partial(_stop, proc), f"the moto server on port {port}")
        return f"dynamodb://{host}:{port}"
    assert last is not None
    raise last


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


#: ``X-Amz-Target`` prefixes of the calls :class:`OneCallAtATime` serialises.
_SERIALISED_TARGETS = ("DynamoDB_", "DynamoDBStreams_")

_WsgiApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class OneCallAtATime:
    """WSGI middleware: DynamoDB and DynamoDB Streams calls handled one at a time (see the module docstring).

    The body of such a request is read in full before the lock is taken; a
    body cut short (the client went away) is answered 400 without taking it.
    The wrapped application's response is materialised inside the lock, so
    nothing of moto's handling runs after the lock is released.
    """

    def __init__(self, app: _WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Handle one request."""
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(_SERIALISED_TARGETS):
            return self.app(environ, start_response)
        body = _read_body(environ)
        if body is None:
            start_response("400 Bad Request", [("Content-Length", "0"), ("Connection", "close")])
            return [b""]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = False
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [bytes(chunk) for chunk in result]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The whole request body, or ``None`` when it is cut short or its length is not a number."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        try:
            n = int(length)
        except ValueError:
            return None
        if n < 0:
            return None
        chunks: list[bytes] = []
        got = 0
        while got < n:
            chunk = stream.read(n - got)
            if not chunk:
                return None  # the client went away mid-body
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)
    if environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream after the last chunk
        return bytes(stream.read())
    return b""


def _serve_moto(argv: list[str]) -> None:
    import argparse
    import logging

    parser = argparse.ArgumentParser(description="Run a moto server for storeswap.")
    parser.add_argument("--moto", type=int, required=True, metavar="PORT")
    parser.add_argument("--host", default=_HOST)
    parser.add_argument("--parent", type=int, default=0, help="exit when this process is gone")
    args = parser.parse_args(argv)
    if args.parent:
        threading.Thread(target=_watch_parent, args=(args.parent,), daemon=True).start()
    # One log line per request would cost time and disk on benchmark runs.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    # What moto.server.main does, with moto's application wrapped in OneCallAtATime.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(0))
    app = OneCallAtATime(DomainDispatcherApplication(create_backend_app))
    run_simple(args.host, args.moto, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    _serve_moto(sys.argv[1:])
