"""DynamoDB's error responses: ``{"__type": "...#Code", "message": "..."}`` and the HTTP status.

The port raises one typed hierarchy (:mod:`storeswap.core.errors`); this
module is the one place that says which DynamoDB error each type is on the
wire, so SDKs raise the exception class their callers already catch
(``ConditionalCheckFailedException`` with ``Item``,
``TransactionCanceledException`` with ``CancellationReasons`` in request
order, ...).  Anything unexpected becomes an ``InternalServerError`` whose
message names no file, line or value: stack traces never leave the server.
"""

from __future__ import annotations

import logging
from typing import Any

from storeswap.core.errors import (
    ConditionFailed,
    IdempotencyMismatch,
    ItemTooLarge,
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
from storeswap.gateway.wire import SerializationError, encode_item

__all__ = ["ApiError", "error_body", "DYNAMODB_PREFIX", "CORAL_PREFIX"]

LOG = logging.getLogger("storeswap.gateway")

DYNAMODB_PREFIX = "com.amazonaws.dynamodb.v20120810#"
CORAL_PREFIX = "com.amazon.coral.service#"
_ITEM_TOO_LARGE = "Item size has exceeded the maximum allowed size"


class ApiError(Exception):
    """An error the gateway itself answers with (bad JSON, unknown operation, auth, body limit)."""

    def __init__(self, code: str, message: str, *, status: int = 400, prefix: str = CORAL_PREFIX,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.prefix = prefix
        self.extra = extra or {}


def _body(prefix: str, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"__type": prefix + code, "message": message, **extra}


def _reason(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Code": r.code}
    if r.code == "ConditionalCheckFailed":
        out["Message"] = r.message or "The conditional request failed"
    elif r.message:
        out["Message"] = r.message
    if r.item is not None:
        out["Item"] = encode_item(r.item)
    return out


def error_body(e: BaseException) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body DynamoDB would answer ``e`` with."""
    if isinstance(e, ApiError):
        return e.status, _body(e.prefix, e.code, e.message, **e.extra)
    if isinstance(e, ConditionFailed):
        body = _body(DYNAMODB_PREFIX, "ConditionalCheckFailedException", "The conditional request failed")
        if e.item is not None:
            body["Item"] = encode_item(e.item)
        return 400, body
    if isinstance(e, TransactionCanceled):
        codes = ", ".join(r.code for r in e.reasons)
        # DynamoDB spells this one "Message" and lists the codes in it.
        return 400, {
            "__type": DYNAMODB_PREFIX + "TransactionCanceledException",
            "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
            "CancellationReasons": [_reason(r) for r in e.reasons],
        }
    if isinstance(e, SerializationError):
        return 400, _body(CORAL_PREFIX, "SerializationException", str(e))
    if isinstance(e, IdempotencyMismatch):
        return 400, _body(DYNAMODB_PREFIX, "IdempotentParameterMismatchException", str(e))
    if isinstance(e, ItemTooLarge):
        message = str(e)
        if _ITEM_TOO_LARGE.lower() not in message.lower():
            # SDK users (and the DynamoDB adapter) recognise the size error by this sentence.
            message = f"{_ITEM_TOO_LARGE}: {message}"
        return 400, _body(CORAL_PREFIX, "ValidationException", message)
    if isinstance(e, StreamPositionExpired):
        return 400, _body(DYNAMODB_PREFIX, "TrimmedDataAccessException", str(e))
    if isinstance(e, ValidationError):
        return 400, _body(CORAL_PREFIX, "ValidationException", str(e))
    if isinstance(e, TableNotFound):
        return 400, _body(DYNAMODB_PREFIX, "ResourceNotFoundException", f"Requested resource not found: {e}")
    if isinstance(e, TableExists):
        return 400, _body(DYNAMODB_PREFIX, "ResourceInUseException", f"Table already exists: {e}")
    if isinstance(e, TransactionConflict):
        return 400, _body(DYNAMODB_PREFIX, "TransactionConflictException", str(e))
    if isinstance(e, Throttled):
        return 400, _body(DYNAMODB_PREFIX, "ProvisionedThroughputExceededException", str(e))
    if isinstance(e, StoreError) and type(e).__name__ == "ItemCollectionTooLarge":
        # Only a DynamoDB store behind the gateway raises it; matched by name so the
        # gateway never imports an adapter.
        return 400, _body(DYNAMODB_PREFIX, "ItemCollectionSizeLimitExceededException", str(e))
    if isinstance(e, StoreError) and type(e).__name__ == "LimitExceeded":
        return 400, _body(DYNAMODB_PREFIX, "LimitExceededException", str(e))
    if isinstance(e, (StoreUnavailable, OutcomeUnknown)):
        return 500, _body(DYNAMODB_PREFIX, "InternalServerError", "The store behind the gateway is unavailable")
    if isinstance(e, StoreCorrupted):  # E3: the store's fault, not the request's; the detail goes to the log only
        LOG.error("gateway: the store holds data it cannot read: %s", e)
        return 500, _body(DYNAMODB_PREFIX, "InternalServerError", "The store behind the gateway holds data it cannot read")
    if isinstance(e, StoreError):
        return 400, _body(CORAL_PREFIX, "ValidationException", str(e))
    LOG.error("gateway: unexpected %s while handling a request", type(e).__name__, exc_info=e)
    return 500, _body(DYNAMODB_PREFIX, "InternalServerError", "Internal server error")
