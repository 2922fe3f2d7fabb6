"""Mapping botocore exceptions onto the port's error hierarchy.

No botocore exception crosses the port: :func:`map_error` turns each one
into a :class:`storeswap.StoreError` subclass.  Two facts decide the type
besides the error code: whether the call was a write (an unanswered write
may have been applied, E2), for a cancelled transaction, the per-action
reasons in request order (T2), and whether the call went to DynamoDB Streams
(there a missing resource is a stream or shard that is gone, so the position
that led to it can no longer be read, S8).  The stream codes are part of the
same mapping: ``TrimmedDataAccessException`` becomes
:class:`~storeswap.core.errors.StreamPositionExpired` and
``ExpiredIteratorException`` :class:`ShardIteratorExpired`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from storeswap.core.errors import (
    CancellationReason,
    ConditionFailed,
    ConfigurationError,
    IdempotencyMismatch,
    ItemTooLarge,
    OutcomeUnknown,
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
from storeswap.redaction import redact

__all__ = [
    "ItemCollectionTooLarge", "LimitExceeded", "AccessDenied", "ShardIteratorExpired", "map_error", "THROTTLING_CODES",
]


class ItemCollectionTooLarge(StoreError):
    """An item collection of a table with local secondary indexes passed 10 GB (DynamoDB only)."""


class LimitExceeded(StoreError):
    """An account or table limit was hit (too many concurrent table operations, ...)."""

    retryable = True


class AccessDenied(ConfigurationError):
    """The credentials were refused or lack a permission."""


class ShardIteratorExpired(StoreError):
    """A DynamoDB Streams shard iterator expired (they live 15 minutes); the adapter asks for a new one.

    Iterators never leave the adapter (positions hold sequence numbers), so this
    only escapes when a freshly made iterator is refused as expired too.
    """

    retryable = True


THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "ThrottledException",
        "TooManyRequestsException",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {"InternalServerError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"}
)
_ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignature",
        "InvalidClientTokenId",
    }
)
_SIZE_MESSAGES = ("item size", "size has exceeded", "size to update has exceeded")


def _message(e: ClientError) -> str:
    err = e.response.get("Error", {})
    # A server message may quote a request or an endpoint; nothing leaves the adapter unredacted.
    return redact(err.get("Message") or e)


def _validation(message: str) -> ValidationError:
    lower = message.lower()
    if any(m in lower for m in _SIZE_MESSAGES) and "exceed" in lower:
        return ItemTooLarge(message)
    return ValidationError(message)


def _reasons(
    e: ClientError, decode: Callable[[Mapping[str, Any]], dict[str, Any]], count: int
) -> list[CancellationReason]:
    raw: Sequence[Mapping[str, Any]] | None = e.response.get("CancellationReasons")
    reasons: list[CancellationReason] = []
    if raw:
        for r in raw:
            item = r.get("Item")
            reasons.append(CancellationReason(str(r.get("Code", "None")), r.get("Message"),
                                              decode(item) if item else None))
    else:
        # Older servers put the codes only in the message: "... reasons [None, ConditionalCheckFailed]".
        msg = _message(e)
        if "[" in msg and msg.rstrip().endswith("]"):
            codes = [c.strip() for c in msg[msg.rindex("[") + 1 : msg.rstrip().rindex("]")].split(",")]
            reasons = [CancellationReason(c or "None") for c in codes]
    if len(reasons) != count:
        reasons = (reasons + [CancellationReason("None")] * count)[:count]
    return reasons


def map_error(
    e: Exception,
    *,
    write: bool,
    decode: Callable[[Mapping[str, Any]], dict[str, Any]],
    on_not_found: Callable[[], None] | None = None,
    creating: bool = False,
    actions: int = 0,
    stream: bool = False,
) -> StoreError:
    """The port error for a botocore exception raised by one client call.

    ``write`` says whether the call could have changed data (for E2);
    ``decode`` turns an AttributeValue item into a Python item;
    ``on_not_found`` runs for ResourceNotFoundException (to drop a cached
    spec); ``creating`` marks ``CreateTable`` (ResourceInUse means the table
    exists); ``actions`` is the number of actions of a transaction;
    ``stream`` marks a call to DynamoDB Streams (``dynamodbstreams``).
    """
    if isinstance(e, StoreError):
        return e
    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        message = _message(e)
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "ConditionalCheckFailedException":
            if write and e.response.get("ResponseMetadata", {}).get("RetryAttempts"):
                # botocore retried after an error (a 5xx may follow an applied write): the failed
                # condition may be this write's own first attempt, so the outcome is unknown (E2).
                return OutcomeUnknown(f"the write was retried and then failed its condition: {message}")
            item: Any = e.response.get("Item")
            return ConditionFailed(item=decode(item) if item else None)
        if code == "TransactionCanceledException":
            reasons = _reasons(e, decode, actions)
            return TransactionCanceled(reasons)
        if code == "TransactionConflictException":
            return TransactionConflict(message)
        if code == "TransactionInProgressException":
            return TransactionConflict(f"a transaction with the same token is still in progress: {message}")
        if code == "IdempotentParameterMismatchException":
            return IdempotencyMismatch(message)
        if code == "TrimmedDataAccessException":
            return StreamPositionExpired(f"the stream records after this position were trimmed: {message}")
        if code == "ExpiredIteratorException":
            return ShardIteratorExpired(message)
        if code == "ResourceNotFoundException" and stream:
            return StreamPositionExpired(f"the stream or shard of this position no longer exists: {message}")
        if code == "ResourceNotFoundException":
            if on_not_found is not None:
                on_not_found()
            return TableNotFound(message)
        if code == "ResourceInUseException":
            if creating:
                return TableExists(message)
            return StoreError(f"the table is in use (being created, updated or deleted): {message}")
        if code == "ValidationException" or code == "SerializationException":
            return _validation(message)
        if code in THROTTLING_CODES:
            return Throttled(f"{code}: {message}")
        if code == "ItemCollectionSizeLimitExceededException":
            return ItemCollectionTooLarge(message)
        if code == "LimitExceededException":
            return LimitExceeded(message)
        if code in _ACCESS_CODES:
            return AccessDenied(f"{code}: {message}")
        if code in _UNAVAILABLE_CODES or (isinstance(status, int) and status >= 500):
            if write:
                return OutcomeUnknown(f"the write may or may not have been applied ({code}: {message})")
            return StoreUnavailable(f"{code}: {message}")
        return StoreError(f"{code or 'error'}: {message}")
    if isinstance(e, (NoCredentialsError, PartialCredentialsError, NoRegionError)):
        return ConfigurationError(str(e))
    if isinstance(e, ParamValidationError):
        return ValidationError(str(e))
    if isinstance(e, (BotoConnectionError, HTTPClientError)):
        # Connection refused, reset, timeouts: after botocore's retries an
        # unanswered write may still have been applied (E2).
        if write:
            return OutcomeUnknown(f"the write may or may not have been applied: {redact(e)}")
        if isinstance(e, (EndpointConnectionError, ConnectTimeoutError)):
            return StoreUnavailable(_cannot_connect(e))
        return StoreUnavailable(redact(e))
    # Anything else failed inside the driver (a response botocore could not
    # parse, ...): the request reached the server, so a write may have applied.
    what = f"{type(e).__name__}: {redact(e)}"
    if write:
        return OutcomeUnknown(f"the write may or may not have been applied ({what})")
    if isinstance(e, BotoCoreError):
        return StoreError(str(e))
    return StoreError(f"the DynamoDB client failed: {what}")


def _cannot_connect(e: BotoConnectionError) -> str:
    """``cannot connect to DynamoDB at host:port: <reason>``, in the words a user reads."""
    endpoint = urlsplit(str(e.kwargs.get("endpoint_url", "")))
    where = redact(endpoint.netloc or str(e.kwargs.get("endpoint_url", "the endpoint")))
    cause = str(e.kwargs.get("error", "")).lower()
    if isinstance(e, ConnectTimeoutError) or "timed out" in cause:
        reason = "connect timeout"
    elif "refused" in cause:
        reason = "connection refused"
    elif "name or service not known" in cause or "nodename nor servname" in cause or "resolve" in cause:
        reason = "unknown host"
    else:
        reason = "no answer"
    return f"cannot connect to DynamoDB at {where}: {reason}"
