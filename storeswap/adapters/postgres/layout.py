"""How a DynamoDB-shaped table lives in PostgreSQL: names, columns, DDL and the pre-built SQL.

One physical table per storeswap table::

    bucket  bigint   partition_bucket(pk): parallel-scan segments are bucket ranges
    pk      bytea | numeric   the partition key (S as UTF-8 bytes, see ADR 0008-postgres-key-columns)
    sk      bytea | numeric   the sort key, when the table has one
    item    bytea    the whole item, encoded by :mod:`.codec`
    a0..    bytea | numeric   one column per secondary-index key attribute (NULL when absent)
    g0..    bigint   partition_bucket of a global index's partition key (NULL when absent)
    ttl     numeric  the TTL attribute when it counts (S1), else NULL; only on tables with TTL

Primary key ``(bucket, pk[, sk])``: unique exactly when ``(pk, sk)`` is (bucket
is a function of pk), ordered as scans need, and it leads with the
distribution-friendly partition data.  Each index is a partial btree on
``(index bucket, index pk, index sk, pk, sk) WHERE index keys IS NOT NULL``,
so indexes are sparse (Q6) and ties are ordered by the table key (K3).

Names never reach SQL by string pasting: DDL goes through SQLAlchemy Core
objects and the hot-path statements through :mod:`psycopg.sql` identifiers,
composed once per table.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from attrs import define, field
from psycopg import sql

from storeswap.adapters.postgres.arrays import column_array
from storeswap.adapters.postgres.codec import encode_value
from storeswap.core.changes import ttl_expiry
from storeswap.core.keys import partition_bucket
from storeswap.core.schema import IndexKeys, KeyAttribute, TableSpec

__all__ = [
    "CATALOG",
    "LOAD_SLOTS",
    "SQL_LOCK_ITEMS",
    "SQL_LOCK_TRANSACTION",
    "TOKENS",
    "METADATA",
    "physical_name",
    "index_physical_name",
    "Layout",
    "KeyColumn",
    "IndexColumns",
    "ddl_table",
    "ttl_index_name",
]

# The catalog and token tables live in the default schema next to the data tables.
#: Advisory locks of many items (their :meth:`Layout.lock_id`), in the order of the array: callers sort it, so
#: that every multi-item writer takes them in one order (ADR 0009).
SQL_LOCK_ITEMS = "SELECT pg_advisory_xact_lock(l) FROM unnest(%b::bigint[]) AS l"

#: A transaction's locks, parameters ``(item lock ids, load slot ids)``, both sorted: every load slot of its
#: tables in shared mode, then its items' locks.  The slot locks are an InitPlan behind a one-time filter, so
#: PostgreSQL takes them all before it takes the first item lock, even when there is none.  A bulk load's unlocked COPY holds
#: one slot of its table exclusively (``bulk.py``): the two never run together (ADR 0009, decision 0037).
SQL_LOCK_TRANSACTION = (
    "SELECT pg_advisory_xact_lock(l) FROM unnest(%b::bigint[]) AS l"
    " WHERE (SELECT count(pg_advisory_xact_lock_shared(s)) FROM unnest(%b::bigint[]) AS s) >= 0"
)

#: Load slots per table: as many bulk loads of one table COPY at once without waiting for each other.
LOAD_SLOTS = 8

METADATA = sa.MetaData()

#: name -> spec; ``spec`` and ``layout`` are JSON text, not jsonb: jsonb rejects U+0000 and lone surrogates,
#: both legal in attribute names (V5).
CATALOG = sa.Table(
    "storeswap_catalog",
    METADATA,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("physical", sa.Text, nullable=False, unique=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

#: Idempotency tokens of transact_write (T3); token bytes are UTF-8 (a token may hold NUL).
TOKENS = sa.Table(
    "storeswap_tokens",
    METADATA,
    sa.Column("token", sa.LargeBinary, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

_UNSAFE = re.compile(r"[^a-z0-9_]")


def physical_name(table: str) -> str:
    """The PostgreSQL identifier of a table: ``t_`` + sanitised prefix + a hash of the full name.

    At most 51 bytes (PostgreSQL truncates identifiers at 63), lower case
    ``[a-z0-9_]`` only, and distinct for names that differ only in case,
    dots, dashes or beyond the prefix.
    """
    digest = hashlib.sha256(table.encode("utf-8")).hexdigest()[:12]
    prefix = _UNSAFE.sub("_", table.lower())[:36]
    return f"t_{prefix}_{digest}"


def index_physical_name(physical: str, index: str) -> str:
    """The PostgreSQL name of a secondary index of ``physical`` (at most 61 bytes)."""
    return f"{physical}_x{hashlib.sha256(index.encode('utf-8')).hexdigest()[:8]}"


def ttl_index_name(physical: str) -> str:
    """The PostgreSQL name of a table's TTL index (the sweeper walks it over expired items only)."""
    return f"{physical}_ttl"


def _sa_type(key_type: str) -> sa.types.TypeEngine[Any]:
    return sa.Numeric() if key_type == "N" else sa.LargeBinary()


_PG_TYPE = {"S": "bytea", "B": "bytea", "N": "numeric"}


@define(frozen=True, slots=True)
class KeyColumn:
    """One key attribute and the column holding it."""

    attr: str
    column: str
    type: str

    def param(self, value: Any) -> Any:
        """``value`` in this column's representation."""
        if self.type == "S":
            return value.encode("utf-8", "surrogatepass")
        return value


@define(frozen=True, slots=True)
class IndexColumns:
    """The columns of a table or index key: bucket, partition, optional sort, then the table key for ties."""

    bucket: str
    partition: KeyColumn
    sort: KeyColumn | None
    #: the full order within one partition: index sort key, then table pk, sk (K3); for the table, just sk
    order: tuple[KeyColumn, ...]
    #: columns that must be non-NULL for an item to be in the index (sparse, Q6)
    required: tuple[str, ...]
    pg_index: str | None


@define(slots=False)
class Layout:
    """Everything needed to read and write one table; built from the spec alone, so it is deterministic."""

    spec: TableSpec
    physical: str
    pk: KeyColumn
    sk: KeyColumn | None
    #: secondary-index key attributes that are not table key attributes, in column order
    extra: tuple[KeyColumn, ...]
    #: attribute -> bucket column, for global indexes whose partition key is not the table's
    bucket_columns: tuple[tuple[str, str], ...]
    indexes: dict[str | None, IndexColumns]
    #: rendered statements by shape; other modules of this package may cache their own entries here
    sql_cache: dict[Any, Any] = field(factory=dict)
    #: the TTL attribute, when the table has one (then the ``ttl`` column exists)
    ttl: str | None = None

    @classmethod
    def build(cls, spec: TableSpec) -> Layout:
        """The layout of ``spec``."""
        physical = physical_name(spec.name)
        pk = KeyColumn(spec.partition_key.name, "pk", spec.partition_key.type)
        sk = None if spec.sort_key is None else KeyColumn(spec.sort_key.name, "sk", spec.sort_key.type)
        columns: dict[str, KeyColumn] = {pk.attr: pk}
        if sk is not None:
            columns[sk.attr] = sk
        extra: list[KeyColumn] = []
        buckets: dict[str, str] = {pk.attr: "bucket"}
        index_keys = spec.indexes()

        def column_of(attr: KeyAttribute) -> KeyColumn:
            col = columns.get(attr.name)
            if col is None:
                col = KeyColumn(attr.name, f"a{len(extra)}", attr.type)
                extra.append(col)
                columns[attr.name] = col
            return col

        bucket_cols: list[tuple[str, str]] = []
        indexes: dict[str | None, IndexColumns] = {
            None: IndexColumns("bucket", pk, sk, (sk,) if sk is not None else (), (), None)
        }
        for ix in index_keys:
            assert ix.name is not None
            ipk = column_of(ix.partition_key)
            isk = None if ix.sort_key is None else column_of(ix.sort_key)
            if ipk.attr not in buckets:
                name = f"g{len(bucket_cols)}"
                buckets[ipk.attr] = name
                bucket_cols.append((ipk.attr, name))
            order = tuple(c for c in (isk, pk, sk) if c is not None)
            required = tuple(
                dict.fromkeys(c.column for c in (ipk, isk) if c is not None and c.column not in ("pk", "sk"))
            )
            indexes[ix.name] = IndexColumns(
                buckets[ipk.attr], ipk, isk, order, required, index_physical_name(physical, ix.name)
            )
        return cls(spec, physical, pk, sk, tuple(extra), tuple(bucket_cols), indexes, ttl=spec.ttl_attribute)

    # ------------------------------------------------------------------ rows

    @property
    def write_columns(self) -> list[str]:
        """Columns written by an insert, in parameter order."""
        cols = ["bucket", "pk"]
        if self.sk is not None:
            cols.append("sk")
        cols.append("item")
        cols.extend(c.column for c in self.extra)
        cols.extend(name for _, name in self.bucket_columns)
        if self.ttl is not None:
            cols.append("ttl")
        return cols

    def lock_id(self, key: dict[str, Any]) -> int:
        """The 64-bit advisory-lock id of one item (table + key), taken by every write of it (ADR 0009)."""
        prefix = self.sql_cache.get("lock_hash")
        if prefix is None:  # the table's part of the hash, computed once per layout
            prefix = self.sql_cache["lock_hash"] = hashlib.blake2b(self.physical.encode(), digest_size=8)
        h = prefix.copy()
        h.update(encode_value(key[self.pk.attr]))
        if self.sk is not None:
            h.update(encode_value(key[self.sk.attr]))
        return int.from_bytes(h.digest(), "big", signed=True)

    @property
    def load_slots(self) -> tuple[int, ...]:
        """The table's :data:`LOAD_SLOTS` advisory-lock ids of bulk loads (ADR 0009, decision 0037).

        An unlocked bulk COPY holds one of them exclusively; a transaction holds all of them shared.  Hashed
        like :meth:`lock_id` from the table's name and a suffix no encoded key starts with (``0xff``).
        """
        cached = self.sql_cache.get("load_slots")
        if cached is None:
            cached = self.sql_cache["load_slots"] = tuple(
                int.from_bytes(
                    hashlib.blake2b(self.physical.encode() + b"\xffload-slot" + bytes([i]), digest_size=8).digest(),
                    "big",
                    signed=True,
                )
                for i in range(LOAD_SLOTS)
            )
        return cached

    def key_params(self, key: dict[str, Any]) -> list[Any]:
        """``[bucket, pk, sk]`` parameters of a table key."""
        pkv = key[self.pk.attr]
        params = [partition_bucket(pkv), self.pk.param(pkv)]
        if self.sk is not None:
            params.append(self.sk.param(key[self.sk.attr]))
        return params

    def row_params(self, item: dict[str, Any], blob: bytes) -> list[Any]:
        """Parameters for :attr:`write_columns` of an item."""
        params = self.key_params(item)
        params.extend(self.value_params(item, blob))
        return params

    def value_params(self, item: dict[str, Any], blob: bytes) -> list[Any]:
        """Parameters of the non-key write columns (item, index columns), in :attr:`write_columns` order."""
        params: list[Any] = [blob]
        for c in self.extra:
            v = item.get(c.attr)
            params.append(None if v is None else c.param(v))
        for attr, _ in self.bucket_columns:
            v = item.get(attr)
            params.append(None if v is None else partition_bucket(v))
        if self.ttl is not None:
            params.append(ttl_expiry(item, self.ttl))
        return params

    def order_params(self, index: IndexKeys, item: dict[str, Any]) -> list[Any]:
        """The values of an index's order columns for ``item`` (a cursor position within a partition)."""
        cols = self.indexes[index.name]
        return [c.param(item[c.attr]) for c in cols.order]

    def scan_params(self, index: IndexKeys, item: dict[str, Any]) -> list[Any]:
        """The full scan position of ``item``: index bucket, index pk, then the partition order."""
        cols = self.indexes[index.name]
        pkv = item[cols.partition.attr]
        return [partition_bucket(pkv), cols.partition.param(pkv), *self.order_params(index, item)]

    # ------------------------------------------------------------------ DDL

    def ddl_table(self, metadata: sa.MetaData) -> sa.Table:
        """The SQLAlchemy Core table (with its indexes) for CREATE TABLE."""
        return ddl_table(self, metadata)

    # ------------------------------------------------------------------ SQL

    @property
    def ident(self) -> sql.Identifier:
        """The quoted table identifier."""
        return sql.Identifier(self.physical)

    def _key_where(self) -> sql.Composable:
        cols = self.key_columns()
        return sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols)

    def column_type(self, column: str) -> str:
        """The PostgreSQL type of one of :attr:`write_columns`."""
        if column in ("bucket",) or column.startswith("g"):
            return "bigint"
        if column == "item":
            return "bytea"
        if column == "ttl":
            return "numeric"
        kc = {"pk": self.pk, "sk": self.sk, **{c.column: c for c in self.extra}}[column]
        assert kc is not None
        return _PG_TYPE[kc.type]

    def array_params(self, kind: str, columns: Iterable[Iterable[Any]]) -> list[list[Any]]:
        """One ``%b::type[]`` parameter per column, typed for :mod:`.arrays`'s packers.

        ``kind`` names the columns: ``"write"`` (:attr:`write_columns`, a multi-row upsert) or ``"key"``
        (:meth:`key_columns`: a multi-row delete or read).  Their SQL types are looked up once per layout.
        """
        types: list[str] | None = self.sql_cache.get(("array_types", kind))
        if types is None:
            names = self.write_columns if kind == "write" else self.key_columns()
            types = self.sql_cache[("array_types", kind)] = [self.column_type(c) for c in names]
        return [column_array(t, col) for t, col in zip(types, columns)]

    def _cast(self, column: str) -> sql.Composable:
        return sql.SQL(f"%s::{self.column_type(column)}")

    def key_columns(self) -> list[str]:
        """The primary-key columns: ``bucket, pk[, sk]``."""
        return ["bucket", "pk"] + (["sk"] if self.sk is not None else [])

    def _conflict_target(self) -> sql.Composable:
        return sql.SQL(", ").join(map(sql.Identifier, self.key_columns()))

    def render(self, key: Any, composed: sql.Composable) -> str:
        """Render and remember a statement (one rendering per table and statement shape)."""
        text = composed.as_string(None)
        self.sql_cache[key] = text
        return text

    def sql_get(self) -> str:
        """``SELECT item`` by table key."""
        q: str | None = self.sql_cache.get("get")
        if q is None:
            q = self.render("get", sql.SQL("SELECT item FROM {} WHERE {}").format(self.ident, self._key_where()))
        return q

    def sql_get_many(self) -> str:
        """``SELECT item`` for many keys at once (unnest of key arrays), optionally ``FOR UPDATE``."""
        q: str | None = self.sql_cache.get("get_many")
        if q is None:
            cols = self.key_columns()
            types = [self.column_type(c) for c in cols]
            arrays = sql.SQL(", ").join(sql.SQL(f"%b::{t}[]") for t in types)  # binary: see sql_upsert_many
            on = sql.SQL(" AND ").join(sql.SQL("t.{c} = k.{c}").format(c=sql.Identifier(c)) for c in cols)
            q = self.render(
                "get_many",
                sql.SQL("SELECT t.item FROM {} AS t JOIN unnest({}) AS k({}) ON {}").format(
                    self.ident, arrays, sql.SQL(", ").join(map(sql.Identifier, cols)), on
                ),
            )
        return q

    def sql_lock_many(self) -> str:
        """:meth:`sql_get_many` with ``FOR UPDATE OF t`` (transactions)."""
        q: str | None = self.sql_cache.get("lock_many")
        if q is None:
            q = self.sql_get_many() + " FOR UPDATE OF t"
            self.sql_cache["lock_many"] = q
        return q

    def _insert_head(self) -> sql.Composable:
        cols = self.write_columns
        return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM pg_advisory_xact_lock(%s::bigint)").format(
            self.ident,
            sql.SQL(", ").join(map(sql.Identifier, cols)),
            sql.SQL(", ").join(self._cast(c) for c in cols),
        )

    def sql_upsert(self) -> str:
        """Unconditional put: one statement, under the item's advisory lock (see ADR 0009-postgres-concurrency)."""
        q: str | None = self.sql_cache.get("upsert")
        if q is None:
            updates = [c for c in self.write_columns if c not in ("bucket", "pk", "sk")]
            q = self.render(
                "upsert",
                sql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {}").format(
                    self._insert_head(),
                    self._conflict_target(),
                    sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates),
                ),
            )
        return q

    def sql_upsert_many(self) -> str:
        """Unconditional puts of many items in one statement: one array per :attr:`write_columns` column.

        Takes no locks itself: the caller holds every item's advisory lock already (a batch takes them
        all first, sorted; ADR 0009-postgres-concurrency).  The arrays go in binary (``%b``): psycopg's
        text format escapes every element of a ``bytea[]`` with a regular expression, five times the cost.  The keys must be distinct (``ON CONFLICT DO
        UPDATE`` cannot touch a row twice in one statement; the port rejects duplicates in a batch, T1).
        """
        q: str | None = self.sql_cache.get("upsert_many")
        if q is None:
            cols = self.write_columns
            updates = [c for c in cols if c not in ("bucket", "pk", "sk")]
            q = self.render(
                "upsert_many",
                sql.SQL("INSERT INTO {} ({}) SELECT * FROM unnest({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
                    self.ident,
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                    sql.SQL(", ").join(sql.SQL(f"%b::{self.column_type(c)}[]") for c in cols),
                    self._conflict_target(),
                    sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates),
                ),
            )
        return q

    def sql_delete_many(self) -> str:
        """Unconditional deletes of many keys in one statement: arrays of ``bucket, pk[, sk]`` (locks held by the caller)."""
        q: str | None = self.sql_cache.get("delete_many")
        if q is None:
            cols = self.key_columns()
            q = self.render(
                "delete_many",
                sql.SQL("DELETE FROM {} AS t USING unnest({}) AS d({}) WHERE {}").format(
                    self.ident,
                    sql.SQL(", ").join(sql.SQL(f"%b::{self.column_type(c)}[]") for c in cols),
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                    sql.SQL(" AND ").join(sql.SQL("t.{c} = d.{c}").format(c=sql.Identifier(c)) for c in cols),
                ),
            )
        return q

    def sql_insert(self) -> str:
        """Insert if absent (0 rows when a concurrent insert won)."""
        q: str | None = self.sql_cache.get("insert")
        if q is None:
            q = self.render(
                "insert",
                sql.SQL("{} ON CONFLICT ({}) DO NOTHING").format(self._insert_head(), self._conflict_target()),
            )
        return q

    def _cas_lock(self) -> sql.Composable:
        """The FROM item of a compare-and-swap: the item's advisory lock on a table with a stream, else nothing.

        On a streamed table a transaction or a batch holds the item's lock and then the stream's shard counters
        before it locks the row, and the change-log trigger takes a counter after the row: a CAS that took the
        row first and then waited for a counter could deadlock with one (broken by PostgreSQL only after
        ``deadlock_timeout``; measured: 8 threads racing transactions and CAS updates on two items, 195 s
        before, 1.5 s after).  Without a stream there is no counter and no such cycle, and a lockless CAS does
        not queue behind transactions, so it retries less under contention (3 attempts per update instead of 5
        in the same race); the lock id parameter is passed either way.
        """
        if self.spec.stream is not None:
            return sql.SQL("pg_advisory_xact_lock(%s::bigint)")
        return sql.SQL("(VALUES (%s::bigint)) AS unlocked(id)")

    def sql_replace(self) -> str:
        """Compare-and-swap: replace the item only if its stored bytes are still the ones we read.

        Parameters: the new values, the item's lock id, the key, the bytes read.  On a table with a stream it
        takes the item's advisory lock before the row's (:meth:`_cas_lock`, ADR 0009).
        """
        q: str | None = self.sql_cache.get("replace")
        if q is None:
            cols = [c for c in self.write_columns if c not in ("bucket", "pk", "sk")]
            q = self.render(
                "replace",
                sql.SQL("UPDATE {} SET {} FROM {} WHERE {} AND item = %s::bytea").format(
                    self.ident,
                    sql.SQL(", ").join(sql.SQL("{} = ").format(sql.Identifier(c)) + self._cast(c) for c in cols),
                    self._cas_lock(),
                    self._key_where(),
                ),
            )
        return q

    def sql_update_locked(self) -> str:
        """Replace the item of a row this transaction holds locked."""
        q: str | None = self.sql_cache.get("update_locked")
        if q is None:
            cols = [c for c in self.write_columns if c not in ("bucket", "pk", "sk")]
            q = self.render(
                "update_locked",
                sql.SQL("UPDATE {} SET {} WHERE {}").format(
                    self.ident,
                    sql.SQL(", ").join(sql.SQL("{} = ").format(sql.Identifier(c)) + self._cast(c) for c in cols),
                    self._key_where(),
                ),
            )
        return q

    def sql_delete_if(self) -> str:
        """Compare-and-delete: delete only if the stored bytes are still the ones we read.

        Parameters: the item's lock id, the key, the bytes read (the lock as in :meth:`sql_replace`).
        """
        q: str | None = self.sql_cache.get("delete_if")
        if q is None:
            q = self.render(
                "delete_if",
                sql.SQL("DELETE FROM {} USING {} WHERE {} AND item = %s::bytea").format(
                    self.ident, self._cas_lock(), self._key_where()
                ),
            )
        return q

    def sql_delete(self) -> str:
        """Unconditional delete by key; parameters: the item's lock id, the key (the lock as in
        :meth:`sql_replace`; inside a transaction that holds it already, a second hold of the same lock)."""
        q: str | None = self.sql_cache.get("delete")
        if q is None:
            q = self.render(
                "delete",
                sql.SQL("DELETE FROM {} USING {} WHERE {}").format(self.ident, self._cas_lock(), self._key_where()),
            )
        return q

    def sql_query(self, index: str | None, sort_op: str | None, forward: bool, after: bool) -> str:
        """One partition of the table or an index, in order, keyset-paged, ``LIMIT %s``.

        Parameters: bucket, partition value, the sort condition's values
        (``sort_op``: ``= < <= > >=``, ``between``, ``prefix`` (>=), ``prefix<``
        (>= and <)), the cursor's order values when ``after``, the limit.
        """
        key = ("query", index, sort_op, forward, after)
        q: str | None = self.sql_cache.get(key)
        if q is not None:
            return q
        cols = self.indexes[index]
        where: list[sql.Composable] = [
            sql.SQL("{} = %s").format(sql.Identifier(cols.bucket)),
            sql.SQL("{} = %s").format(sql.Identifier(cols.partition.column)),
        ]
        where.extend(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in cols.required)
        if sort_op is not None:
            assert cols.sort is not None
            s = sql.Identifier(cols.sort.column)
            if sort_op == "between":
                where.append(sql.SQL("{} BETWEEN %s AND %s").format(s))
            elif sort_op == "prefix":
                where.append(sql.SQL("{} >= %s").format(s))
            elif sort_op == "prefix<":
                where.append(sql.SQL("{s} >= %s AND {s} < %s").format(s=s))
            else:
                assert sort_op in ("=", "<", "<=", ">", ">=")
                where.append(sql.SQL("{} ").format(s) + sql.SQL(sort_op) + sql.SQL(" %s"))
        where.extend(self._after(cols.order, forward, after))
        q = self.render(
            key,
            sql.SQL("SELECT item FROM {} WHERE {} ORDER BY {} LIMIT %s").format(
                self.ident, sql.SQL(" AND ").join(where), self._order_by(cols.order, forward)
            ),
        )
        return q

    def sql_scan(self, index: str | None, segmented: bool, after: bool) -> str:
        """A table or index in scan order ``(bucket, pk, order...)``, keyset-paged, ``LIMIT %s``.

        Parameters: ``lo, hi`` bucket bounds when ``segmented``, the cursor's
        scan position when ``after``, the limit.
        """
        key = ("scan", index, segmented, after)
        q: str | None = self.sql_cache.get(key)
        if q is not None:
            return q
        cols = self.indexes[index]
        order = (cols.bucket, cols.partition.column, *(c.column for c in cols.order))
        where: list[sql.Composable] = [sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in cols.required]
        if segmented:
            where.append(sql.SQL("{} BETWEEN %s AND %s").format(sql.Identifier(cols.bucket)))
        if after:
            where.append(
                sql.SQL("({}) > ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, order)), sql.SQL(", ").join(sql.SQL("%s") for _ in order)
                )
            )
        cond = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL("")
        q = self.render(
            key,
            sql.SQL("SELECT item FROM {}{} ORDER BY {} LIMIT %s").format(
                self.ident, cond, sql.SQL(", ").join(map(sql.Identifier, order))
            ),
        )
        return q

    @staticmethod
    def _after(order: Sequence[KeyColumn], forward: bool, after: bool) -> list[sql.Composable]:
        if not after:
            return []
        if not order:
            # A partition of a table without a sort key holds one item; nothing follows it.
            return [sql.SQL("FALSE")]
        return [
            sql.SQL("({}) {} ({})").format(
                sql.SQL(", ").join(sql.Identifier(c.column) for c in order),
                sql.SQL(">" if forward else "<"),
                sql.SQL(", ").join(sql.SQL("%s") for _ in order),
            )
        ]

    @staticmethod
    def _order_by(order: Sequence[KeyColumn], forward: bool) -> sql.Composable:
        if not order:
            return sql.SQL("bucket")
        direction = sql.SQL("" if forward else " DESC")
        return sql.SQL(", ").join(sql.Identifier(c.column) + direction for c in order)


def ddl_table(layout: Layout, metadata: sa.MetaData) -> sa.Table:
    """The SQLAlchemy Core :class:`~sqlalchemy.Table` of a layout, with its sparse indexes."""
    cols: list[sa.Column[Any]] = [
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("pk", _sa_type(layout.pk.type), nullable=False),
    ]
    if layout.sk is not None:
        cols.append(sa.Column("sk", _sa_type(layout.sk.type), nullable=False))
    cols.append(sa.Column("item", sa.LargeBinary, nullable=False))
    cols.extend(sa.Column(c.column, _sa_type(c.type), nullable=True) for c in layout.extra)
    cols.extend(sa.Column(name, sa.BigInteger, nullable=True) for _, name in layout.bucket_columns)
    if layout.ttl is not None:
        cols.append(sa.Column("ttl", sa.Numeric(), nullable=True))
    pk_cols = layout.key_columns()
    table = sa.Table(
        layout.physical,
        metadata,
        *cols,
        sa.PrimaryKeyConstraint(*pk_cols, name=f"{layout.physical}_pk"),
    )
    for name, ic in layout.indexes.items():
        if name is None:
            continue
        assert ic.pg_index is not None
        index_cols = [ic.bucket, ic.partition.column, *(c.column for c in ic.order)]
        required = [ic.partition.column] + ([ic.sort.column] if ic.sort is not None else [])
        where = sa.and_(*(table.c[c].isnot(None) for c in dict.fromkeys(required)))
        sa.Index(ic.pg_index, *(table.c[c] for c in dict.fromkeys(index_cols)), postgresql_where=where)
    if layout.ttl is not None:
        sa.Index(
            ttl_index_name(layout.physical),
            table.c.ttl,
            *(table.c[c] for c in pk_cols),
            postgresql_where=table.c.ttl.isnot(None),
        )
    return table
