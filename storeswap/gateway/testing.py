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

#: Known gaps through the gateway: none. (A run of nested NOTs used to arrive doubled in depth by the
#: DynamoDB adapter's parentheses; the renderer now collapses NOT NOT, decision 0016.)
GATEWAY_GAPS: dict[str, tuple[str, type[BaseException]]] = {}


def gateway_over(backing: ItemStore) -> ItemStore:
    """Start a gateway over ``backing`` and return a DynamoDB-adapter store pointed at it.

    Closing the returned store stops the gateway and closes ``backing``.

    The returned store's ``expire`` and ``trim_changes`` run on the server
    side, on ``backing``: on DynamoDB the TTL sweep and the 24-hour stream
    trim are the service's own work, which no API call triggers, and the
    gateway's store does them the same way (TTL deletes then carry the
    service's ``userIdentity``).  Everything else, including every read of
    what a sweep or a trim did, goes over the wire.
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
    client_store.expire = backing.expire  # type: ignore[method-assign]
    client_store.trim_changes = backing.trim_changes  # type: ignore[method-assign]
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
