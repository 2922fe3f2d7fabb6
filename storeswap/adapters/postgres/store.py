"""The PostgreSQL adapter: :class:`PostgresStore`.

SQLAlchemy owns the URL, the catalog and the DDL (Core ``Table`` objects);
the hot paths (get, put, update, delete, query) run on a psycopg_pool
connection pool with server-side prepared statements whose SQL is composed
once per table (:class:`.layout.Layout`).  Conditions, updates, projections
and filters are evaluated in Python by the core engine, exactly as the memory
reference does; PostgreSQL provides atomicity:

- single-item writes are compare-and-swap on the stored bytes (read, plan,
  ``UPDATE ... WHERE item = <bytes read>``; an absent item is inserted with
  ``ON CONFLICT DO NOTHING``); a lost race retries the whole operation;
- transactions lock every item (advisory lock per key, in sorted order, then
  ``SELECT ... FOR UPDATE``), plan all actions, and write in one transaction.

See docs/decisions/0009-postgres-concurrency.md and 0008-postgres-key-columns.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects.postgresql import insert as pg_insert

from storeswap.adapters.postgres import changelog
from storeswap.adapters.postgres.arrays import Int8Array
from storeswap.adapters.postgres.bulk import bulk_put
from storeswap.adapters.postgres.codec import KEY_DAMAGE, decode_item, encode_item
from storeswap.adapters.postgres.datastore import PooledConnection, PostgresDatastore, Retry, rollback_open
from storeswap.adapters.postgres.layout import (
    CATALOG,
    METADATA,
    SQL_LOCK_ITEMS,
    SQL_LOCK_TRANSACTION,
    TOKENS,
    KeyColumn,
    Layout,
)
from storeswap.core.changes import Shard, ShardRead, StreamInfo
from storeswap.core.engine import index_view, plan_transaction, plan_write
from storeswap.core.errors import (
    ConfigurationError,
    IdempotencyMismatch,
    StoreCorrupted,
    TableExists,
    TableNotFound,
    ValidationError,
)
from storeswap.core.expressions import evaluate, project
from storeswap.core.expressions.ast import BeginsWith, Between, Compare
from storeswap.core.jsontext import JSON_ERRORS, describe
from storeswap.core.keys import BUCKETS, partition_bucket
from storeswap.core.port import ItemStore
from storeswap.core.requests import (
    BulkPutRequest,
    CheckRequest,
    DeleteRequest,
    GetRequest,
    PutRequest,
    QueryRequest,
    QueryResult,
    ScanRequest,
    UpdateRequest,
    WriteRequest,
)
from storeswap.core.schema import IndexKeys, StreamView, TableSpec
from storeswap.core.values import Item
from storeswap.redaction import redact

__all__ = ["PostgresStore", "parse_url"]

TOKEN_WINDOW_SECONDS = 600
#: Attempts of a single-item write that keeps losing compare-and-swap races.
MAX_WRITE_ATTEMPTS = 100
#: Lock-free compare-and-swap attempts of a single-item write before it locks the item (see ``_write``).
OPTIMISTIC_WRITE_ATTEMPTS = 3
#: Rows fetched per round when a filter may reject rows (doubles up to the maximum).
CHUNK_MAX = 1000
_SCHEMA_LOCK = 0x73746F7265737761  # "storeswa": serialises catalog creation across processes


def parse_url(url: str) -> tuple[sa.URL, str]:
    """The SQLAlchemy URL (psycopg driver) and the libpq conninfo of a ``postgresql://`` URL."""
    try:
        u = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as e:
        raise ConfigurationError(f"not a PostgreSQL URL: {e}") from None
    if u.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigurationError(f"not a PostgreSQL URL (scheme {u.drivername!r}); use postgresql://user@host/db")
    u = u.set(drivername="postgresql+psycopg")
    params: dict[str, Any] = {
        "host": u.host,
        "port": u.port,
        "user": u.username,
        "password": u.password,
        "dbname": u.database,
    }
    for k, v in u.query.items():
        params[k] = v if isinstance(v, str) else v[-1]
    conninfo = psycopg.conninfo.make_conninfo("", **{k: v for k, v in params.items() if v is not None})
    return u, conninfo


def _fingerprint(reqs: list[WriteRequest]) -> str:
    """A digest of a transaction's content, to tell a true repeat from a reused token (T3)."""
    return hashlib.sha256(repr(reqs).encode("utf-8", "surrogatepass")).hexdigest()


def _literal(operand: Any) -> Any:
    return operand.value


def _successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


def _segment_bounds(segment: int, total: int) -> tuple[int, int]:
    """The bucket range ``[lo, hi]`` of a parallel-scan segment (inverse of keys.segment_of)."""
    lo = -(-segment * BUCKETS // total)
    hi = -(-(segment + 1) * BUCKETS // total) - 1
    return lo, hi


class PostgresStore(ItemStore):
    """DynamoDB-shaped tables in PostgreSQL (``postgresql://user@host:port/db``)."""

    kind = "postgres"
    bulk_reads_only = True  # _bulk_put frames each item into a COPY stream (bulk.py)
    loop_calls = True  # its connections wait for the server through storeswap.loop_calls when called on a loop

    def __init__(self, url: str, *, pool_size: int = 10, connect_timeout: float = 10.0) -> None:
        super().__init__()
        self._url = redact(url)
        sa_url, self.conninfo = parse_url(url)
        #: Connections in the pool: how many calls can run at once (the gateway sizes its threads to it).
        self.pool_size = pool_size
        self._layouts: dict[str, Layout] = {}
        self._layout_lock = threading.Lock()
        self._watcher: _CatalogWatcher | None = None
        self._db = PostgresDatastore(
            sa_url,
            self.conninfo,
            display_url=url,
            pool_size=pool_size,
            connect_timeout=connect_timeout,
            prepare_schema=_ensure_schema,
            on_missing_table=self._drop_cached,
        )
        self._sql_catalog_get = (
            sql.SQL("SELECT spec FROM {} WHERE name = %s").format(sql.Identifier(CATALOG.name)).as_string(None)
        )
        self._sql_catalog_list = sql.SQL("SELECT name FROM {}").format(sql.Identifier(CATALOG.name)).as_string(None)

    def __repr__(self) -> str:
        return f"PostgresStore({self._url!r})"

    @property
    def datastore(self) -> PostgresDatastore:
        """The engine, the pool and the error translation of this store (for tools and benchmarks)."""
        return self._db

    def _close(self) -> None:
        """Close the connection pool and the SQLAlchemy engine (and stop the catalog watcher)."""
        if self._watcher is not None:
            self._watcher.stop()
        self._db.close()

    def watch_catalog(self) -> None:
        """Keep the cached specs fresh when other processes change tables (LISTEN on the catalog channel).

        Every DDL through any :class:`PostgresStore` (create, delete, stream
        and TTL settings) sends ``NOTIFY storeswap_catalog, '<table>'`` in
        its transaction; a watching store drops that table's cached spec and
        layout when the notification arrives (milliseconds after the commit),
        so the next call reads the catalog again.  The gateway's worker
        processes watch (decision 0029).  When the watcher's connection is
        lost it drops every cached spec at each reconnection attempt and once
        more when it listens again, since changes made meanwhile went
        unheard.  Idempotent.
        """
        if self._watcher is None:
            self._watcher = _CatalogWatcher(self)
            self._watcher.start()

    # ------------------------------------------------------------- plumbing

    def _drop_cached(self, table: str) -> None:
        """Forget what we knew of a table the server says is gone or changed (behind our back)."""
        self.forget(table)
        self._layouts.pop(table, None)

    def _drop_all_cached(self) -> None:
        self.forget()
        self._layouts.clear()

    def layout(self, spec: TableSpec) -> Layout:
        """The physical layout of ``spec`` (built once per spec and cached)."""
        return self._layout(spec)

    def _layout(self, spec: TableSpec) -> Layout:
        lay = self._layouts.get(spec.name)
        if lay is not None and lay.spec is spec:
            return lay
        with self._layout_lock:
            lay = self._layouts.get(spec.name)
            if lay is None or lay.spec != spec:
                lay = Layout.build(spec)
                self._layouts[spec.name] = lay
            else:
                lay.spec = spec
            return lay

    def physical_table(self, name: str) -> str:
        """The PostgreSQL table holding storeswap table ``name`` (for raw-driver benchmarks and tools)."""
        return self._layout(self.spec(name)).physical

    # ------------------------------------------------------------------ tables

    def _create_table(self, spec: TableSpec) -> None:
        lay = Layout.build(spec)
        table = lay.ddl_table(sa.MetaData())
        stmt = (
            pg_insert(CATALOG)
            .values(name=spec.name, physical=lay.physical, spec=json.dumps(spec.to_dict(), ensure_ascii=True))
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(CATALOG.c.name)
        )
        with self._db.ddl(None) as c:
            if c.execute(stmt).first() is None:
                raise TableExists(f"table {spec.name} already exists")
            table.create(c)
            changelog.on_create(_driver(c), lay)
            changelog.announce_spec_change(_driver(c), spec.name)
        with self._layout_lock:
            self._layouts[spec.name] = lay

    def _describe_table(self, name: str) -> TableSpec:
        row = self._db.run_read(name, lambda conn: conn.execute(self._sql_catalog_get, (name,)).fetchone())
        if row is None:
            self.forget(name)
            raise TableNotFound(f"table {name} does not exist")
        try:
            return TableSpec.from_dict(json.loads(row[0]))
        except (*JSON_ERRORS, ValidationError) as e:  # E3: the store's own entry, not the caller's input
            raise StoreCorrupted(
                f"table {name}: its entry in {CATALOG.name} cannot be read ({describe(e)}); it was damaged or "
                "written by another program"
            ) from None

    def _delete_table(self, name: str) -> None:
        stmt = sa.delete(CATALOG).where(CATALOG.c.name == name).returning(CATALOG.c.physical)
        try:
            with self._db.ddl(name) as c:
                row = c.execute(stmt).first()
                if row is None:
                    raise TableNotFound(f"table {name} does not exist")
                c.execute(sa.schema.DropTable(sa.Table(row[0], sa.MetaData()), if_exists=True))
                changelog.on_delete(_driver(c), name)
                changelog.announce_spec_change(_driver(c), name)
        finally:
            self._layouts.pop(name, None)

    def _list_tables(self) -> list[str]:
        rows = self._db.run_read("", lambda conn: conn.execute(self._sql_catalog_list).fetchall())
        return [r[0] for r in rows]

    # ------------------------------------------------------------------- items

    def _get(self, req: GetRequest) -> Item | None:
        lay = self._layout(req.spec)
        params = lay.key_params(req.key)
        q = lay.sql_cache.get("get") or lay.sql_get()
        row = self._db.run_read(req.spec.name, functools.partial(_fetch_one, q, params))
        if row is None:
            return None
        item = decode_item(row[0])
        return item if req.projection is None else project(req.projection, item)

    def _put(self, req: PutRequest) -> Item | None:
        if req.condition is None and req.return_values == "NONE":
            lay = self._layout(req.spec)
            params = lay.row_params(req.item, encode_item(req.item))
            params.append(lay.lock_id(req.key))
            self._execute_write(lay.sql_cache.get("upsert") or lay.sql_upsert(), params, req.spec.name)
            return None
        return self._write(req)

    def _update(self, req: UpdateRequest) -> Item | None:
        return self._write(req)

    def _delete(self, req: DeleteRequest) -> Item | None:
        if req.condition is None and req.return_values == "NONE":
            lay = self._layout(req.spec)
            params = [lay.lock_id(req.key), *lay.key_params(req.key)]
            self._execute_write(lay.sql_cache.get("delete") or lay.sql_delete(), params, req.spec.name)
            return None
        return self._write(req)

    def _execute_write(self, query: Any, params: Any, table: str) -> None:
        """One prepared write statement on a pooled connection (the unconditional fast paths)."""
        with self._db.write(table) as conn:
            conn.hot().execute(query, params, prepare=True)

    def _write(self, req: PutRequest | UpdateRequest | DeleteRequest) -> Item | None:
        """Read, plan with the core engine, then compare-and-swap; a lost race starts over.

        The first ``OPTIMISTIC_WRITE_ATTEMPTS`` attempts hold no lock while Python plans (two round trips, ADR
        0009).  Under heavy contention a CAS can lose every race (each transaction committed between its read
        and its write dooms it), so later attempts are pessimistic: in one transaction, the item's advisory
        lock, the read ``FOR UPDATE``, the plan, the write, ``COMMIT`` — which no other writer can beat (every
        insert path but a bulk load's unlocked COPY takes that lock, and an insert of an absent item here is
        ``ON CONFLICT DO NOTHING``, so a COPY that got in first makes it start over; every other write of the row
        waits for the row lock; decision 0037).
        """
        lay = self._layout(req.spec)
        kparams = lay.key_params(req.key)
        q_get = lay.sql_cache.get("get") or lay.sql_get()
        attempts = self._db.transaction(
            req.spec.name,
            retries=MAX_WRITE_ATTEMPTS,
            begin=False,
            gave_up=f"gave up after {MAX_WRITE_ATTEMPTS} attempts racing concurrent writers",
        )
        for n, attempt in enumerate(attempts):
            locked = n >= OPTIMISTIC_WRITE_ATTEMPTS
            with attempt as conn:
                cur = conn.hot()
                if not locked:
                    done, result = self._plan_and_swap(cur, attempt, req, lay, kparams, q_get)
                else:
                    try:
                        cur.execute("BEGIN")
                        cur.execute(SQL_LOCK_ITEMS, (Int8Array([lay.lock_id(req.key)]),), prepare=True)
                        done, result = self._plan_and_swap(cur, attempt, req, lay, kparams, q_get + " FOR UPDATE")
                        cur.execute("COMMIT")  # after a write, a failure here is an unknown outcome (attempt.sent)
                    except BaseException:
                        rollback_open(conn)
                        raise
                if done:
                    return result
                raise Retry()  # a concurrent writer changed the item between our read and our write
        raise AssertionError("unreachable")  # pragma: no cover - transaction() raises when attempts run out

    @staticmethod
    def _plan_and_swap(
        cur: Any, attempt: Any, req: PutRequest | UpdateRequest | DeleteRequest, lay: Layout, kparams: list[Any],
        q_get: str,
    ) -> tuple[bool, Item | None]:
        """One read, plan and compare-and-swap: (True, the result), or (False, None) when a writer got between."""
        cur.execute(q_get, kparams, prepare=True, binary=True)
        row = cur.fetchone()
        old_blob = None if row is None else row[0]
        old = None if old_blob is None else decode_item(old_blob)
        outcome = plan_write(req, old)
        if not outcome.changed:
            return True, outcome.result
        new = outcome.new
        attempt.sent = True
        if new is None:
            if old_blob is None:
                return True, outcome.result
            q = lay.sql_cache.get("delete_if") or lay.sql_delete_if()
            n = cur.execute(q, [lay.lock_id(req.key), *kparams, old_blob], prepare=True).rowcount
        elif old_blob is None:
            q = lay.sql_cache.get("insert") or lay.sql_insert()
            params = lay.row_params(new, encode_item(new))
            params.append(lay.lock_id(req.key))
            n = cur.execute(q, params, prepare=True).rowcount
        else:
            q = lay.sql_cache.get("replace") or lay.sql_replace()
            params = lay.value_params(new, encode_item(new))
            params.append(lay.lock_id(req.key))
            params.extend(kparams)
            params.append(old_blob)
            n = cur.execute(q, params, prepare=True).rowcount
        return (True, outcome.result) if n == 1 else (False, None)

    # ------------------------------------------------------------ query / scan

    def _query(self, req: QueryRequest) -> QueryResult:
        lay = self._layout(req.spec)
        index = req.index
        cols = lay.indexes[index.name]
        kc = req.key_condition
        pv = kc.partition_value
        base: list[Any] = [partition_bucket(pv), cols.partition.param(pv)]
        sort_op: str | None = None
        cond = kc.sort
        if cond is not None:
            assert cols.sort is not None
            sort_op, sort_params = _sort_sql(cond, cols.sort)
            base.extend(sort_params)
        q_first = lay.sql_query(index.name, sort_op, req.forward, req.start_key is not None)
        q_next = lay.sql_query(index.name, sort_op, req.forward, True)
        start = None if req.start_key is None else lay.order_params(index, req.start_key)

        def position(item: Item) -> list[Any]:
            return lay.order_params(index, item)

        return self._collect(req.spec.name, lay, index, base, q_first, q_next, start, position, req)

    def _scan(self, req: ScanRequest) -> QueryResult:
        lay = self._layout(req.spec)
        index = req.index
        segmented = req.total_segments > 1
        base: list[Any] = list(_segment_bounds(req.segment, req.total_segments)) if segmented else []
        q_first = lay.sql_scan(index.name, segmented, req.start_key is not None)
        q_next = lay.sql_scan(index.name, segmented, True)
        start = None if req.start_key is None else lay.scan_params(index, req.start_key)

        def position(item: Item) -> list[Any]:
            return lay.scan_params(index, item)

        return self._collect(req.spec.name, lay, index, base, q_first, q_next, start, position, req)

    def _collect(
        self,
        table: str,
        lay: Layout,
        index: IndexKeys,
        base: list[Any],
        q_first: str,
        q_next: str,
        start: list[Any] | None,
        position: Callable[[Item], list[Any]],
        req: QueryRequest | ScanRequest,
    ) -> QueryResult:
        """Fetch rows in keyset-paged chunks until ``limit`` items passed the filter (P1), as memory's _collect."""
        spec, filt, projection, limit = req.spec, req.filter, req.projection, req.limit
        plain_view = index.name is None or index.projection.type == "ALL"
        out: list[Item] = []
        last: Item | None = None
        chunk = limit if limit is not None and limit <= CHUNK_MAX else CHUNK_MAX
        forward = getattr(req, "forward", True)  # a scan's pages run forward
        q = q_first
        after = start
        while True:
            params = [*base, *(after or ()), chunk]
            rows = self._db.run_read(table, functools.partial(_fetch_all, q, params))
            item: Item | None = None
            first: Item | None = None
            for (blob,) in rows:
                item = decode_item(blob)
                if first is None:
                    first = item
                view = item if plain_view else index_view(index, spec, item)
                if filt is not None and not evaluate(filt, view):
                    continue
                out.append(view if projection is None else project(projection, view))
                last = item
                if limit is not None and len(out) >= limit:
                    return QueryResult(out, _keyed(table, self._last_key, lay, index, last))
            if len(rows) < chunk or item is None:
                return QueryResult(out, None)
            nxt = _advanced(table, after, _keyed(table, position, item), forward)
            if first is not item:  # and beyond the chunk's first row (one more key read per chunk)
                _advanced(table, _keyed(table, position, first), nxt, forward)
            after = nxt
            q = q_next
            if filt is not None:
                chunk = min(chunk * 2, CHUNK_MAX)

    @staticmethod
    def _last_key(lay: Layout, index: IndexKeys, item: Item) -> dict[str, Any]:
        key = {lay.pk.attr: item[lay.pk.attr]}
        if lay.sk is not None:
            key[lay.sk.attr] = item[lay.sk.attr]
        for n in index.key_names:
            key[n] = item[n]
        return key

    # ----------------------------------------------------------------- batches

    def _bulk_put(self, req: BulkPutRequest, *, changes: bool = True) -> None:
        """COPY-based bulk write (:mod:`.bulk`): one COPY under a load slot, else under the items' advisory locks.

        ``bulk_put`` records its changes in the change log like any write (S5); ``bulk_load`` (a migration's
        load, ``changes`` False) turns the change-log trigger off for its transactions.
        """
        bulk_put(self._db, self._layout(req.spec), req.items, record_changes=changes)

    def _fetch_many(
        self, conn: PooledConnection, reqs: list[tuple[int, Layout, dict[str, Any]]], lock: bool
    ) -> dict[int, Item]:
        """Read many items (grouped per table, one statement each); ``{position: item}``."""
        by_table: dict[str, list[tuple[int, Layout, dict[str, Any]]]] = {}
        for entry in reqs:
            by_table.setdefault(entry[1].physical, []).append(entry)
        found: dict[int, Item] = {}
        for entries in by_table.values():
            lay = entries[0][1]
            wanted: dict[tuple[Any, ...], int] = {}
            columns: list[list[Any]] = [[], [], []] if lay.sk is not None else [[], []]
            for pos, _, key in entries:
                kp = lay.key_params(key)
                wanted[tuple(kp[1:])] = pos
                for col, v in zip(columns, kp):
                    col.append(v)
            q = lay.sql_lock_many() if lock else lay.sql_get_many()
            for (blob,) in conn.execute(q, lay.array_params("key", columns), binary=True).fetchall():
                item = decode_item(blob)
                kp = lay.key_params(item)
                found[wanted[tuple(kp[1:])]] = item
        return found

    def _batch_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        entries = [(i, self._layout(r.spec), r.key) for i, r in enumerate(reqs)]
        tables = {r.spec.name for r in reqs}
        found = self._db.run_read(
            next(iter(tables)) if len(tables) == 1 else "", lambda conn: self._fetch_many(conn, entries, False)
        )
        return [self._shape(found.get(i), r) for i, r in enumerate(reqs)]

    @staticmethod
    def _shape(item: Item | None, req: GetRequest) -> Item | None:
        if item is None or req.projection is None:
            return item
        return project(req.projection, item)

    def _transact_get(self, reqs: list[GetRequest]) -> list[Item | None]:
        entries = [(i, self._layout(r.spec), r.key) for i, r in enumerate(reqs)]

        def run(conn: PooledConnection) -> dict[int, Item]:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                return self._fetch_many(conn, entries, False)

        found = self._db.run_read(self._table_hint(reqs), run)
        return [self._shape(found.get(i), r) for i, r in enumerate(reqs)]

    @staticmethod
    def _table_hint(reqs: Iterable[GetRequest | WriteRequest]) -> str | None:
        names = {r.spec.name for r in reqs}
        return next(iter(names)) if len(names) == 1 else None

    def _batch_write(self, reqs: list[PutRequest | DeleteRequest]) -> None:
        """One transaction: every item's advisory lock (sorted), the shard counters, then per table one
        multi-row upsert for the puts and one multi-row delete for the deletes.

        The lock order is the transactions' (ADR 0009-postgres-concurrency, 0021): advisory locks in
        lock-id order, then the stream's shard counters sorted, then the rows, so a batch and a
        transaction over the same items cannot deadlock.  The trigger writes one change record per row
        the statements change (S5).  The keys are distinct (the port rejects duplicates, T1), which a
        multi-row ``ON CONFLICT DO UPDATE`` needs.  BEGIN, the locks and the writes go in one pipelined
        round trip, COMMIT in a second (so a stale connection found before COMMIT is retried: nothing
        was applied); rows go in table-key order.
        """
        locks: list[int] = []
        puts: dict[str, tuple[Layout, list[list[Any]]]] = {}
        deletes: dict[str, tuple[Layout, list[list[Any]]]] = {}
        for r in reqs:
            lay = self._layout(r.spec)
            locks.append(lay.lock_id(r.key))
            if isinstance(r, PutRequest):
                puts.setdefault(lay.physical, (lay, []))[1].append(lay.row_params(r.item, encode_item(r.item)))
            else:
                deletes.setdefault(lay.physical, (lay, []))[1].append(lay.key_params(r.key))
        locks.sort()
        statements: list[tuple[str, list[list[Any]]]] = []
        for group, sql_of, kind in ((puts, Layout.sql_upsert_many, "write"), (deletes, Layout.sql_delete_many, "key")):
            for lay, rows in group.values():
                nkeys = 2 if lay.sk is None else 3  # rows start with the key: bucket, pk[, sk]
                rows.sort(key=lambda row: row[:nkeys])
                statements.append((sql_of(lay), lay.array_params(kind, zip(*rows))))
        for attempt in self._db.transaction(
            self._table_hint(reqs),
            begin=False,
            gave_up="batch_write kept conflicting with concurrent transactions",
        ):
            with attempt as conn:
                try:
                    with conn.pipeline():
                        conn.execute("BEGIN")
                        conn.execute(SQL_LOCK_ITEMS, (Int8Array(locks),), prepare=True)
                        changelog.lock_shards(conn, ((r.spec, r.key) for r in reqs))
                        for query, columns in statements:
                            conn.execute(query, columns, prepare=True)
                    attempt.sent = True
                    conn.execute("COMMIT")
                except BaseException:
                    rollback_open(conn)
                    raise

    # ------------------------------------------------------------ transactions

    def _transact_write(self, reqs: list[WriteRequest], token: str | None) -> None:
        fingerprint = _fingerprint(reqs) if token is not None else ""
        entries = [(i, self._layout(r.spec), r.key) for i, r in enumerate(reqs)]
        locks = Int8Array(sorted({lay.lock_id(key) for _, lay, key in entries}))
        slots = Int8Array(sorted({s for _, lay, _ in entries for s in lay.load_slots}))
        for attempt in self._db.transaction(self._table_hint(reqs)):
            with attempt as conn:
                if token is not None and self._token_seen(conn, token, fingerprint):
                    return
                # Sorted advisory locks first: they also cover items that do not exist yet,
                # which a row lock cannot (no phantom inserts between our read and our commit).
                # Before them every load slot of the tables, shared: no unlocked bulk COPY runs beside us.
                conn.execute(SQL_LOCK_TRANSACTION, (locks, slots), prepare=True)
                changelog.lock_shards(conn, ((r.spec, r.key) for r in reqs))
                found = self._fetch_many(conn, entries, True)
                olds = [found.get(i) for i in range(len(reqs))]
                outcomes = plan_transaction(reqs, olds)
                attempt.sent = True
                cursors = []
                with conn.pipeline():
                    for (_, lay, key), req, old, outcome in zip(entries, reqs, olds, outcomes):
                        if not outcome.changed or isinstance(req, CheckRequest):
                            continue
                        new = outcome.new
                        if new is None:
                            if old is not None:
                                conn.execute(lay.sql_delete(), [lay.lock_id(key), *lay.key_params(key)], prepare=True)
                        elif old is None:
                            params = lay.row_params(new, encode_item(new))
                            params.append(lay.lock_id(key))
                            cursors.append(conn.execute(lay.sql_insert(), params, prepare=True))
                        else:
                            params = lay.row_params(new, encode_item(new))
                            kp = params[: len(lay.key_params(key))]
                            conn.execute(lay.sql_update_locked(), [*params[len(kp) :], *kp], prepare=True)
                if any(c.rowcount != 1 for c in cursors):
                    raise Retry()  # an insert lost to a concurrent writer: start over

    # ------------------------------------------------------ streams and TTL (SQL in .changelog)

    def _stream_info(self, spec: TableSpec, stream_id: str | None) -> StreamInfo:
        return self._db.run_read(spec.name, lambda conn: changelog.stream_info(conn, spec, stream_id))  # type: ignore[no-any-return]

    def _read_shard(self, spec: TableSpec, info: StreamInfo, shard: Shard, after: str | None, limit: int) -> ShardRead:
        return self._db.run_read(  # type: ignore[no-any-return]
            spec.name, lambda conn: changelog.read_shard(conn, spec, info, shard, after, limit)
        )

    def _shard_end(self, spec: TableSpec, info: StreamInfo, shard: Shard) -> str | None:
        return self._db.run_read(spec.name, lambda conn: changelog.shard_end(conn, info, shard))  # type: ignore[no-any-return]

    def _set_stream(self, spec: TableSpec, view: StreamView | None) -> None:
        lay = self._layout(spec)
        with self._db.write(spec.name) as conn:
            changelog.set_stream(conn, lay, view)
        self._layouts.pop(spec.name, None)

    def _set_ttl(self, spec: TableSpec, attribute: str | None) -> None:
        lay = self._layout(spec)
        with self._db.write(spec.name) as conn:
            changelog.set_ttl(conn, lay, attribute)
        self._layouts.pop(spec.name, None)

    def _trim_changes(self, spec: TableSpec, retention_s: float | None) -> int:
        with self._db.write(spec.name) as conn:
            return changelog.trim(conn, spec.name, retention_s)

    def _expire(self, spec: TableSpec, now: Decimal) -> int:
        lay = self._layout(spec)
        # No outer transaction: the sweep commits one shard group at a time; a deadlock repeats the sweep.
        for attempt in self._db.transaction(
            spec.name, begin=False, gave_up="the TTL sweep kept conflicting with concurrent transactions"
        ):
            with attempt as conn:
                attempt.sent = True
                return changelog.expire(conn, lay, now)
        raise AssertionError("unreachable")  # pragma: no cover - transaction() raises when attempts run out

    def _token_seen(self, conn: PooledConnection, token: str, fingerprint: str) -> bool:
        """Claim an idempotency token inside the transaction; True when it is a repeat within the window (T3)."""
        raw = token.encode("utf-8", "surrogatepass")
        t = sql.Identifier(TOKENS.name)
        claimed = conn.execute(
            sql.SQL(
                "INSERT INTO {t} (token, fingerprint) VALUES (%s, %s) ON CONFLICT (token) DO UPDATE"
                " SET fingerprint = EXCLUDED.fingerprint, created = now()"
                " WHERE {t}.created < now() - make_interval(secs => %s) RETURNING 1"
            ).format(t=t),
            (raw, fingerprint, TOKEN_WINDOW_SECONDS),
        ).fetchone()
        if claimed is not None:
            return False
        row = conn.execute(sql.SQL("SELECT fingerprint FROM {} WHERE token = %s").format(t), (raw,)).fetchone()
        if row is not None and row[0] != fingerprint:
            raise IdempotencyMismatch("the idempotency token was used with a different transaction (T3)")
        return True


class _CatalogWatcher:
    """A daemon thread on its own connection: ``LISTEN storeswap_catalog``, dropping cached specs it hears of."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storeswap-catalog-watcher", daemon=True)
        #: Set once the first LISTEN is in place (tests wait on it).
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self.listening.wait(10)

    def stop(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._store.conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(changelog.CATALOG_CHANNEL)))
                    # Whatever changed before the LISTEN went unheard: start from the catalog.
                    self._store._drop_all_cached()
                    self.listening.set()
                    backoff = 0.1
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._store._drop_cached(note.payload)
            except psycopg.Error:
                self.listening.clear()
                self._store._drop_all_cached()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)


def _sort_sql(cond: Compare | Between | BeginsWith, col: KeyColumn) -> tuple[str, list[Any]]:
    """The SQL shape and parameters of a key condition's sort part (K1, K2)."""
    if isinstance(cond, Compare):
        return cond.op, [col.param(_literal(cond.right))]
    if isinstance(cond, Between):
        return "between", [col.param(_literal(cond.low)), col.param(_literal(cond.high))]
    # begins_with: a byte range, never LIKE, so % and _ are ordinary characters (K2).
    prefix = col.param(_literal(cond.prefix))
    succ = _successor(prefix)
    if succ is None:
        return "prefix", [prefix]
    return "prefix<", [prefix, succ]


def _keyed(table: str, key_of: Callable[..., Any], *args: Any) -> Any:
    """``key_of(*args)``, a stored item's key or position; an item without its key attributes is damaged (E3)."""
    try:
        return key_of(*args)
    except KeyError as e:
        raise StoreCorrupted(f"table {table}: a stored item cannot be read: it lacks its key attribute {e}") from None
    except KEY_DAMAGE as e:
        raise StoreCorrupted(f"table {table}: a stored item cannot be read: a key attribute of the wrong type ({e})") from None


def _advanced(table: str, before: list[Any] | None, after: list[Any], forward: bool) -> list[Any]:
    """``after``, the next page's start, checked to lie beyond ``before`` in the page order.

    The start comes from the last item's bytes, not its row's key columns: an item whose bytes name another key
    would restart the same rows again (a loop that never ends) or go back over them (duplicates). Keys compare in
    Python as PostgreSQL orders their columns (bytea and numeric), so a start that does not advance past the
    previous start and the chunk's first row is damage (E3). Not caught: bytes naming a key between the chunk's
    first row and its own (the next chunk then repeats the rows between).
    """
    if before is not None:
        try:
            ok = tuple(after) > tuple(before) if forward else tuple(after) < tuple(before)
        except TypeError:
            ok = False
        if not ok:
            raise StoreCorrupted(f"table {table}: a stored item cannot be read: its key is not the key of its row")
    return after


def _fetch_all(query: str, params: list[Any], conn: PooledConnection) -> list[Any]:
    return conn.hot().execute(query, params, prepare=True, binary=True).fetchall()


def _fetch_one(query: str, params: list[Any], conn: PooledConnection) -> Any:
    cur = conn.hot()
    cur.execute(query, params, prepare=True, binary=True)
    return cur.fetchone()


def _driver(c: sa.Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy one (the change-log DDL goes through the raw driver)."""
    raw = c.connection.driver_connection
    assert raw is not None  # a checked-out connection always has its driver connection
    return raw  # type: ignore[no-any-return]


def _ensure_schema(c: sa.Connection) -> None:
    """Create the catalog and token tables when missing (run once per store, in one transaction)."""
    # IF NOT EXISTS alone races on pg_type between processes; the advisory lock serialises them.
    c.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
    for table in METADATA.sorted_tables:
        c.execute(sa.schema.CreateTable(table, if_not_exists=True))
    # The change-log trigger function (changelog.py); raw driver: its body holds % characters.
    _driver(c).execute(changelog.TRIGGER_FUNCTION)
