"""Helpers shared by the backend provisioners (PostgreSQL, DynamoDB).

Small on purpose: a logger, a quick "does a Docker engine answer" probe, and
a way to stop what we started when the interpreter exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
from collections.abc import Callable

__all__ = ["LOGGER", "docker_engine_answers", "stop_at_exit"]

#: The one logger of the provisioners; each provisioner logs one INFO line saying which backend it used.
LOGGER = logging.getLogger("storeswap.backends")

_DEFAULT_SOCKET = "/var/run/docker.sock"


def docker_engine_answers(timeout: float = 1.5) -> bool:
    """True when a Docker engine answers a ping within ``timeout`` seconds.

    Uses the docker SDK when installed (it honours ``DOCKER_HOST``), else
    probes the default Unix socket.  Never raises.
    """
    try:
        import docker
    except ImportError:
        return _socket_answers(_DEFAULT_SOCKET, timeout)
    try:
        client = docker.from_env(timeout=max(1, round(timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def _socket_answers(path: str, timeout: float) -> bool:
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        path = host[len("unix://") :]
    elif host:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def stop_at_exit(stop: Callable[[], object], what: str) -> None:
    """Run ``stop()`` when the interpreter exits, logging (not raising) a failure."""

    def _stop() -> None:
        try:
            stop()
        except Exception as e:  # at exit there is nobody left to raise to
            LOGGER.warning("could not stop %s: %s", what, e)

    atexit.register(_stop)
