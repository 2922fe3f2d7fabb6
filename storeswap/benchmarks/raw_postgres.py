"""The raw-driver twin of the PostgreSQL adapter: psycopg prepared statements on the adapter's own rows.

Same table, same row layout (``bucket, pk, sk, item bytea, index columns``),
same codec, so the adapter/raw ratio measures what the adapter adds — the
port's validation, expression handling, pooling — and not a different
amount of work.  Writes that depend on the current item use the same
compare-and-swap as the adapter (read, change in Python, ``UPDATE ... WHERE
item = <bytes read>``, rewriting the index columns with the item), the least
a correct raw client can do on this layout.  An index query names the
partial index's predicate (``<index key columns> IS NOT NULL``), as a
competent user would: without it PostgreSQL cannot prove the partial index
covers the query and scans the table (``tests/test_bench_raw_plans.py``
compares every statement's plan with the adapter's).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from storeswap.adapters.postgres.codec import decode_item, encode_item
from storeswap.adapters.postgres.layout import Layout
from storeswap.benchmarks.raw_base import BENCH_TABLE
from storeswap.core.keys import partition_bucket
from storeswap.core.port import ItemStore

__all__ = ["RawPostgres", "make_raw"]

_ATTEMPTS = 100


def make_raw(store: ItemStore) -> RawPostgres:
    """The raw twin of an opened :class:`~storeswap.adapters.postgres.PostgresStore` (``BENCH_TABLE`` must exist)."""
    conninfo = getattr(store, "conninfo", None)
    if conninfo is None:
        raise TypeError(f"make_raw needs a PostgresStore, not {type(store).__name__}")
    return RawPostgres(conninfo, Layout.build(store.spec(BENCH_TABLE)))


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


class RawPostgres:
    """get / put / conditional_update / query (+ update_field, increment, query_index) with psycopg alone."""

    def __init__(self, conninfo: str, layout: Layout) -> None:
        self._conn = psycopg.connect(conninfo, autocommit=True)
        self._layout = layout
        t = sql.Identifier(layout.physical)
        cols = layout.write_columns
        self._sql_get = (
            sql.SQL("SELECT item FROM {} WHERE bucket = %s AND pk = %s AND sk = %s").format(t).as_string(None)
        )
        self._sql_put = (
            sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (bucket, pk, sk) DO UPDATE SET {}")
            .format(
                t,
                sql.SQL(", ").join(map(sql.Identifier, cols)),
                sql.SQL(", ").join(sql.Placeholder() for _ in cols),
                sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in cols[3:]),
            )
            .as_string(None)
        )
        self._sql_insert = (
            sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (bucket, pk, sk) DO NOTHING")
            .format(
                t, sql.SQL(", ").join(map(sql.Identifier, cols)), sql.SQL(", ").join(sql.Placeholder() for _ in cols)
            )
            .as_string(None)
        )
        self._sql_replace = (
            sql.SQL("UPDATE {} SET {} WHERE bucket = %s AND pk = %s AND sk = %s AND item = %s")
            .format(t, sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in cols[3:]))
            .as_string(None)
        )
        self._sql_query = (
            sql.SQL("SELECT item FROM {} WHERE bucket = %s AND pk = %s ORDER BY sk LIMIT %s").format(t).as_string(None)
        )
        self._sql_index: dict[str, str] = {}
        for name, ic in layout.indexes.items():
            if name is None:
                continue
            # The index is partial (sparse, Q6): its predicate must appear in the query for the planner to use it.
            present = [ic.partition.column] + ([ic.sort.column] if ic.sort is not None else [])
            self._sql_index[name] = (
                sql.SQL("SELECT item FROM {} WHERE {} = %s AND {} = %s AND {} ORDER BY {} LIMIT %s")
                .format(
                    t,
                    sql.Identifier(ic.bucket),
                    sql.Identifier(ic.partition.column),
                    sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in present),
                    sql.SQL(", ").join(sql.Identifier(c.column) for c in ic.order),
                )
                .as_string(None)
            )

    # ------------------------------------------------------------- protocol

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Read one item by key and decode it."""
        row = self._conn.execute(
            self._sql_get, (partition_bucket(pk), _b(pk), _b(sk)), prepare=True, binary=True
        ).fetchone()
        return None if row is None else decode_item(row[0])

    def put(self, item: dict[str, Any]) -> None:
        """Write a whole item (unconditional upsert)."""
        self._conn.execute(self._sql_put, self._layout.row_params(item, encode_item(item)), prepare=True)

    def conditional_update(self, pk: str, sk: str, expected_version: Decimal) -> bool:
        """``SET version = version + 1, n = n + 1`` if ``version = expected_version``."""
        key = (partition_bucket(pk), _b(pk), _b(sk))
        row = self._conn.execute(self._sql_get, key, prepare=True, binary=True).fetchone()
        if row is None:
            return False
        item = decode_item(row[0])
        if item.get("version") != expected_version:
            return False
        item["version"] = item["version"] + 1
        item["n"] = item.get("n", Decimal(0)) + 1
        cur = self._conn.execute(self._sql_replace, self._replace_params(item, key, row[0]), prepare=True)
        return cur.rowcount == 1

    def query(self, pk: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` items of partition ``pk`` in sort-key order, decoded."""
        rows = self._conn.execute(
            self._sql_query, (partition_bucket(pk), _b(pk), limit), prepare=True, binary=True
        ).fetchall()
        return [decode_item(r[0]) for r in rows]

    def _replace_params(self, item: dict[str, Any], key: tuple[Any, ...], old_blob: bytes) -> list[Any]:
        # item and index columns (an update may add or drop an index key), then the key and the bytes read
        return [*self._layout.value_params(item, encode_item(item)), *key, old_blob]

    # --------------------------------------------------------------- extras

    def _modify(self, pk: str, sk: str, change: Any) -> None:
        key = (partition_bucket(pk), _b(pk), _b(sk))
        for _ in range(_ATTEMPTS):
            row = self._conn.execute(self._sql_get, key, prepare=True, binary=True).fetchone()
            if row is None:
                item = {"pk": pk, "sk": sk}
                change(item)
                cur = self._conn.execute(
                    self._sql_insert, self._layout.row_params(item, encode_item(item)), prepare=True
                )
            else:
                item = decode_item(row[0])
                change(item)
                cur = self._conn.execute(self._sql_replace, self._replace_params(item, key, row[0]), prepare=True)
            if cur.rowcount == 1:
                return
        raise RuntimeError("raw twin: too many lost races")

    def update_field(self, pk: str, sk: str, name: str, value: str) -> None:
        """``SET name = value`` on one item (an upsert)."""

        def change(item: dict[str, Any]) -> None:
            item[name] = value

        self._modify(pk, sk, change)

    def increment(self, pk: str, sk: str, name: str, by: Decimal) -> None:
        """``ADD name by`` on one item (an upsert; a missing number counts as 0)."""

        def change(item: dict[str, Any]) -> None:
            item[name] = item.get(name, Decimal(0)) + by

        self._modify(pk, sk, change)

    def query_index(self, index: str, pk: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` items of partition ``pk`` of global index ``index``, decoded."""
        ic = self._layout.indexes[index]
        rows = self._conn.execute(
            self._sql_index[index], (partition_bucket(pk), ic.partition.param(pk), limit), prepare=True, binary=True
        ).fetchall()
        return [decode_item(r[0]) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
