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
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from storeswap import settings
from storeswap.backends._common import LOGGER, docker_engine_answers, stop_at_exit
from storeswap.core.errors import ConfigurationError, StoreUnavailable
from storeswap.redaction import redact_url

__all__ = ["provision", "ENV_URL", "IMAGE", "start_container", "start_moto"]

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
    from moto.server import main as moto_main

    moto_main(["-H", args.host, "-p", str(args.moto)])


if __name__ == "__main__":
    _serve_moto(sys.argv[1:])
