"""The PostgreSQL datastore: the connections, and the one place driver errors become port errors.

:class:`PostgresDatastore` owns the SQLAlchemy engine (DDL and the catalog
schema) and the psycopg_pool pool (every hot path).  Code that talks to the
server gets its connection here and nowhere else:

- ``with db.read(table) as conn:`` — one pooled autocommit connection for a
  read; a driver failure is mapped as a read;
- ``with db.write(table) as conn:`` — the same for a single write statement;
  a failure is mapped as a write that may have been applied (E2);
- ``with db.ddl(table) as conn:`` — a SQLAlchemy transaction for DDL;
- ``for attempt in db.transaction(table, retries=n): with attempt as conn:``
  — up to ``n`` attempts, each a pooled connection inside a transaction
  (``begin=False``: without one).  A serialisation failure or deadlock
  starts the next attempt; so does a stale connection (server restart,
  killed backend) before anything was sent, and :class:`Retry` raised by
  the body.  Set ``attempt.sent = True`` once a write has been sent, so a
  lost connection after it is :class:`OutcomeUnknown`, not a retry.  After
  ``n`` attempts: :class:`TransactionConflict`.  (A ``with`` block cannot run
  its body twice, hence the loop of attempts, as tenacity does.)

Every driver exception is translated by :func:`.errors.map_error` in
:meth:`PostgresDatastore.error`, the model being eventsourcing's
``PostgresDatastore``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import waiting
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from storeswap import loop_calls
from storeswap.adapters.postgres.errors import DRIVER_ERRORS, connect_error, is_retryable_conflict, map_error
from storeswap.core.errors import StoreError, StoreUnavailable, TableNotFound, TransactionConflict
from storeswap.redaction import redact

__all__ = ["PostgresDatastore", "PooledConnection", "Attempt", "Retry", "MAX_TX_ATTEMPTS", "is_stale", "rollback_open"]

#: How often a loop call that waits for a pooled connection looks again, and how long it may block asking for
#: one (psycopg_pool refuses a timeout of 0 even when it has one ready).
POOL_POLL_S = 0.001
POOL_PEEK_S = 0.005

#: How often a wait for the server wakes to check for interrupts (psycopg's own default).
WAIT_INTERVAL_S = 0.1

#: Attempts of a transaction that hits deadlocks or serialisation failures.
MAX_TX_ATTEMPTS = 8


class PooledConnection(psycopg.Connection[Any]):
    """A pooled connection that keeps one reusable cursor for the hot paths (saves a cursor per call)."""

    _hot: psycopg.Cursor[Any] | None = None

    def hot(self) -> psycopg.Cursor[Any]:
        """This connection's reusable cursor."""
        cur = self._hot
        if cur is None:
            cur = self._hot = self.cursor()
        return cur

    def wait(self, gen: Any, interval: float = WAIT_INTERVAL_S, timeout: float | None = None) -> Any:
        """psycopg's wait for the server, awaited by the event loop when called on one (:mod:`storeswap.loop_calls`)."""
        if not loop_calls.inside():
            return super().wait(gen, interval, timeout)
        try:
            return loop_calls.await_(waiting.wait_async(gen, self.pgconn.socket, interval=interval, timeout=timeout))
        except Exception:
            raise
        except BaseException:
            # Cancelled or closed mid-wait: the server may still be running the statement and the protocol is
            # mid-exchange.  Close the connection (no wait) so that the pool replaces it rather than reusing it
            # or losing it in a rollback that cannot run here.
            self.close()
            raise


class Retry(Exception):
    """Raised inside an attempt to start the next one (a lost compare-and-swap race)."""


def rollback_open(conn: psycopg.Connection[Any]) -> None:
    """End a transaction opened by hand (``BEGIN`` on an autocommit connection) after a failure.

    A broken connection has none left to end: the server ended it.
    """
    if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        with contextlib.suppress(psycopg.Error):
            conn.execute("ROLLBACK")


def is_stale(e: BaseException) -> bool:
    """True when the connection itself failed (not a statement timeout): a fresh connection may succeed."""
    return isinstance(e, psycopg.OperationalError) and not isinstance(e, psycopg.errors.QueryCanceled)


class PostgresDatastore:
    """The engine and the pool of one PostgreSQL store, and the translation of their errors."""

    def __init__(
        self,
        sa_url: sa.URL,
        conninfo: str,
        *,
        display_url: str,
        pool_size: int = 10,
        connect_timeout: float = 10.0,
        prepare_schema: Callable[[sa.Connection], None] | None = None,
        on_missing_table: Callable[[str], None] | None = None,
    ) -> None:
        self.display_url = redact(display_url)
        where = f"{sa_url.host}:{sa_url.port or 5432}" if sa_url.host else f"the local socket ({self.display_url})"
        self._on_missing_table = on_missing_table
        self.engine = sa.create_engine(sa_url, pool_size=1, max_overflow=4, pool_pre_ping=True)
        if prepare_schema is not None:
            try:
                with self.engine.begin() as c:
                    prepare_schema(c)
            except DRIVER_ERRORS as e:
                self.engine.dispose()
                raise connect_error(e, where) or StoreUnavailable(
                    f"cannot prepare the storeswap schema at {self.display_url}: {redact(e)}"
                ) from e
        self.pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            connection_class=PooledConnection,
            open=False,
            name="storeswap",
        )
        try:
            self.pool.open(wait=True, timeout=connect_timeout)
        except DRIVER_ERRORS as e:
            self.pool.close()
            self.engine.dispose()
            raise connect_error(e, where) or StoreUnavailable(f"cannot connect to {self.display_url}: {redact(e)}") from e
        self._closed = False

    def close(self) -> None:
        """Close the pool and the engine (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.pool.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ errors

    def getconn(self) -> PooledConnection:
        """A connection from the pool.

        Inside a loop call (:mod:`storeswap.loop_calls`) a wait for one must not block the loop, whose other
        calls may hold the connections it waits for.  The call takes a connection the pool has ready (blocking
        at most :data:`POOL_PEEK_S`, should another thread take it first); when there is none and the pool is
        below its maximum, it asks once, for as long, so that the pool grows; then it sleeps on the loop and
        looks again every :data:`POOL_POLL_S` until one is ready or the pool's timeout has passed.
        """
        if not loop_calls.inside():
            conn: PooledConnection = self.pool.getconn()
            return conn
        deadline = time.monotonic() + self.pool.timeout
        asked = False
        while True:
            stats = self.pool.get_stats()
            can_grow = not asked and stats.get("pool_size", 0) < stats.get("pool_max", 0)
            if stats.get("pool_available", 0) > 0 or can_grow:
                asked = True
                try:
                    conn = self.pool.getconn(timeout=POOL_PEEK_S)
                    return conn
                except PoolTimeout:
                    pass
            if time.monotonic() >= deadline:
                raise PoolTimeout(f"couldn't get a connection after {self.pool.timeout:.2f} sec")
            loop_calls.await_(asyncio.sleep(POOL_POLL_S))

    def error(self, e: BaseException, table: str | None, *, write: bool, sent: bool = True) -> StoreError:
        """The port error for driver exception ``e`` (the only translation in the adapter)."""
        err = map_error(e, write=write, sent=sent, what=table or "")
        if isinstance(err, TableNotFound) and table:
            if self._on_missing_table is not None:
                self._on_missing_table(table)
            err = TableNotFound(f"table {table} does not exist")
        return err

    # ----------------------------------------------------------- connections

    @contextmanager
    def read(self, table: str | None) -> Iterator[PooledConnection]:
        """A pooled connection for one read; driver failures mapped as a read."""
        try:
            conn = self.getconn()
            try:
                yield conn
            finally:
                self.pool.putconn(conn)
        except DRIVER_ERRORS as e:
            raise self.error(e, table, write=False) from e

    @contextmanager
    def write(self, table: str | None) -> Iterator[PooledConnection]:
        """A pooled connection for one write statement; a failure may have been applied (E2)."""
        try:
            conn = self.getconn()
            try:
                yield conn
            finally:
                self.pool.putconn(conn)
        except DRIVER_ERRORS as e:
            raise self.error(e, table, write=True) from e

    @contextmanager
    def ddl(self, table: str | None) -> Iterator[sa.Connection]:
        """A SQLAlchemy connection in a transaction, for DDL and the catalog; failures mapped as writes."""
        try:
            with self.engine.begin() as c:
                yield c
        except DRIVER_ERRORS as e:
            raise self.error(e, table, write=True) from e

    def transaction(
        self,
        table: str | None,
        *,
        retries: int = MAX_TX_ATTEMPTS,
        begin: bool = True,
        write: bool = True,
        gave_up: str = "the transaction kept conflicting with concurrent transactions",
    ) -> Iterator[Attempt]:
        """Up to ``retries`` attempts of one unit of work (see the module docstring)."""
        for n in range(retries):
            attempt = Attempt(self, table, begin=begin, write=write, last=n == retries - 1)
            yield attempt
            if attempt.done:
                return
        raise TransactionConflict(gave_up)

    def run_read(self, table: str | None, fn: Callable[[PooledConnection], Any]) -> Any:
        """``fn(conn)`` on a pooled connection; a stale connection is replaced and ``fn`` run once more."""
        for attempt in self.transaction(table, retries=2, begin=False, write=False):
            with attempt as conn:
                return fn(conn)
        raise AssertionError("unreachable")  # pragma: no cover - transaction() raises when attempts run out


class Attempt:
    """One attempt of :meth:`PostgresDatastore.transaction`: a context manager yielding a connection."""

    __slots__ = ("_begin", "_conn", "_db", "_last", "_table", "_tx", "_write", "done", "sent")

    def __init__(self, db: PostgresDatastore, table: str | None, *, begin: bool, write: bool, last: bool) -> None:
        self._db = db
        self._table = table
        self._begin = begin
        self._write = write
        self._last = last
        self._conn: PooledConnection | None = None
        self._tx: Any = None
        #: Set once a write statement (or COMMIT) was sent: a failure after it is an unknown outcome.
        self.sent = False
        #: True when the body finished without an error.
        self.done = False

    def __enter__(self) -> PooledConnection:
        try:
            conn = self._db.getconn()
        except DRIVER_ERRORS as e:
            raise self._db.error(e, self._table, write=self._write, sent=False) from e
        self._conn = conn
        if self._begin:
            try:
                self._tx = conn.transaction()
                self._tx.__enter__()
            except BaseException as e:
                self._db.pool.putconn(conn)
                if isinstance(e, DRIVER_ERRORS):
                    raise self._db.error(e, self._table, write=self._write, sent=False) from e
                raise
        return conn

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> bool:
        conn, self._conn = self._conn, None
        failure = e
        try:
            if self._tx is not None:
                if e is None:
                    self.sent = self.sent or self._write  # COMMIT is sent now
                try:
                    self._tx.__exit__(kind, e, tb)
                except DRIVER_ERRORS as commit_error:
                    failure = commit_error
        finally:
            if conn is not None:
                self._db.pool.putconn(conn)
        if failure is None:
            self.done = True
            return False
        if isinstance(failure, Retry):
            return True
        if not isinstance(failure, DRIVER_ERRORS):
            return False  # the body's own error (ConditionFailed, ...) goes through unchanged
        if self._write and is_retryable_conflict(failure):
            return True
        if not self.sent and is_stale(failure) and not self._last:
            self._db.pool.check()
            return True
        mapped = self._db.error(failure, self._table, write=self._write, sent=self.sent)
        raise mapped from failure
