"""``open_store(url)``: the one place that turns a store URL into an adapter.

Adapters are imported lazily, so ``import storeswap`` never pulls in boto3 or
SQLAlchemy, and a missing optional dependency is reported as a clear
:class:`ConfigurationError` naming the extra to install.
"""

from __future__ import annotations

from collections.abc import Callable

from storeswap.core.errors import ConfigurationError
from storeswap.core.port import ItemStore
from storeswap.redaction import redact_url

# redact_url is re-exported: callers have imported it from here (the function lives in storeswap.redaction).
__all__ = ["open_store", "register_scheme", "redact_url"]

_FACTORIES: dict[str, Callable[[str], ItemStore]] = {}


def register_scheme(scheme: str, factory: Callable[[str], ItemStore]) -> None:
    """Let ``open_store`` open URLs of ``scheme`` with ``factory`` (third-party adapters)."""
    _FACTORIES[scheme] = factory


def _memory(url: str) -> ItemStore:
    from storeswap.adapters.memory import MemoryStore

    return MemoryStore()


def _dynamodb(url: str) -> ItemStore:
    try:
        from storeswap.adapters.dynamodb import DynamoStore
    except ImportError as e:
        raise ConfigurationError(f"the dynamodb store needs boto3: pip install 'storeswap[dynamodb]' ({e})") from e
    if "://" not in url:  # the bare name: the default provisioning (env URL, container, moto server)
        from storeswap.backends.dynamodb import provision

        url = provision()
    return DynamoStore(url)


def _postgres(url: str) -> ItemStore:
    try:
        from storeswap.adapters.postgres import PostgresStore
    except ImportError as e:
        raise ConfigurationError(
            f"the postgres store needs SQLAlchemy and psycopg: pip install 'storeswap[postgres]' ({e})"
        ) from e
    if "://" not in url:  # the bare name: the default provisioning (env URL, container, embedded server)
        from storeswap.backends.postgres import provision

        url = provision()
    return PostgresStore(url)


_BUILTIN: dict[str, Callable[[str], ItemStore]] = {
    "memory": _memory,
    "dynamodb": _dynamodb,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def open_store(url: str) -> ItemStore:
    """Open a store by URL: ``memory://``, ``postgresql://user@host:port/db``, ``dynamodb://[host:port]``.

    The bare names ``memory``, ``postgres`` and ``dynamodb`` mean the default
    provisioning of that store (see :mod:`storeswap.backends`).
    """
    if not isinstance(url, str) or not url:
        raise ConfigurationError("a store URL is a non-empty string such as memory:// or postgresql://host/db")
    if "://" not in url:
        name = url.strip().lower()
        if name in _BUILTIN or name in _FACTORIES:
            return (_FACTORIES.get(name) or _BUILTIN[name])(url)
        raise ConfigurationError(
            f"unknown store {url!r}: use memory, postgres, dynamodb or a URL such as postgresql://host/db"
        )
    scheme = url.split("://", 1)[0].lower()
    factory = _FACTORIES.get(scheme) or _BUILTIN.get(scheme)
    if factory is None:
        known = ", ".join(sorted({*_BUILTIN, *_FACTORIES}))
        raise ConfigurationError(f"unknown store scheme {scheme!r} in {redact_url(url)!r}; known schemes: {known}")
    return factory(url)
