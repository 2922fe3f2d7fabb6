"""The typed repository: attrs entities over any :class:`storeswap.ItemStore`, single-table design.

::

    import uuid, attrs
    from storeswap import open_store
    from storeswap.repository import Model, Repository, single_table_spec

    @attrs.frozen
    class Counter:
        tenant_id: str
        id: uuid.UUID
        value: int = 0
        version: int = 0

    store = open_store("memory://")
    store.create_table(single_table_spec("app"))
    repo = Repository(store, "app", [Model(Counter, pk="TENANT#{tenant_id}", sk="COUNTER#{id}", version="version")])
    c = repo.put(Counter("42", uuid.uuid4()), create_only=True)
    c = repo.increment(c, "value", 5)
    assert repo.get(Counter, tenant_id="42", id=c.id) == c
    page = repo.query(Counter, tenant_id="42", limit=10)   # begins_with(sk, "COUNTER#")

Value mapping:
:mod:`storeswap.repository.conversion`; key templates:
:mod:`storeswap.repository.templates`.
"""

from __future__ import annotations

from storeswap.repository.conversion import epoch
from storeswap.repository.errors import (
    EntityDecodeError,
    EntityExists,
    EntityNotFound,
    ModelError,
    RepositoryError,
    StaleEntity,
)
from storeswap.repository.model import TYPE_ATTRIBUTE, Model
from storeswap.repository.repository import Cursor, Page, Repository, Transaction
from storeswap.repository.tables import single_table_spec
from storeswap.repository.templates import SHARD_FIELD, KeyTemplate, shard_of

__all__ = [
    "Model",
    "Repository",
    "Transaction",
    "Page",
    "Cursor",
    "KeyTemplate",
    "epoch",
    "shard_of",
    "single_table_spec",
    "SHARD_FIELD",
    "TYPE_ATTRIBUTE",
    "RepositoryError",
    "StaleEntity",
    "EntityExists",
    "EntityNotFound",
    "EntityDecodeError",
    "ModelError",
]
