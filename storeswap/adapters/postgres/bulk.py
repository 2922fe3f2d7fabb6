"""The PostgreSQL bulk path behind ``ItemStore.bulk_put``: COPY into the table, else staging + one upsert.

:class:`PostgresStore` calls :func:`bulk_put` from its ``_bulk_put`` with its
datastore (:mod:`.datastore`, which maps every driver error) and the table's
layout; this module knows nothing of the store itself.

Semantics are those of ``bulk_put`` in the port: unconditional puts, the last
write of a key wins (duplicates inside one call are collapsed first, since
``ON CONFLICT DO UPDATE`` cannot touch a row twice in one statement).  Each
chunk of the locked way (below) is at most :data:`CHUNK` items in one
transaction that takes the items' advisory locks in sorted order — the same
locks single writes and transactions take (ADR 0009-postgres-concurrency).

Rows go first straight into the table with ``COPY ... FROM STDIN (FORMAT
BINARY)``.  Where the load records no change (no stream, or ``bulk_load``)
that first COPY takes no item lock at all, only one of the table's load
slots (:attr:`Layout.load_slots`) exclusively, in a transaction of its own
of at most :data:`COPY_ROWS` rows (a longer call is written in parts of
that many, in order): a blind insert cannot be beaten by a writer that read the item
absent (single-item writes and transactions insert absent items with ``ON
CONFLICT DO NOTHING`` and start over on zero rows), and every transaction
holds all of the table's slots shared, so none runs beside the COPY (ADR
0009, decision 0037).  Into a fresh table (a migration) that is all.  When a
key already exists (a resumed copy, a reload), or the COPY lost a deadlock
to a concurrent writer of its keys, that transaction is rolled back and the
items go the locked way: chunks of :data:`CHUNK`, each under its items'
advisory locks (sorted), through a temporary table created ``ON COMMIT DROP`` (so it always has the current
columns) and ``INSERT ... SELECT ... ON CONFLICT DO UPDATE``.  A load that
records changes (``bulk_put`` on a table with a stream) always goes the
locked way, with the stream's shard counters, and there each chunk first
tries a COPY straight into the table.  BEGIN, the locks and the
settings share one round trip (the cost of a page on a busy machine is its
round trips, decision 0030).  Where the layout allows (:func:`copy_rows`),
the rows are framed for binary COPY in C in the same pass that computes
their lock ids, and sent as one buffer.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Sequence
from typing import Any, Union

import psycopg
from psycopg import sql

from storeswap import settings
from storeswap.adapters.postgres import changelog
from storeswap.adapters.postgres.codec import encode_item
from storeswap.adapters.postgres.datastore import PostgresDatastore, rollback_open
from storeswap.adapters.postgres.layout import LOAD_SLOTS, Layout
from storeswap.core.schema import TableSpec
from storeswap.core.values import Item

__all__ = [
    "bulk_put",
    "CHUNK",
    "COPY_ROWS",
    "copy_rows",
    "copy_rows_python",
    "copy_payload",
    "copy_payload_python",
    "lock_list",
    "COMPILED_ROWS",
]

_compiled_rows: Callable[..., tuple[list[bytes], list[int], bool] | None] | None
_compiled_payload: Callable[..., tuple[bytes, str] | None] | None
try:
    from storeswap.adapters.postgres.ccodec import copy_payload as _compiled_payload
    from storeswap.adapters.postgres.ccodec import copy_rows as _compiled_rows
except ImportError:  # no compiler at install time, or STORESWAP_PURE=1: rows go through psycopg's write_row
    _compiled_rows = _compiled_payload = None
if settings.is_set(settings.PURE):
    _compiled_rows = _compiled_payload = None

#: True when the compiled row framer (ccodec.copy_rows) is in use.
COMPILED_ROWS = _compiled_rows is not None

#: Binary COPY framing (PostgreSQL "COPY ... (FORMAT BINARY)"): the file header and the end-of-data marker.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
COPY_TRAILER = b"\xff\xff"

#: Items per transaction of the locked way: bounds the advisory locks one transaction holds (they share the
#: lock table).
CHUNK = 2000

#: Rows per unlocked COPY: a longer bulk is written in parts of this many (memory: the part's rows framed once
#: or twice; a part that meets an existing key is rolled back and rewritten the locked way).
COPY_ROWS = 5000

def _column_types(lay: Layout) -> list[str]:
    return [lay.column_type(c) for c in lay.write_columns]


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
    key_cols = lay.key_columns()
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


def _framable(lay: Layout) -> bool:
    """True when ``lay``'s rows are just (bucket, pk[, sk], item) with S or B keys: what copy_rows frames."""
    cached = lay.sql_cache.get("framable")
    if cached is None:
        keys = [lay.pk] + ([lay.sk] if lay.sk is not None else [])
        cached = lay.sql_cache["framable"] = lay.write_columns == ["bucket", *(k.column for k in keys), "item"] and all(
            k.type in ("S", "B") for k in keys
        )
    return bool(cached)


def copy_rows_python(lay: Layout, items: Sequence[Item]) -> tuple[list[bytes], list[int], bool]:
    """The reference of :func:`copy_rows`: each item's binary COPY row, its lock id, and whether they are in key order."""
    frames: list[bytes] = []
    locks: list[int] = []
    previous: list[Any] | None = None
    ordered = True
    for item in items:
        key = lay.key_params(item)
        blob = encode_item(item)
        parts = [struct.pack(">hiQ", len(key) + 1, 8, key[0])]
        parts.extend(struct.pack(">i", len(v)) + v for v in (*key[1:], blob))
        frames.append(b"".join(parts))
        locks.append(lay.lock_id(item))
        if previous is not None and ordered:
            ordered = previous < key
        previous = key
    return frames, locks, ordered


def copy_rows(lay: Layout, items: list[Item]) -> tuple[list[bytes], list[int], bool] | None:
    """Binary COPY rows of normalised ``items`` in one pass: ``(frames, lock ids, in key order)``.

    The compiled framer (ccodec.c) gives the same bytes as :func:`copy_rows_python`; None when it is not built,
    the layout has other columns than (bucket, pk[, sk], item) or N keys, or an item needs the Python encoder.
    """
    if _compiled_rows is None or not _framable(lay):
        return None
    prefix = lay.physical.encode()
    sk = None if lay.sk is None else lay.sk.attr
    kinds = lay.pk.type + ("" if lay.sk is None else lay.sk.type)
    return _compiled_rows(items, lay.pk.attr, sk, kinds, prefix)


def lock_list(ids: Sequence[int]) -> str:
    """The text of a ``bigint[]`` literal's elements, in the order given: ``1,-2,3``."""
    return ",".join(map(str, ids))


def copy_payload_python(lay: Layout, items: Sequence[Item]) -> tuple[bytes, str] | None:
    """The reference of :func:`copy_payload`, from :func:`copy_rows_python`."""
    frames, locks, ordered = copy_rows_python(lay, items)
    if not ordered or len(set(locks)) != len(locks):
        return None
    return b"".join([COPY_SIGNATURE, *frames, COPY_TRAILER]), lock_list(sorted(locks))


def copy_payload(lay: Layout, items: list[Item]) -> tuple[bytes, str] | None:
    """One chunk in one pass: its whole binary COPY stream and its sorted lock ids as :func:`lock_list` text.

    For normalised ``items`` in key order with no key twice (a scan page: what a migration writes) the
    compiled framer builds the stream in one buffer, without a ``bytes`` object per row; None otherwise, or
    when :func:`copy_rows` would give None, and ``bulk_put`` frames rows one by one.  The same bytes as
    :func:`copy_payload_python`.
    """
    if _compiled_payload is None or not _framable(lay):
        return None
    sk = None if lay.sk is None else lay.sk.attr
    kinds = lay.pk.type + ("" if lay.sk is None else lay.sk.type)
    return _compiled_payload(items, lay.pk.attr, sk, kinds, lay.physical.encode())


def bulk_put(db: PostgresDatastore, lay: Layout, items: list[Item], *, record_changes: bool = True) -> None:
    """Write validated items (a ``BulkPutRequest``'s) with COPY (see the module docstring).

    On a table with a change stream the rows get change records unless ``record_changes`` is False
    (``ItemStore.bulk_load``: a migration's load is not an application change; changelog.py).  A write that
    records changes goes the locked way; every other first tries one unlocked COPY of all its rows.
    """
    if not items:
        return
    unlocked = not (record_changes and lay.spec.stream is not None)
    if unlocked and len(items) > COPY_ROWS:
        # In order, so the last write of a key still wins; each part is its own unlocked COPY (or locked way).
        for start in range(0, len(items), COPY_ROWS):
            bulk_put(db, lay, items[start : start + COPY_ROWS], record_changes=record_changes)
        return
    statements = _statements(lay)
    whole = copy_payload(lay, items) if unlocked or len(items) <= CHUNK else None
    if whole is not None:  # in key order, no key twice: one buffer
        payload = _Payload(whole[0])
        if unlocked and _copy_unlocked(db, lay, payload, record_changes):
            return
        if len(items) <= CHUNK:
            _write_chunk(db, lay.spec, whole[1], payload, *statements, record_changes, not unlocked)
            return
    rows, chunks = _sorted_rows(lay, items)
    if unlocked and whole is None and _copy_unlocked(db, lay, rows, record_changes):
        return
    for locks, part in chunks:
        # An unlocked COPY that failed found a key or lost a deadlock: the locked way goes straight to the upsert.
        _write_chunk(db, lay.spec, locks, part, *statements, record_changes, not unlocked)


def _sorted_rows(lay: Layout, items: list[Item]) -> tuple[_Rowset, list[tuple[str, _Rowset]]]:
    """All of ``items`` as rows in table-key order (the last write of a key kept), and the same rows in chunks of
    :data:`CHUNK` with each chunk's sorted lock ids (:func:`lock_list`).

    Rows go in in table-key order: sequential index inserts (a large part of COPY's server cost), and two loads
    of overlapping keys take their rows in one order.  Locks are taken in lock-id order by ``_write_chunk``,
    which is what rules out deadlocks between chunks.
    """
    framed = copy_rows(lay, items)
    if framed is not None and len(set(framed[1])) == len(framed[1]):  # no key twice: nothing to collapse
        frames, locks, ordered = framed
        order: Sequence[int] = range(len(frames))
        if not ordered:
            keys = [lay.key_params(item) for item in items]
            order = sorted(order, key=keys.__getitem__)

        def payload(part: Sequence[int]) -> _Payload:
            return _Payload(b"".join([COPY_SIGNATURE, *(frames[i] for i in part), COPY_TRAILER]))

        parts = [order[start : start + CHUNK] for start in range(0, len(order), CHUNK)]
        # Built when sent: at most one chunk's buffer (or the whole's) exists beside the frames.
        return _LazyPayload(lambda: payload(order)), [
            (lock_list(sorted(locks[i] for i in part)), _LazyPayload(functools.partial(payload, part))) for part in parts
        ]
    # Last write of a key wins; the rows are built once, before any transaction starts.
    latest: dict[int, tuple[list[Any], int]] = {}
    for item in items:
        lock = lay.lock_id(item)
        latest.pop(lock, None)
        latest[lock] = (lay.row_params(item, encode_item(item)), lock)
    key_len = 2 if lay.sk is None else 3
    rows = sorted(latest.values(), key=lambda p: p[0][:key_len])
    types = _column_types(lay)
    chunks: list[tuple[str, _Rowset]] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        chunks.append((lock_list(sorted(lock for _, lock in chunk)), _Rows([p for p, _ in chunk], types)))
    return _Rows([p for p, _ in rows], types), chunks


def _copy_unlocked(db: PostgresDatastore, lay: Layout, rows: _Rowset, record_changes: bool) -> bool:
    """COPY ``rows`` straight into the table under one load slot and no item lock; False when it must go the
    locked way (a key exists, or the COPY was chosen as a deadlock's victim), with nothing written.

    The slot is the backend's own (its pid modulo :data:`LOAD_SLOTS`): loads on other connections COPY at the
    same time, and a transaction of the table (which holds every slot shared) waits for this one, or it for them.
    """
    begin = lay.sql_cache.get("bulk_slot_begin")
    if begin is None:  # BEGIN and the backend's own slot, as one statement text per layout
        slots = ",".join(map(str, lay.load_slots))
        begin = lay.sql_cache["bulk_slot_begin"] = (
            f"BEGIN; SELECT pg_advisory_xact_lock(('{{{slots}}}'::bigint[])[pg_backend_pid() % {LOAD_SLOTS} + 1])"
        )
    if not record_changes:
        begin += "; SET LOCAL storeswap.changelog = 'off'"
    direct = _statements(lay)[3]
    for attempt in db.transaction(
        lay.spec.name, begin=False, gave_up="bulk_put kept conflicting with concurrent transactions"
    ):
        with attempt as conn:
            try:
                conn.execute(begin)  # writes nothing: a connection lost here is retried
                attempt.sent = True
                return _copy_and_commit(conn, direct, rows, _UNLOCKED_CONFLICTS)
            except BaseException:
                rollback_open(conn)
                raise
    raise AssertionError("unreachable")  # pragma: no cover - transaction() raises when attempts run out


#: What ends an unlocked COPY with nothing written, for the locked way to redo: a key that exists, or a deadlock
#: with a writer of its keys (decision 0037).
_UNLOCKED_CONFLICTS = (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected)


def _copy_and_commit(conn: Any, direct: str, rows: _Rowset, conflicts: tuple[type[BaseException], ...]) -> bool:
    """COPY ``rows`` straight into the table in the open transaction and COMMIT; on one of ``conflicts`` roll
    the transaction back and return False."""
    try:
        with conn.cursor() as cur, cur.copy(direct) as cp:
            rows.send(cp)
    except conflicts:
        conn.execute("ROLLBACK")
        return False
    conn.execute("COMMIT")
    return True


class _Payload:
    """Rows already framed for binary COPY (copy_rows): one write."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def send(self, cp: psycopg.Copy) -> None:
        # A view: psycopg hands a buffer over 128 KB to libpq in slices, and a slice of bytes is a copy.
        cp.write(memoryview(self.data))


class _LazyPayload:
    """A :class:`_Payload` built when it is sent (the whole of a load that is also held in chunks)."""

    def __init__(self, build: Callable[[], _Payload]) -> None:
        self.build = build

    def send(self, cp: psycopg.Copy) -> None:
        self.build().send(cp)


class _Rows:
    """Rows as parameter lists: psycopg frames them (write_row)."""

    def __init__(self, rows: list[list[Any]], types: list[str]) -> None:
        self.rows = rows
        self.types = types

    def send(self, cp: psycopg.Copy) -> None:
        cp.set_types(self.types)
        for params in self.rows:
            cp.write_row(params)


#: What a COPY sends: a framed buffer (built now or when sent) or parameter rows.
_Rowset = Union["_Payload", "_LazyPayload", "_Rows"]


def _write_chunk(
    db: PostgresDatastore,
    spec: TableSpec,
    locks: str,
    rows: _Rowset,
    create: str,
    copy: str,
    upsert: str,
    direct: str,
    record_changes: bool,
    direct_first: bool = True,
) -> None:
    """One chunk in one transaction: its items' locks (``locks``: sorted ids, :func:`lock_list`), then COPY into
    the table, else staging + upsert.

    The transaction is opened by hand on the pooled autocommit connection, so BEGIN, the locks (ids as one
    array literal of integers) and the settings go in one round trip, and no savepoint is needed: when a key
    exists, the whole transaction is rolled back and the chunk goes through the upsert in a new one.
    """
    table = spec.name
    begin = [
        "BEGIN",
        "SELECT pg_advisory_xact_lock(l) FROM unnest('{" + locks + "}'::bigint[]) AS l",
    ]
    if not record_changes:
        begin.append("SET LOCAL storeswap.changelog = 'off'")
    shards = record_changes and spec.stream is not None
    for attempt in db.transaction(
        table, begin=False, gave_up="bulk_put kept conflicting with concurrent transactions"
    ):
        with attempt as conn:
            attempt.sent = True
            try:
                if direct_first:
                    # Optimistic: into a fresh table (a migration) no key exists yet, and COPY straight
                    # into the table is half the server work of staging + upsert.
                    conn.execute("; ".join(begin))
                    if shards:
                        changelog.lock_all_shards(conn, spec.name)
                    if _copy_and_commit(conn, direct, rows, (psycopg.errors.UniqueViolation,)):
                        return
                    direct_first = False  # some keys exist (a resumed copy, a reload)
                conn.execute("; ".join([*begin, create]))
                if shards:
                    changelog.lock_all_shards(conn, spec.name)
                with conn.cursor() as cur, cur.copy(copy) as cp:
                    rows.send(cp)
                conn.execute(upsert)
                conn.execute("COMMIT")
                return
            except BaseException:
                rollback_open(conn)
                raise
