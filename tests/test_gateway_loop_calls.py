"""Which gateway calls run as loop calls (decision 0038): the item operations of a store that promises it."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any

import pytest

from storeswap import loop_calls
from storeswap.adapters.memory import MemoryStore
from storeswap.gateway.server import GatewayServer


class _PromisingStore(MemoryStore):
    """A memory store that says its waits are loop-aware, and records where each primitive ran: in a loop
    call or not, and on a store thread or not.  Not of kind ``memory``, so that the gateway gives it store
    threads for what it does not run on the loop (as it does PostgreSQL)."""

    kind = "promising"
    loop_calls = True

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bool, bool]] = []

    def _where(self, what: str) -> None:
        self.seen.append((what, loop_calls.inside(), threading.current_thread().name.startswith("gateway-")))

    def _create_table(self, spec: Any) -> None:
        self._where("create")
        super()._create_table(spec)

    def _get(self, req: Any) -> Any:
        self._where("get")
        return super()._get(req)


class _Inheriting(_PromisingStore):
    """Overrides nothing, yet does not inherit the promise (a per-class flag)."""


def _calls(store: MemoryStore, **kwargs: Any) -> None:
    with GatewayServer(store, **kwargs) as g:
        conn = http.client.HTTPConnection(g.host, g.port)
        for op, body in (
            ("CreateTable", {"TableName": "routed", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                             "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                             "BillingMode": "PAY_PER_REQUEST"}),
            ("GetItem", {"TableName": "routed", "Key": {"pk": {"S": "a"}}}),
        ):
            conn.request("POST", "/", json.dumps(body).encode(), {"X-Amz-Target": f"DynamoDB_20120810.{op}"})
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            resp.read()
        conn.close()


@pytest.mark.parametrize(("make", "threads", "expected"), [
    # (primitive, in a loop call, on a store thread)
    (_PromisingStore, None, [("create", False, True), ("get", True, False)]),
    (_PromisingStore, 3, [("create", False, True), ("get", False, True)]),
    (_Inheriting, None, [("create", False, True), ("get", False, True)]),
])
def test_item_operations_of_a_promising_store_run_on_the_loop(make: Any, threads: int | None, expected: Any) -> None:
    store = make()
    _calls(store, threads=threads)
    assert store.seen == expected
