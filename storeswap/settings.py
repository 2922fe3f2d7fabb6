"""Every ``STORESWAP_*`` environment variable: named, documented and read here, and nowhere else.

Each is a :class:`Setting` in :data:`SETTINGS`; code reads one with
:func:`get` (a string, or the default), :func:`get_int` or :func:`get_list`
(comma separated), always at call time so a test's ``monkeypatch.setenv``
takes effect.  The README's "Settings" table is rendered from this module
(:func:`markdown_table`) and a test fails when it is stale.

A leaf module: it imports nothing of storeswap, so anything may use it.

``dev.py`` (run before the virtualenv exists) and the examples read their own
variables (``STORESWAP_VENV``, ``STORESWAP_CHROMIUM``, ``STORESWAP_WRK``, ``STORESWAP_EXAMPLE_STORES``);
they are listed here so the table is complete.  So is ``STORESWAP_PURE``, which
``storeswap.core.values`` reads itself: the core imports nothing outside
``storeswap.core``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "Setting",
    "SETTINGS",
    "POSTGRES_URL",
    "DYNAMODB_URL",
    "DYNAMODB_IMAGE",
    "STORES",
    "DIFF_EXAMPLES",
    "DIFF_DERANDOMIZE",
    "FUZZ_EXAMPLES",
    "PURE",
    "URL",
    "SNAPSHOT_STORES",
    "GATEWAY_STORE",
    "GATEWAY_CREDENTIALS",
    "GATEWAY_REGION",
    "GATEWAY_MAX_BODY",
    "GATEWAY_THREADS",
    "GATEWAY_SERVER_TIMING",
    "JUNIT_XML",
    "CHROMIUM",
    "WRK",
    "VENV",
    "EXAMPLE_STORES",
    "get",
    "is_set",
    "get_int",
    "get_list",
    "markdown_table",
]


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, its default (``None``: unset means "not given") and what it does."""

    name: str
    default: str | None
    doc: str
    read_by: str


POSTGRES_URL = Setting(
    "STORESWAP_POSTGRES_URL", None, "PostgreSQL for the bare name `postgres` (else Docker, else embedded).", "backends"
)
DYNAMODB_URL = Setting(
    "STORESWAP_DYNAMODB_URL", None, "DynamoDB endpoint for the bare name `dynamodb` (else Docker, else moto).", "backends"
)
DYNAMODB_IMAGE = Setting(
    "STORESWAP_DYNAMODB_IMAGE", "amazon/dynamodb-local:2.5.2", "DynamoDB Local image started in Docker.", "backends"
)
STORES = Setting("STORESWAP_STORES", None, "Contract suite stores when no `--store` is given (comma separated).", "contract suite")
DIFF_EXAMPLES = Setting("STORESWAP_DIFF_EXAMPLES", "50", "Examples of the differential (model-based) test.", "contract suite")
DIFF_DERANDOMIZE = Setting(
    "STORESWAP_DIFF_DERANDOMIZE", "0", "`1`: the differential test replays the same sequences every run (CI).", "contract suite"
)
FUZZ_EXAMPLES = Setting("STORESWAP_FUZZ_EXAMPLES", "100", "Examples per hypothesis fuzz test (argument types).", "contract suite")
URL = Setting("STORESWAP_URL", "memory://", "Store of the snapshot fixtures (and the examples' services).", "storeswap.testing")
SNAPSHOT_STORES = Setting(
    "STORESWAP_SNAPSHOT_STORES", None, "Stores the snapshot fixtures run on (comma separated).", "storeswap.testing"
)
GATEWAY_STORE = Setting("STORESWAP_GATEWAY_STORE", None, "Store URL of a `serve --workers` worker (set by serve).", "gateway")
GATEWAY_CREDENTIALS = Setting(
    "STORESWAP_GATEWAY_CREDENTIALS", None, "Credentials file of a worker's SigV4 check (set by serve).", "gateway"
)
GATEWAY_REGION = Setting("STORESWAP_GATEWAY_REGION", "us-east-1", "Region of a worker (set by serve).", "gateway")
GATEWAY_MAX_BODY = Setting(
    "STORESWAP_GATEWAY_MAX_BODY", str(16 * 1024 * 1024), "Largest request body of a worker, bytes (set by serve).", "gateway"
)
GATEWAY_THREADS = Setting("STORESWAP_GATEWAY_THREADS", None, "Store-call threads of a worker (set by serve).", "gateway")
GATEWAY_SERVER_TIMING = Setting(
    "STORESWAP_GATEWAY_SERVER_TIMING", None, "`1`: a worker answers with Server-Timing headers (set by serve).", "gateway"
)
JUNIT_XML = Setting("STORESWAP_JUNIT_XML", None, "Set for an app-tests command: where its JUnit XML is expected.", "gateway")
CHROMIUM = Setting("STORESWAP_CHROMIUM", None, "Chromium for the report screenshots (found or installed by dev.py).", "dev.py")
WRK = Setting(
    "STORESWAP_WRK", None, "wrk, the gateway bench's compiled HTTP load client (found or installed by dev.py).",
    "dev.py, gateway bench",
)
VENV = Setting("STORESWAP_VENV", ".venv", "Virtualenv dev.py creates and uses.", "dev.py")
EXAMPLE_STORES = Setting(
    "STORESWAP_EXAMPLE_STORES", None, "Stores the examples' tests run on (comma separated).", "examples"
)

PURE = Setting(
    "STORESWAP_PURE", None, "Set (any value): the pure-Python paths, not the compiled ones (values, PostgreSQL codec).",
    "core, postgres adapter",
)

#: Every setting, in the README's order.
SETTINGS: tuple[Setting, ...] = (
    POSTGRES_URL,
    DYNAMODB_URL,
    DYNAMODB_IMAGE,
    STORES,
    DIFF_EXAMPLES,
    DIFF_DERANDOMIZE,
    FUZZ_EXAMPLES,
    PURE,
    URL,
    SNAPSHOT_STORES,
    GATEWAY_STORE,
    GATEWAY_CREDENTIALS,
    GATEWAY_REGION,
    GATEWAY_MAX_BODY,
    GATEWAY_THREADS,
    GATEWAY_SERVER_TIMING,
    JUNIT_XML,
    CHROMIUM,
    WRK,
    VENV,
    EXAMPLE_STORES,
)


def get(setting: Setting, env: Mapping[str, str] | None = None) -> str | None:
    """The variable's value (stripped), or its default when unset or blank."""
    value = (os.environ if env is None else env).get(setting.name, "").strip()
    return value or setting.default


def is_set(setting: Setting, env: Mapping[str, str] | None = None) -> bool:
    """True when the variable is set to something other than blanks."""
    return bool((os.environ if env is None else env).get(setting.name, "").strip())


def get_int(setting: Setting, env: Mapping[str, str] | None = None) -> int:
    """The variable as an integer (its default when unset)."""
    value = get(setting, env)
    if value is None:
        raise KeyError(f"{setting.name} is not set and has no default")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{setting.name} must be an integer, not {value!r}") from None


def get_list(setting: Setting, env: Mapping[str, str] | None = None) -> list[str]:
    """The variable as a comma-separated list (empty when unset)."""
    return [part.strip() for part in (get(setting, env) or "").split(",") if part.strip()]


def markdown_table() -> str:
    """The README's table of every setting."""
    rows = ["| variable | default | read by | what |", "| --- | --- | --- | --- |"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default is not None else "unset"
        rows.append(f"| `{s.name}` | {default} | {s.read_by} | {s.doc} |")
    return "\n".join(rows)
