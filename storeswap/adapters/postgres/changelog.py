"""Change streams and TTL in PostgreSQL: a change-log table written by a trigger, and the TTL sweeper.

Tables (in the default schema, beside the catalog)::

    storeswap_streams   id, table name, view type, shard count, created, disabled
    storeswap_shards    (stream, shard) -> last sequence number, trim point
    storeswap_changes   (stream, shard, seq) -> event, by_system, created, old item, new item

A stream is a row trigger on the table's physical table (``AFTER INSERT OR
UPDATE OR DELETE``), so every write path — the one-statement upsert, the
compare-and-swap writes, transactions, batches, ``COPY`` — records its change
in the same transaction as the change itself: a committed write always has
its record, a rolled-back one never does (S10), and a writer in another
process that has not seen the stream being enabled records too.

Sequence numbers are per shard (``bucket % shards``, :func:`~storeswap.core.changes.shard_of`):
the trigger increments the shard's counter row, and that row stays locked
until the writing transaction ends, so the transactions of one shard commit
in sequence order and sequences are dense.  A reader therefore never sees
sequence n+1 before n of the same shard has committed, and a checkpoint can
never skip a record that commits later (ADR 0021).

The trigger stores both images (the view type is applied when reading,
:func:`~storeswap.core.changes.make_record`), because the item encoding keeps
map order: a write whose bytes differ but whose item is equal is dropped on
reading (S4); byte-identical writes are dropped by the trigger itself.

The session settings ``storeswap.actor = 'ttl'`` (the sweeper: records carry
the TTL identity, S2) and ``storeswap.changelog = 'off'`` (a migration's
``bulk_load``; ``bulk_put`` records its changes like every write, S5) are set
with ``SET LOCAL`` inside the writing transaction only.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import psycopg
import sqlalchemy as sa
from psycopg import sql

from storeswap.adapters.postgres.arrays import Int8Array
from storeswap.adapters.postgres.codec import KEY_DAMAGE, decode_item
from storeswap.adapters.postgres.layout import CATALOG, METADATA, SQL_LOCK_ITEMS, Layout, ttl_index_name
from storeswap.core.changes import (
    LATEST,
    RETENTION_SECONDS,
    TTL_IDENTITY,
    TTL_MAX_AGE_SECONDS,
    ChangeRecord,
    EventName,
    Shard,
    ShardRead,
    StreamInfo,
    change_kind,
    is_expired,
    make_record,
    shard_of,
    ttl_expiry,
)
from storeswap.core.errors import StoreCorrupted, StreamPositionExpired, ValidationError
from storeswap.core.schema import StreamView, TableSpec
from storeswap.core.values import item_size

__all__ = [
    "STREAMS",
    "CATALOG_CHANNEL",
    "announce_spec_change",
    "SHARDS",
    "CHANGES",
    "DEFAULT_SHARDS",
    "SWEEP_BATCH",
    "TRIGGER_FUNCTION",
    "on_create",
    "lock_shards",
    "lock_all_shards",
    "on_delete",
    "set_stream",
    "set_ttl",
    "stream_info",
    "read_shard",
    "shard_end",
    "trim",
    "expire",
]

#: Shards of a new stream.
DEFAULT_SHARDS = 4
#: Expired items examined per sweep round.
SWEEP_BATCH = 1000

STREAMS = sa.Table(
    "storeswap_streams",
    METADATA,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False, index=True),
    sa.Column("view", sa.Text, nullable=False),
    sa.Column("shards", sa.Integer, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("disabled", sa.DateTime(timezone=True), nullable=True),
)

SHARDS = sa.Table(
    "storeswap_shards",
    METADATA,
    sa.Column("stream_id", sa.BigInteger, primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("trimmed", sa.BigInteger, nullable=False, server_default="0"),
)

CHANGES = sa.Table(
    "storeswap_changes",
    METADATA,
    sa.Column("stream_id", sa.BigInteger, primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("event", sa.CHAR(1), nullable=False),
    sa.Column("by_system", sa.Boolean, nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("old_item", sa.LargeBinary, nullable=True),
    sa.Column("new_item", sa.LargeBinary, nullable=True),
)

#: The row trigger function; arguments: stream id, shard count.
TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION storeswap_record_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  sid bigint := TG_ARGV[0]::bigint;
  nshards int := TG_ARGV[1]::int;
  ev char(1);
  b bigint;
  sh int;
  n bigint;
BEGIN
  IF current_setting('storeswap.changelog', true) = 'off' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    ev := 'I'; b := NEW.bucket;
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.item = OLD.item THEN
      RETURN NULL;  -- byte-identical: nothing changed (S4)
    END IF;
    ev := 'M'; b := NEW.bucket;
  ELSE
    ev := 'R'; b := OLD.bucket;
  END IF;
  sh := b % nshards;
  -- The counter row stays locked until this transaction ends: one shard commits in sequence order.
  UPDATE storeswap_shards SET last_seq = last_seq + 1 WHERE stream_id = sid AND shard = sh RETURNING last_seq INTO n;
  INSERT INTO storeswap_changes (stream_id, shard, seq, event, by_system, old_item, new_item)
  VALUES (sid, sh, n, ev, coalesce(current_setting('storeswap.actor', true), '') = 'ttl',
          CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.item END,
          CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.item END);
  RETURN NULL;
END
$fn$
"""

_EVENTS: dict[str, EventName] = {"I": "INSERT", "M": "MODIFY", "R": "REMOVE"}
#: The view types a stream row may hold; anything else is a damaged row (E3), not a stream without images.
_VIEWS: frozenset[str] = frozenset(typing.get_args(StreamView))


def _trigger_name(lay: Layout) -> sql.Identifier:
    return sql.Identifier(f"{lay.physical}_changes")


#: The NOTIFY channel on which a table's spec change is announced (payload: the table name).
CATALOG_CHANNEL = "storeswap_catalog"


def announce_spec_change(conn: psycopg.Connection[Any], name: str) -> None:
    """Tell other processes' stores (``watch_catalog``) that table ``name`` changed; delivered at commit."""
    conn.execute("SELECT pg_notify(%s, %s)", (CATALOG_CHANNEL, name))


def _save_spec(conn: psycopg.Connection[Any], spec: TableSpec) -> None:
    conn.execute(
        sql.SQL("UPDATE {} SET spec = %s WHERE name = %s").format(sql.Identifier(CATALOG.name)),
        (json.dumps(spec.to_dict(), ensure_ascii=True), spec.name),
    )
    announce_spec_change(conn, spec.name)


# ------------------------------------------------------------------ settings


def on_create(conn: psycopg.Connection[Any], lay: Layout) -> None:
    """Inside ``create_table``'s transaction: start the stream the spec asks for."""
    if lay.spec.stream is not None:
        _enable(conn, lay, lay.spec.stream)


def on_delete(conn: psycopg.Connection[Any], name: str) -> None:
    """Inside ``delete_table``'s transaction: drop the table's streams and records (D1: a new table starts empty)."""
    ids = [r[0] for r in conn.execute("SELECT id FROM storeswap_streams WHERE name = %s", (name,)).fetchall()]
    if ids:
        conn.execute("DELETE FROM storeswap_changes WHERE stream_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM storeswap_shards WHERE stream_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM storeswap_streams WHERE id = ANY(%s)", (ids,))


def _enable(conn: psycopg.Connection[Any], lay: Layout, view: StreamView, shards: int = DEFAULT_SHARDS) -> None:
    row = conn.execute(
        "INSERT INTO storeswap_streams (name, view, shards) VALUES (%s, %s, %s) RETURNING id",
        (lay.spec.name, view, shards),
    ).fetchone()
    assert row is not None
    sid = int(row[0])
    conn.execute(
        "INSERT INTO storeswap_shards (stream_id, shard) SELECT %s, s FROM generate_series(0, %s - 1) AS s",
        (sid, shards),
    )
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW"
            " EXECUTE FUNCTION storeswap_record_change({}, {})"
        ).format(_trigger_name(lay), lay.ident, sql.Literal(str(sid)), sql.Literal(str(shards)))
    )


def set_stream(conn: psycopg.Connection[Any], lay: Layout, view: StreamView | None) -> None:
    """Enable (a new stream) or disable the table's stream, and record it in the catalog (S9)."""
    with conn.transaction():
        if view is None:
            conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(_trigger_name(lay), lay.ident))
            conn.execute(
                "UPDATE storeswap_streams SET disabled = now() WHERE name = %s AND disabled IS NULL", (lay.spec.name,)
            )
        else:
            _enable(conn, lay, view)
        _save_spec(conn, attrs.evolve(lay.spec, stream=view))


def set_ttl(conn: psycopg.Connection[Any], lay: Layout, attribute: str | None) -> None:
    """Enable TTL (add the indexed ``ttl`` column and fill it) or disable it (drop the column)."""
    with conn.transaction():
        if attribute is None:
            conn.execute(sql.SQL("ALTER TABLE {} DROP COLUMN IF EXISTS ttl").format(lay.ident))
        else:
            conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN ttl numeric").format(lay.ident))
            # Filling the column is a data change of nobody's: it must not reach the stream.
            conn.execute("SET LOCAL storeswap.changelog = 'off'")
            keys = lay.key_columns()
            where = sql.SQL(" AND ").join(sql.SQL("{c} = %s").format(c=sql.Identifier(c)) for c in keys)
            update = sql.SQL("UPDATE {} SET ttl = %s WHERE {}").format(lay.ident, where)
            select = sql.SQL("SELECT {}, item FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, keys)), lay.ident)
            with conn.cursor(name="storeswap_ttl_fill") as cur:
                cur.itersize = 2000
                cur.execute(select, binary=True)
                batch: list[list[Any]] = []
                for row in cur:
                    expiry = ttl_expiry(decode_item(row[-1]), attribute)
                    if expiry is not None:
                        batch.append([expiry, *row[:-1]])
                    if len(batch) >= 2000:
                        conn.cursor().executemany(update, batch)
                        batch = []
                if batch:
                    conn.cursor().executemany(update, batch)
            cols = ["ttl", *keys]
            conn.execute(
                sql.SQL("CREATE INDEX {} ON {} ({}) WHERE ttl IS NOT NULL").format(
                    sql.Identifier(ttl_index_name(lay.physical)), lay.ident, sql.SQL(", ").join(map(sql.Identifier, cols))
                )
            )
        _save_spec(conn, attrs.evolve(lay.spec, ttl_attribute=attribute))


def lock_shards(conn: psycopg.Connection[Any], writes: Iterable[tuple[TableSpec, Mapping[str, Any]]]) -> None:
    """Before a multi-item write: take the shard counters it will need, in one sorted order.

    The trigger takes a counter per row in statement order, so two
    transactions over the same shards in opposite orders would deadlock
    (PostgreSQL breaks it after ``deadlock_timeout``, the retry repeats it).
    Taking them here first, sorted, after the items' advisory locks, leaves
    one lock order for everyone (ADR 0021).  Tables without a stream (by the
    spec this process knows) cost nothing.
    """
    names: list[str] = []
    shards: list[int] = []
    for spec, key in writes:
        if spec.stream is not None:
            names.append(spec.name)
            shards.append(shard_of(key[spec.partition_key.name], DEFAULT_SHARDS))
    if names:
        conn.execute(
            "SELECT 1 FROM storeswap_shards h JOIN storeswap_streams s ON s.id = h.stream_id"
            " JOIN unnest(%s::text[], %s::int[]) AS w(name, shard) ON w.name = s.name AND w.shard = h.shard"
            " WHERE s.disabled IS NULL ORDER BY h.stream_id, h.shard FOR UPDATE OF h",
            (names, shards),
        )


def lock_all_shards(conn: psycopg.Connection[Any], name: str) -> None:
    """Take every shard counter of a table's enabled stream, sorted (a bulk load that records changes)."""
    conn.execute(
        "SELECT 1 FROM storeswap_shards h JOIN storeswap_streams s ON s.id = h.stream_id"
        " WHERE s.name = %s AND s.disabled IS NULL ORDER BY h.stream_id, h.shard FOR UPDATE OF h",
        (name,),
    )


# ------------------------------------------------------------------- reading


def _stream_row(conn: psycopg.Connection[Any], name: str, stream_id: str | None) -> tuple[Any, ...]:
    if stream_id is None:
        row = conn.execute(
            "SELECT id, view, shards, disabled FROM storeswap_streams WHERE name = %s ORDER BY id DESC LIMIT 1",
            (name,),
        ).fetchone()
        if row is None:
            raise ValidationError(f"table {name} has no stream (enable one with set_stream)")
        return tuple(row)
    try:
        sid = int(stream_id)
    except ValueError:
        raise ValidationError("malformed stream position") from None
    row = conn.execute(
        "SELECT id, view, shards, disabled FROM storeswap_streams WHERE name = %s AND id = %s", (name, sid)
    ).fetchone()
    if row is None:
        raise StreamPositionExpired(f"stream {stream_id} of table {name} no longer exists (trimmed or deleted)")
    return tuple(row)


def _shard_id(n: int) -> str:
    return f"shard-{n:04d}"


def _shard_number(info: StreamInfo, shard: Shard) -> int:
    return [s.id for s in info.shards].index(shard.id)


def stream_info(conn: psycopg.Connection[Any], spec: TableSpec, stream_id: str | None) -> StreamInfo:
    """The table's latest stream, or stream ``stream_id``."""
    sid, view, shards, disabled = _stream_row(conn, spec.name, stream_id)
    if view not in _VIEWS or type(shards) is not int or not 0 < shards <= 1024:
        raise StoreCorrupted(
            f"table {spec.name}: its stream {sid} in storeswap_streams cannot be read (view {view!r}, {shards!r} shards)"
        )
    closed = disabled is not None
    return StreamInfo(str(sid), view, tuple(Shard(_shard_id(i), None, closed) for i in range(shards)), not closed)


def read_shard(
    conn: psycopg.Connection[Any], spec: TableSpec, info: StreamInfo, shard: Shard, after: str | None, limit: int
) -> ShardRead:
    """Records of one shard after ``after`` (None: the trim point; "latest": the end)."""
    sid, number = int(info.id), _shard_number(info, shard)
    row = conn.execute(
        "SELECT last_seq, trimmed FROM storeswap_shards WHERE stream_id = %s AND shard = %s", (sid, number)
    ).fetchone()
    if row is None:
        raise StreamPositionExpired(f"stream {info.id} no longer exists")
    last, trimmed = int(row[0]), int(row[1])
    if after is None:
        start = trimmed
    elif after == LATEST:
        start = last
    else:
        try:
            start = int(after)
        except ValueError:
            raise ValidationError("malformed stream position") from None
        if start < trimmed:
            raise StreamPositionExpired(f"records of {shard.id} after sequence {start} were trimmed")
    rows = conn.execute(
        "SELECT seq, event, by_system, created, old_item, new_item FROM storeswap_changes"
        " WHERE stream_id = %s AND shard = %s AND seq > %s ORDER BY seq LIMIT %s",
        (sid, number, start, limit),
        binary=True,
    ).fetchall()
    records: list[ChangeRecord] = []
    position = start
    for seq, event, by_system, created, old_blob, new_blob in rows:
        position = int(seq)
        old = None if old_blob is None else decode_item(old_blob)
        new = None if new_blob is None else decode_item(new_blob)
        kind = change_kind(old, new)
        if kind is None:
            continue  # equal items in different bytes (map order): nothing changed (S4)
        if kind != _EVENTS.get(event):
            raise StoreCorrupted(
                f"stream {info.id}: change record {seq} of {shard.id} cannot be read (event {event!r}, images of a {kind})"
            )
        try:
            record = make_record(
                spec,
                info.view,
                kind,
                old,
                new,
                sequence=str(seq),
                shard=shard.id,
                created=created,
                user_identity=TTL_IDENTITY if by_system else None,
                size_bytes=item_size(new if new is not None else old or {}),
            )
        except KEY_DAMAGE:
            raise StoreCorrupted(
                f"stream {info.id}: change record {seq} of {shard.id} cannot be read (an image without its key)"
            ) from None
        records.append(record)
    exhausted = not info.enabled and len(rows) < limit and position >= last
    return ShardRead(records, str(position), exhausted)


def shard_end(conn: psycopg.Connection[Any], info: StreamInfo, shard: Shard) -> str:
    """The shard's last sequence number (a durable 'latest' position)."""
    row = conn.execute(
        "SELECT last_seq FROM storeswap_shards WHERE stream_id = %s AND shard = %s",
        (int(info.id), _shard_number(info, shard)),
    ).fetchone()
    return "0" if row is None else str(row[0])


def trim(conn: psycopg.Connection[Any], name: str, retention_s: float | None) -> int:
    """The retention trimmer: drop each shard's records older than the window, as a prefix (S8)."""
    window = RETENTION_SECONDS if retention_s is None else retention_s
    dropped = 0
    with conn.transaction():
        streams = conn.execute("SELECT id FROM storeswap_streams WHERE name = %s", (name,)).fetchall()
        for (sid,) in streams:
            # Only a prefix of each shard goes, so the trim point stays one number per shard.
            cut = conn.execute(
                "SELECT shard, max(seq) FROM storeswap_changes WHERE stream_id = %s"
                " AND created <= now() - make_interval(secs => %s) GROUP BY shard",
                (sid, window),
            ).fetchall()
            for shard, upto in cut:
                n = conn.execute(
                    "DELETE FROM storeswap_changes WHERE stream_id = %s AND shard = %s AND seq <= %s",
                    (sid, shard, upto),
                ).rowcount
                dropped += n
                conn.execute(
                    "UPDATE storeswap_shards SET trimmed = greatest(trimmed, %s) WHERE stream_id = %s AND shard = %s",
                    (upto, sid, shard),
                )
        # A disabled stream older than the window is gone, except the table's latest one (still describable).
        conn.execute(
            "DELETE FROM storeswap_streams s WHERE name = %s AND disabled <= now() - make_interval(secs => %s)"
            " AND id < (SELECT max(id) FROM storeswap_streams WHERE name = %s)"
            " AND NOT EXISTS (SELECT 1 FROM storeswap_changes c WHERE c.stream_id = s.id)",
            (name, window, name),
        )
    return dropped


# ----------------------------------------------------------------------- TTL


def _sweep_sql(lay: Layout) -> tuple[str, str, str]:
    cached = lay.sql_cache.get("ttl_sweep")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    keys = lay.key_columns()
    key_list = sql.SQL(", ").join(map(sql.Identifier, keys))
    first = sql.SQL(
        "SELECT ttl, {k}, item FROM {t} WHERE ttl IS NOT NULL AND ttl >= %s AND ttl <= %s ORDER BY ttl, {k} LIMIT %s"
    ).format(k=key_list, t=lay.ident)
    after = sql.SQL(
        "SELECT ttl, {k}, item FROM {t} WHERE ttl IS NOT NULL AND ttl >= %s AND ttl <= %s AND (ttl, {k}) > ({p})"
        " ORDER BY ttl, {k} LIMIT %s"
    ).format(k=key_list, t=lay.ident, p=sql.SQL(", ").join(sql.SQL("%s") for _ in range(len(keys) + 1)))
    types = [*(lay.column_type(c) for c in keys), "bytea"]
    cols = [*keys, "item"]
    delete = sql.SQL("DELETE FROM {t} AS t USING unnest({arrays}) AS d({cols}) WHERE {on}").format(
        t=lay.ident,
        arrays=sql.SQL(", ").join(sql.SQL(f"%s::{ty}[]") for ty in types),
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        on=sql.SQL(" AND ").join(sql.SQL("t.{c} = d.{c}").format(c=sql.Identifier(c)) for c in cols),
    )
    result = (first.as_string(None), after.as_string(None), delete.as_string(None))
    lay.sql_cache["ttl_sweep"] = result
    return result


#: What an expired row the sweep cannot read raises: its bytes, or its item's key.
_UNREADABLE: tuple[type[Exception], ...] = (StoreCorrupted, *KEY_DAMAGE)


def expire(conn: psycopg.Connection[Any], lay: Layout, now: Decimal) -> int:
    """One TTL sweep: walk the TTL index over expired items only, delete each if its bytes are unchanged.

    The index bounds the work by the number of expired items, not the table
    size.  Each candidate is checked on the decoded item (S1) and deleted by
    compare-and-delete on the bytes that were checked, so an item updated
    since (a later TTL, say) is left alone.  Deletes are grouped by shard,
    one transaction per shard group, so the sweeper holds one shard counter
    at a time.
    """
    attr = lay.spec.ttl_attribute
    assert attr is not None
    first, after, delete = _sweep_sql(lay)
    low = now - TTL_MAX_AGE_SECONDS
    removed = 0
    position: list[Any] | None = None
    nkeys = 3 if lay.sk is not None else 2
    damaged: list[tuple[Any, ...]] = []
    while True:
        if position is None:
            rows = conn.execute(first, (low, now, SWEEP_BATCH), binary=True).fetchall()
        else:
            rows = conn.execute(after, (low, now, *position, SWEEP_BATCH), binary=True).fetchall()
        if not rows:
            return _swept(lay, removed, damaged)
        groups: dict[int, list[list[Any]]] = {}
        locks: dict[int, list[int]] = {}
        for row in rows:
            try:
                item = decode_item(row[-1])
                lock = lay.lock_id(item) if is_expired(item, attr, now) else None
            except _UNREADABLE:  # bytes that do not decode, an item without its key attributes
                damaged.append(row[1 : nkeys + 1])  # left in place for repair; the sweep goes on past it
                continue
            if lock is not None:
                shard = row[1] % DEFAULT_SHARDS
                group = groups.setdefault(shard, [[] for _ in range(nkeys + 1)])
                for column, value in zip(group, row[1:]):
                    column.append(value)
                locks.setdefault(shard, []).append(lock)
        for shard, group in groups.items():
            with conn.transaction():
                conn.execute("SET LOCAL storeswap.actor = 'ttl'")
                # The items' locks before their rows (then the trigger's shard counter): the order of every writer,
                # so a sweep cannot deadlock with a transaction holding the counter and waiting for one of the rows.
                conn.execute(SQL_LOCK_ITEMS, (Int8Array(sorted(locks[shard])),))
                removed += conn.execute(delete, group).rowcount
        if len(rows) < SWEEP_BATCH:
            return _swept(lay, removed, damaged)
        position = list(rows[-1][: nkeys + 1])


def _swept(lay: Layout, removed: int, damaged: list[tuple[Any, ...]]) -> int:
    """The sweep's count, or StoreCorrupted naming the rows it could not read (after removing all it could)."""
    if not damaged:
        return removed
    first = ", ".join(f"{c}={v!r}" for c, v in zip(lay.key_columns()[1:], damaged[0][1:]))  # without the bucket
    raise StoreCorrupted(
        f"table {lay.spec.name}: {len(damaged)} row(s) under the TTL cannot be read and were left in place"
        f" (first: {first}); the sweep removed {removed} other expired item(s)",
        removed=removed,
    )
