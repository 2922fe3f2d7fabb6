"""The counter service: a Lambda-style ``handler(event, context)`` over the typed repository.

Each call increments a counter and answers ``{"id": ..., "value": ...}``. A
call without an ``id`` first creates a ``Counter {id: uuid4, value: 0}``.
The event is a Lambda proxy event (``body`` a JSON string) or the body itself::

    {"body": "{\\"id\\": \\"...\\", \\"by\\": 2}"}      ->  {"statusCode": 200, "body": "{\\"id\\": ..., \\"value\\": ...}"}

Configuration comes from the environment, so the same code runs on every store:

``STORESWAP_URL``
    the store: ``memory://``, ``postgresql://user@host/db``, ``dynamodb://`` (AWS),
    ``dynamodb://host:port``, or a bare ``postgres`` / ``dynamodb`` for storeswap's
    default provisioning (default ``memory://``).
``COUNTER_TABLE``
    the table (default ``counters``); created on first use when missing.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from typing import Any

import attrs

from storeswap import ItemStore, ValidationError, open_store
from storeswap.repository import EntityNotFound, Model, Repository, single_table_spec

__all__ = ["Counter", "COUNTERS", "handler", "repository", "close_repositories"]


@attrs.frozen
class Counter:
    """A named counter; ``version`` advances with every change (optimistic locking)."""

    id: uuid.UUID
    value: int = 0
    version: int = 0


#: The counter's place in a single-table design: partition ``COUNTER#<id>``, sort key ``COUNTER``.
COUNTERS = Model(Counter, pk="COUNTER#{id}", sk="COUNTER", version="version")

# One repository per (store URL, table) per process, opened on first use, as a Lambda
# keeps its clients between invocations; nothing connects at import time.
_repositories: dict[tuple[str, str], tuple[ItemStore, Repository]] = {}
_lock = threading.Lock()


def repository() -> Repository:
    """The repository for the configured store and table (created on first use)."""
    url = os.environ.get("STORESWAP_URL", "memory://")
    table = os.environ.get("COUNTER_TABLE", "counters")
    with _lock:
        found = _repositories.get((url, table))
        if found is None:
            store = open_store(url)
            if not store.table_exists(table):
                store.create_table(single_table_spec(table, global_indexes=0))
            found = (store, Repository(store, table, [COUNTERS]))
            _repositories[(url, table)] = found
        return found[1]


def close_repositories() -> None:
    """Close every store the service opened (tests and shutdown hooks)."""
    with _lock:
        for store, _ in _repositories.values():
            store.close()
        _repositories.clear()


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _request(event: Any) -> dict[str, Any]:
    body = event.get("body", event) if isinstance(event, dict) else event
    if isinstance(body, str):
        body = json.loads(body) if body.strip() else {}
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValueError("the request body is a JSON object")
    return body


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Create a counter when the request names none, then increment it by ``by`` (default 1)."""
    try:
        request = _request(event)
        by = request.get("by", 1)
        if isinstance(by, bool) or not isinstance(by, int):
            raise ValueError("by is an integer")
        counter_id = request.get("id")
        counter = Counter(uuid.UUID(counter_id)) if counter_id is not None else None
    except (ValueError, TypeError, AttributeError) as e:
        return _response(400, {"error": str(e)})
    repo = repository()
    if counter is None:
        counter = repo.put(Counter(uuid.uuid4()), create_only=True)
    try:
        counter = repo.increment(counter, "value", by)
    except EntityNotFound:
        return _response(404, {"error": f"no counter {counter.id}"})
    except ValidationError as e:
        return _response(400, {"error": str(e)})
    return _response(200, {"id": str(counter.id), "value": counter.value})
