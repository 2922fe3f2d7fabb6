"""Contract-suite factories: the DynamoDB adapter, talking to a gateway, over a fresh store.

Run the suite through the wire protocol with the plugin's factory option::

    pytest --pyargs storeswap.contract_tests --store-factory storeswap.gateway.testing:gateway_memory
    pytest --pyargs storeswap.contract_tests --store-factory storeswap.gateway.testing:gateway_postgres

Every request then goes port -> DynamoDB adapter (boto3) -> HTTP -> gateway
-> port -> memory / PostgreSQL, so the suite checks that the gateway keeps
every rule on the wire.  The gateway runs on a background thread of the test
process and stops when the store is closed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from storeswap.connect import open_store
from storeswap.core.port import ItemStore
from storeswap.gateway.server import GatewayServer

__all__ = ["gateway_memory", "gateway_postgres", "gateway_over", "GATEWAY_GAPS"]

#: The change-stream and TTL requirements wait for the port's change streams on every store
#: (test_streams_ttl marks them notimpl on the built-in stores the same way).
GATEWAY_GAPS: dict[str, tuple[str, type[BaseException]]] = {
    "S1": ("the port has no TTL sweeper (expire) yet", AttributeError),
    "S2": ("the port has no TTL sweeper (expire) yet", AttributeError),
    "S3": ("the port has no change stream (changes) yet", AttributeError),
    "S4": ("the port has no change stream (changes) yet", AttributeError),
}


def gateway_over(backing: ItemStore) -> ItemStore:
    """Start a gateway over ``backing`` and return a DynamoDB-adapter store pointed at it.

    Closing the returned store stops the gateway and closes ``backing``.
    """
    server = GatewayServer(backing).start()
    client_store = open_store(server.store_url)
    close_client = client_store.close

    def close() -> None:
        try:
            close_client()
        finally:
            server.stop()
            backing.close()

    client_store.close = close  # type: ignore[method-assign]
    return client_store


def _named(name: str, make_backing: Callable[[], ItemStore]) -> Callable[[], ItemStore]:
    def factory() -> ItemStore:
        return gateway_over(make_backing())

    factory.__name__ = name.replace("-", "_")
    factory.store_name = name  # type: ignore[attr-defined]
    factory.gaps = dict(GATEWAY_GAPS)  # type: ignore[attr-defined]
    return factory


def _memory() -> ItemStore:
    return open_store("memory://")


def _postgres() -> ItemStore:
    backend: Any = importlib.import_module("storeswap.backends.postgres")
    return open_store(backend.provision())


#: ``--store-factory storeswap.gateway.testing:gateway_memory``: the gateway over a fresh memory store.
gateway_memory = _named("gateway-memory", _memory)
#: ``--store-factory storeswap.gateway.testing:gateway_postgres``: the gateway over PostgreSQL.
gateway_postgres = _named("gateway-postgres", _postgres)
