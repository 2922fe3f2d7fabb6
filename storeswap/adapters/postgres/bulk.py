"""The PostgreSQL bulk path behind ``ItemStore.bulk_put``: COPY into a staging table, then one upsert.

:class:`PostgresStore` calls :func:`bulk_put` from its ``_bulk_put`` with its
datastore (:mod:`.datastore`, which maps every driver error) and the table's
layout; this module knows nothing of the store itself.

Semantics are those of ``bulk_put`` in the port: unconditional puts, the last
write of a key wins (duplicates inside one call are collapsed first, since
``ON CONFLICT DO UPDATE`` cannot touch a row twice in one statement).  Each
chunk of at most :data:`CHUNK` items is one transaction that takes the
items' advisory locks in sorted order — the same locks single writes and
transactions take (ADR 0009-postgres-concurrency) — so a bulk load running
beside conditional writes cannot interleave with them or deadlock.

Rows go first, under a savepoint, straight into the table with ``COPY ...
FROM STDIN (FORMAT BINARY)``: into a fresh table (a migration) that is all.
When a key already exists (a resumed copy, a reload) the savepoint is rolled
back and the rows go through a temporary table created ``ON COMMIT DROP``
(so it always has the current columns) and ``INSERT ... SELECT ... ON
CONFLICT DO UPDATE``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from storeswap.adapters.postgres import changelog
from storeswap.adapters.postgres.codec import encode_item
from storeswap.adapters.postgres.datastore import PostgresDatastore
from storeswap.adapters.postgres.layout import Layout
from storeswap.core.requests import PutRequest
from storeswap.core.schema import TableSpec

__all__ = ["bulk_put", "CHUNK"]

#: Items per transaction: bounds the advisory locks one transaction holds (they share the lock table).
CHUNK = 2000

_PG_TYPES = {"S": "bytea", "B": "bytea", "N": "numeric"}


def _column_types(lay: Layout) -> list[str]:
    kinds = {
        "pk": lay.pk.type,
        **({"sk": lay.sk.type} if lay.sk is not None else {}),
        **{c.column: c.type for c in lay.extra},
    }
    out = []
    for col in lay.write_columns:
        if col == "bucket" or col.startswith("g"):
            out.append("bigint")
        elif col == "item":
            out.append("bytea")
        elif col == "ttl":
            out.append("numeric")
        else:
            out.append(_PG_TYPES[kinds[col]])
    return out


def _statements(lay: Layout) -> tuple[str, str, str, str]:
    cached = lay.sql_cache.get("bulk")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    cols = lay.write_columns
    stage = sql.Identifier(f"bulk_{lay.physical}")
    col_list = sql.SQL(", ").join(map(sql.Identifier, cols))
    create = sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
        stage,
        sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in zip(cols, _column_types(lay))
        ),
    )
    copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, col_list)
    key_cols = ["bucket", "pk"] + (["sk"] if lay.sk is not None else [])
    updates = [c for c in cols if c not in key_cols]
    upsert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT ({}) DO UPDATE SET {}").format(
        lay.ident,
        col_list,
        col_list,
        stage,
        sql.SQL(", ").join(map(sql.Identifier, key_cols)),
        sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates),
    )
    direct = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(lay.ident, col_list)
    result = (create.as_string(None), copy.as_string(None), upsert.as_string(None), direct.as_string(None))
    lay.sql_cache["bulk"] = result
    return result


def bulk_put(db: PostgresDatastore, lay: Layout, reqs: list[PutRequest], *, record_changes: bool = False) -> None:
    """Write validated put requests with COPY + one upsert per chunk (see the module docstring).

    On a table with a change stream the rows get change records only with
    ``record_changes`` (a migration's load is not an application change; changelog.py).
    """
    # Last write of a key wins; the rows are built once, before any transaction starts.
    latest: dict[int, tuple[list[Any], int]] = {}
    for r in reqs:
        lock = lay.lock_id(r.key)
        latest.pop(lock, None)
        latest[lock] = (lay.row_params(r.item, encode_item(r.item)), lock)
    rows = list(latest.values())
    types = _column_types(lay)
    create, copy, upsert, direct = _statements(lay)
    key_len = 2 if lay.sk is None else 3
    for start in range(0, len(rows), CHUNK):
        # Rows go in in table-key order (sequential index inserts: a large part of COPY's server cost);
        # _write_chunk takes the chunk's locks in lock-id order, which is what rules out deadlocks.
        chunk = sorted(rows[start : start + CHUNK], key=lambda p: p[0][:key_len])
        _write_chunk(db, lay.spec, chunk, types, create, copy, upsert, direct, record_changes)


def _write_chunk(
    db: PostgresDatastore,
    spec: TableSpec,
    chunk: list[tuple[list[Any], int]],
    types: list[str],
    create: str,
    copy: str,
    upsert: str,
    direct: str,
    record_changes: bool,
) -> None:
    table = spec.name
    locks = sorted(lock for _, lock in chunk)
    for attempt in db.transaction(table, gave_up="bulk_put kept conflicting with concurrent transactions"):
        with attempt as conn:
            attempt.sent = True
            conn.execute("SELECT pg_advisory_xact_lock(l) FROM unnest(%s::bigint[]) AS l", (locks,))
            if not record_changes:
                conn.execute("SET LOCAL storeswap.changelog = 'off'")
            elif spec.stream is not None:
                changelog.lock_all_shards(conn, spec.name)
            try:
                # Optimistic: into a fresh table (a migration) no key exists yet, and COPY straight
                # into the table is half the server work of staging + upsert.
                with conn.transaction(), conn.cursor() as cur, cur.copy(direct) as cp:
                    cp.set_types(types)
                    for params, _ in chunk:
                        cp.write_row(params)
                return
            except psycopg.errors.UniqueViolation:
                pass  # some keys exist (a resumed copy, a reload): the savepoint was rolled back
            conn.execute(create)
            with conn.cursor() as cur, cur.copy(copy) as cp:
                cp.set_types(types)
                for params, _ in chunk:
                    cp.write_row(params)
            conn.execute(upsert)
