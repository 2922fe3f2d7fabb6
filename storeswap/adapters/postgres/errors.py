"""Mapping PostgreSQL driver failures onto the port's error types (E1, E2).

No psycopg, psycopg_pool or SQLAlchemy exception crosses the port: the
adapter's datastore (:mod:`.datastore`) catches them and raises what this
module returns, chained (``raise ... from``) so the driver's message is kept
for debugging.
"""

from __future__ import annotations

import psycopg
import psycopg_pool
from psycopg import errors as pg

from storeswap.core.errors import (
    OutcomeUnknown,
    StoreError,
    StoreUnavailable,
    TableNotFound,
    Throttled,
    TransactionConflict,
)
from storeswap.redaction import redact

__all__ = ["map_error", "connect_error", "is_retryable_conflict", "DRIVER_ERRORS"]

#: Every exception type the driver layer can raise; the adapter catches exactly these.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed)

try:  # SQLAlchemy wraps driver errors on the DDL path
    import sqlalchemy.exc as _sa_exc

    DRIVER_ERRORS = (*DRIVER_ERRORS, _sa_exc.SQLAlchemyError)
except ImportError:  # pragma: no cover - sqlalchemy is a dependency of the postgres extra
    _sa_exc = None  # type: ignore[assignment]


def _unwrap(e: BaseException) -> BaseException:
    if _sa_exc is not None and isinstance(e, _sa_exc.DBAPIError) and e.orig is not None:
        return e.orig
    return e


def is_retryable_conflict(e: BaseException) -> bool:
    """True for failures that a fresh attempt of the whole operation may avoid (serialisation, deadlock)."""
    e = _unwrap(e)
    return isinstance(e, (pg.SerializationFailure, pg.DeadlockDetected, pg.LockNotAvailable))


def connect_error(e: BaseException, where: str) -> StoreUnavailable | None:
    """``cannot connect to PostgreSQL at host:port: <reason>`` when ``e`` is a failure to connect, else None.

    The reason is the driver's own last clause (``connection refused``,
    ``database "x" does not exist``, ...), on one line: its hint lines and the
    SQLAlchemy link stay in the chained exception for ``--debug``.
    """
    e = _unwrap(e)
    if isinstance(e, psycopg_pool.PoolTimeout):
        return StoreUnavailable(f"cannot connect to PostgreSQL at {where}: no connection within the connect timeout")
    if not isinstance(e, psycopg.OperationalError) or isinstance(e, pg.QueryCanceled):
        return None
    first = (str(e).strip().splitlines() or [""])[0]
    reason = first.rpartition(" failed: ")[2].removeprefix("FATAL:").strip() or type(e).__name__
    return StoreUnavailable(f"cannot connect to PostgreSQL at {where}: {redact(reason[:1].lower() + reason[1:])}")


def map_error(e: BaseException, *, write: bool, sent: bool = True, what: str = "") -> StoreError:
    """The port error for a driver exception.

    ``write``: the operation writes; ``sent``: a write statement or COMMIT had
    been sent when the failure happened, so it may have been applied (E2).
    """
    e = _unwrap(e)
    state = getattr(getattr(e, "diag", None), "sqlstate", None) or ""
    # Driver messages can quote a conninfo or URL; nothing leaves the adapter unredacted.
    detail = redact(f"{what}: {e}".strip(": ") if what else str(e))
    unknown = write and sent
    if isinstance(e, pg.UndefinedTable):
        return TableNotFound(detail)
    if is_retryable_conflict(e):
        return TransactionConflict(f"conflict with a concurrent write ({state}): {detail}")
    if isinstance(e, pg.QueryCanceled):
        if unknown:
            return OutcomeUnknown(f"the write timed out; it may or may not have been applied: {detail}")
        return Throttled(f"the statement timed out: {detail}")
    if isinstance(e, (psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed)):
        return StoreUnavailable(f"no database connection available: {detail}")
    if isinstance(e, pg.InsufficientResources) or state.startswith("53"):
        return Throttled(f"the server is out of resources ({state}): {detail}")
    if isinstance(e, psycopg.OperationalError) or state.startswith(("08", "57")):
        if unknown:
            return OutcomeUnknown(
                f"the connection was lost during a write; it may or may not have been applied: {detail}"
            )
        return StoreUnavailable(f"the database connection failed: {detail}")
    if isinstance(e, pg.ProgramLimitExceeded):
        return StoreError(f"the item's keys exceed a PostgreSQL limit ({state}): {detail}")
    return StoreError(f"PostgreSQL error {state}: {detail}".strip())
