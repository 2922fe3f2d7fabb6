"""storeswap: DynamoDB semantics over any store, and the proof that data can move.

Public API::

    from storeswap import open_store, TableSpec, KeyAttribute, Key, Attr
    store = open_store("memory://")
"""

from __future__ import annotations

from storeswap.connect import open_store, register_scheme
from storeswap.core.changes import ChangePage, ChangeRecord, Shard, UserIdentity
from storeswap.core.errors import (
    CancellationReason,
    ConditionFailed,
    ConfigurationError,
    IdempotencyMismatch,
    ItemTooLarge,
    NotSupported,
    OutcomeUnknown,
    StoreCorrupted,
    StoreError,
    StoreUnavailable,
    StreamPositionExpired,
    TableExists,
    TableNotFound,
    Throttled,
    TransactionCanceled,
    TransactionConflict,
    ValidationError,
)
from storeswap.core.expressions.builders import Attr, Key
from storeswap.core.port import (
    BatchDelete,
    BatchPut,
    ItemStore,
    TxCheck,
    TxDelete,
    TxGet,
    TxPut,
    TxUpdate,
)
from storeswap.core.requests import Page
from storeswap.core.schema import GlobalIndex, IndexProjection, KeyAttribute, LocalIndex, Projection, TableSpec
from storeswap.core.values import BinarySet, NumberSet, StringSet

__version__ = "0.1.0"

__all__ = [
    "open_store",
    "register_scheme",
    "ItemStore",
    "Page",
    "TableSpec",
    "KeyAttribute",
    "GlobalIndex",
    "LocalIndex",
    "IndexProjection",
    "Projection",  # the old name of IndexProjection, kept for one release (0.2)
    "Key",
    "Attr",
    "StringSet",
    "NumberSet",
    "BinarySet",
    "TxPut",
    "TxUpdate",
    "TxDelete",
    "TxCheck",
    "TxGet",
    "BatchPut",
    "BatchDelete",
    "StoreError",
    "ValidationError",
    "ItemTooLarge",
    "ConditionFailed",
    "TransactionCanceled",
    "CancellationReason",
    "TransactionConflict",
    "IdempotencyMismatch",
    "TableNotFound",
    "TableExists",
    "Throttled",
    "OutcomeUnknown",
    "StoreCorrupted",
    "StoreUnavailable",
    "ConfigurationError",
    "StreamPositionExpired",
    "NotSupported",
    "ChangeRecord",
    "ChangePage",
    "Shard",
    "UserIdentity",
    "__version__",
]
