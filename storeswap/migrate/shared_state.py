"""Checkpoints every worker reaches: one row per (copy, segment) in a PostgreSQL table.

A distributed copy (``--engine processes[:N]`` or ``dask://``) runs each
segment as a task on whichever worker the scheduler picks, so the checkpoint
cannot live in a file of the process that started the copy.  It lives in
``storeswap_copy_checkpoints`` of the database at ``--state-url``::

    copy_id text, segment int, cursor text, done bool, count bigint, updated timestamptz
    PRIMARY KEY (copy_id, segment)

``copy_id`` is the digest of the copy's identity
(:func:`storeswap.migrate.copy.copy_identity`: source, target, spec, segment
count, batch), so a checkpoint of one copy is never resumed by another.  A
task moves its row forward only after the page it covers was written
(``bulk_load`` returned): the same rule as the file checkpoint of
:mod:`storeswap.migrate.state`, so a task killed mid-page and retried on
another worker re-writes at most that page, which changes nothing (a put
replaces the whole item under its key).
"""

from __future__ import annotations

from typing import Any

from storeswap.core.errors import ConfigurationError, StoreUnavailable
from storeswap.migrate.state import SegmentState

__all__ = ["SharedCopyState", "TABLE", "list_copies"]

TABLE = "storeswap_copy_checkpoints"

_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    copy_id text NOT NULL, segment integer NOT NULL, cursor text, done boolean NOT NULL DEFAULT false,
    count bigint NOT NULL DEFAULT 0, updated timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (copy_id, segment))"""


class SharedCopyState:
    """The checkpoint rows of one copy in PostgreSQL (``url`` is a ``postgresql://`` URL)."""

    def __init__(self, url: str, copy_id: str) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigurationError(f"--state-url takes a postgresql:// URL, not {url.split('://')[0]!r}")
        from storeswap.adapters.postgres.store import parse_url

        self.url = url
        self.copy_id = copy_id
        self._conninfo = parse_url(url)[1]
        self._conn: Any = None

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
        return self._conn

    def init(self, total_segments: int) -> dict[int, SegmentState]:
        """Create the table and this copy's rows when absent; return every segment's state."""
        conn = self._connection()
        conn.execute(_DDL)
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {TABLE} (copy_id, segment) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                [(self.copy_id, s) for s in range(total_segments)],
            )
        return self.load_all()

    def clear(self) -> None:
        """Forget this copy's checkpoints (``--restart``)."""
        self._connection().execute(f"DELETE FROM {TABLE} WHERE copy_id = %s", (self.copy_id,))

    def load_all(self) -> dict[int, SegmentState]:
        """Every segment's state."""
        rows = self._connection().execute(
            f"SELECT segment, cursor, done, count FROM {TABLE} WHERE copy_id = %s", (self.copy_id,)
        ).fetchall()
        return {int(s): SegmentState(c, bool(d), int(n)) for s, c, d, n in rows}

    def load(self, segment: int) -> SegmentState:
        """One segment's state (a missing row is a configuration error: the copy was not initialised)."""
        row = self._connection().execute(
            f"SELECT cursor, done, count FROM {TABLE} WHERE copy_id = %s AND segment = %s", (self.copy_id, segment)
        ).fetchone()
        if row is None:
            raise ConfigurationError(f"no checkpoint row for segment {segment} of copy {self.copy_id}")
        return SegmentState(row[0], bool(row[1]), int(row[2]))

    def advance(self, segment: int, cursor: str | None, written: int) -> None:
        """Record a durably written page of ``written`` items; ``cursor=None`` ends the segment."""
        self._connection().execute(
            f"UPDATE {TABLE} SET cursor = %s, done = %s, count = count + %s, updated = now() "
            "WHERE copy_id = %s AND segment = %s",
            (cursor, cursor is None, written, self.copy_id, segment),
        )

    def totals(self) -> tuple[int, bool]:
        """Items written over all segments, and whether every segment is done."""
        row = self._connection().execute(
            f"SELECT coalesce(sum(count), 0), coalesce(bool_and(done), false) FROM {TABLE} WHERE copy_id = %s",
            (self.copy_id,),
        ).fetchone()
        return int(row[0]), bool(row[1])

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict[str, Any]:
        # Sent to workers as its URL and id; each opens its own connection.
        return {"url": self.url, "copy_id": self.copy_id}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["copy_id"])  # type: ignore[misc]


def list_copies(url: str) -> list[dict[str, Any]]:
    """Every copy with checkpoints at ``url``: id, segments done and total, items written, last update (reads only)."""
    import psycopg

    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError(f"--state-url takes a postgresql:// URL, not {url.split('://')[0]!r}")
    from storeswap.adapters.postgres.store import parse_url

    try:
        conn = psycopg.connect(parse_url(url)[1], autocommit=True)
    except psycopg.OperationalError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StoreUnavailable(f"cannot connect to the --state-url database: {first}") from None
    with conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)).fetchone()
        if not exists or not exists[0]:
            return []
        rows = conn.execute(
            f"SELECT copy_id, count(*), count(*) FILTER (WHERE done), coalesce(sum(count), 0), max(updated) "
            f"FROM {TABLE} GROUP BY copy_id ORDER BY max(updated) DESC"
        ).fetchall()
    return [
        {
            "copy_id": c,
            "segments_total": int(n),
            "segments_done": int(d),
            "items_copied": int(items),
            "complete": int(d) == int(n),
            "updated": None if at is None else at.isoformat(timespec="seconds"),
        }
        for c, n, d, items, at in rows
    ]
