"""The one typed error hierarchy of the port.

Every adapter maps its driver's exceptions onto these types; no driver
exception ever crosses the port.  Each class names the semantics ids
(docs/semantics.md) that raise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
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
    "StoreUnavailable",
    "StoreCorrupted",
    "ConfigurationError",
    "StreamPositionExpired",
    "NotSupported",
]


class StoreError(Exception):
    """Base class of every error raised through the port."""

    #: True when the write may or may not have been applied (E2).
    outcome_unknown: bool = False
    #: True when repeating the same call later may succeed (E1).
    retryable: bool = False


class ValidationError(StoreError, ValueError):
    """The request is malformed or breaks a DynamoDB rule (V*, K2, Q3, C2, T1, T2).

    Nothing was written.  ``position`` is the character offset in the
    expression string the error refers to, when there is one.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


class ItemTooLarge(ValidationError):
    """An item (or a transaction) exceeds its size limit (V6, V8, T2)."""

    def __init__(self, message: str, *, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class ConditionFailed(StoreError):
    """A condition expression evaluated to false (C1).

    ``item`` holds the item as it was when the caller asked for it
    (``return_on_condition_failure=True``), else ``None``.
    """

    def __init__(self, message: str = "the conditional request failed", *, item: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.item = item


class CancellationReason:
    """Why one action of a cancelled transaction did not apply (T2).

    ``code`` is one of ``"None"`` (this action was fine), ``"ConditionalCheckFailed"``,
    ``"ValidationError"``, ``"TransactionConflict"``, ``"ItemTooLarge"``.
    """

    __slots__ = ("code", "item", "message")

    def __init__(self, code: str = "None", message: str | None = None, item: dict[str, Any] | None = None) -> None:
        self.code = code
        self.message = message
        self.item = item

    def __repr__(self) -> str:
        return f"CancellationReason(code={self.code!r}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CancellationReason):
            return NotImplemented
        return (self.code, self.item) == (other.code, other.item)

    def __hash__(self) -> int:
        return hash(self.code)


class TransactionCanceled(StoreError):
    """A transaction was cancelled as a whole; ``reasons`` has one entry per action, in request order (T2)."""

    def __init__(self, reasons: Sequence[CancellationReason], message: str | None = None) -> None:
        codes = ", ".join(r.code for r in reasons)
        super().__init__(message or f"transaction cancelled, reasons [{codes}]")
        self.reasons = list(reasons)

    @property
    def codes(self) -> list[str]:
        """The reason codes, in request order."""
        return [r.code for r in self.reasons]


class TransactionConflict(StoreError):
    """A concurrent transaction or write conflicted; the call may be repeated (T4, E1)."""

    retryable = True


class IdempotencyMismatch(ValidationError):
    """An idempotency token was reused with different content within its window (T3)."""


class TableNotFound(StoreError):
    """The table (or index) does not exist."""


class TableExists(StoreError):
    """``create_table`` named a table that already exists."""


class Throttled(StoreError):
    """The store refused the request for capacity and retries ran out (E1)."""

    retryable = True


class OutcomeUnknown(StoreError):
    """A write's outcome is unknown: it may or may not have been applied (E2)."""

    outcome_unknown = True
    retryable = True


class StoreUnavailable(StoreError):
    """The store cannot be reached (connection refused, lost, server down) (E1)."""

    retryable = True


class StoreCorrupted(StoreError):
    """The store holds data it cannot read: a row, catalog entry or change record damaged, or written by another
    program (E3).

    Not the request's fault, and repeating it does not help: the data has to be repaired or restored.
    ``removed`` is what a TTL sweep (``expire``) removed before it reported the rows it could not read.
    """

    def __init__(self, message: str, *, removed: int = 0) -> None:
        super().__init__(message)
        self.removed = removed


class ConfigurationError(StoreError):
    """A store URL or backend setting is wrong (unknown scheme, missing dependency)."""


class StreamPositionExpired(StoreError):
    """A stream position lies behind the retention window: records after it were trimmed (S8).

    The reader cannot resume without a gap; it must start again from the
    trim horizon (and, for a replica, re-copy the table).
    """


class NotSupported(StoreError):
    """The store does not offer this feature (a third-party adapter without change streams, say)."""
