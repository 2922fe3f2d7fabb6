"""``migrate-status``: what a copy and its follower have done, read from their state in another terminal.

The state is the copy's checkpoint (:mod:`storeswap.migrate.state`): segments
with their counts, and, for ``--follow``, the follower's checkpoint with the
``status`` it refreshes about once a second
(:data:`~storeswap.migrate.follow.STATUS_INTERVAL_S`): records/s, lag in
records per shard and in seconds, caught up, and when.  A status older than
:data:`STALE_AFTER_S` is marked *stale*: the follower is not running (it was
stopped, or ended with ``--until-caught-up``) or is stuck, so its lag
describes the past, not now.  Reading never writes.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from attrs import define, field

from storeswap.core.errors import ConfigurationError
from storeswap.core.jsontext import JSON_ERRORS
from storeswap.migrate.follow import STATUS_INTERVAL_S

__all__ = ["MigrationStatus", "parse_status", "status_age_s", "lag_text", "STALE_AFTER_S"]

#: A follower status older than this (five refresh intervals) is stale.
STALE_AFTER_S = 5 * STATUS_INTERVAL_S


def lag_text(status: dict[str, Any]) -> str:
    """A follower status's lag in a few words: records and the oldest pending record's age, per shard.

    The one rendering of a lag, for ``migrate status`` and the live follower line.
    """
    lag = status.get("lag_records") or {}
    secs_by = status.get("lag_seconds_by_shard") or {}
    if status.get("lag_error"):
        return f"lag unknown (the stream's end could not be read: {status['lag_error']})"
    total = None if any(v is None for v in lag.values()) else sum(lag.values())

    def shard(k: str, v: int | None) -> str:
        age = secs_by.get(k)
        return f"{k}: {'?' if v is None else v}" + (f" ({age:.1f}s)" if age else "")

    per = ", ".join(shard(k, v) for k, v in sorted(lag.items()))
    secs = status.get("lag_seconds")
    head = "?" if total is None else str(total)
    return f"lag {head} record(s) ({per or 'no shards'}), {'?' if secs is None else f'{secs:.1f}s'}"


def status_age_s(at: object, now: dt.datetime | None = None) -> float | None:
    """Seconds since a status time (``2026-12-01T13:41:44Z``, as the follower writes it); None when unreadable."""
    if not isinstance(at, str):
        return None
    try:
        when = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return max(0.0, ((now or dt.datetime.now(dt.UTC)) - when).total_seconds())


@define
class MigrationStatus:
    """A copy's progress and its follower's status, as read from the state."""

    where: str
    source_table: str
    target_table: str
    segments_total: int
    segments_done: int
    items_copied: int
    complete: bool
    started: str | None
    updated: str | None
    #: The follower's checkpoint: None for a copy without ``--follow``.
    following: bool = False
    records_replayed: int = 0
    status: dict[str, Any] | None = None
    #: Seconds since the follower's status was written (None: no status yet).
    status_age_s: float | None = None
    stale: bool = False
    incremental: dict[str, Any] | None = field(default=None)

    def lines(self) -> list[str]:
        """Human lines for the CLI."""
        copy = "finished" if self.complete else "in progress"
        out = [
            f"migration {self.source_table} -> {self.target_table} ({self.where})",
            f"  copy: {copy}; {self.segments_done} of {self.segments_total} segments done, {self.items_copied} "
            f"items copied; started {self.started or '?'}, updated {self.updated or '?'}",
        ]
        if self.incremental is not None:
            out.append(f"  incremental exports: {json.dumps(self.incremental, sort_keys=True)}")
        if not self.following:
            out.append("  follower: none (the copy was not started with --follow)")
            return out
        if self.status is None:
            out.append(f"  follower: {self.records_replayed} records replayed; no status yet (not started)")
            return out
        s = self.status
        lag = s.get("lag_records") or {}
        state = "caught up" if s.get("caught_up") else "behind" if any(lag.values()) else "replaying"
        age = "?" if self.status_age_s is None else f"{self.status_age_s:.0f}s ago"
        stale = "; STALE: the follower is not running or is stuck, this lag is from then" if self.stale else ""
        out.append(
            f"  follower: {self.records_replayed} records replayed, {s.get('records_per_second', 0):,} records/s "
            f"(last run); {state}; {lag_text(s)}; "
            f"updated {s.get('at', '?')} ({age}){stale}"
        )
        return out

    def to_json(self) -> dict[str, Any]:
        """A machine-readable form (``migrate-status --json``)."""
        return {
            "state": self.where,
            "source_table": self.source_table,
            "target_table": self.target_table,
            "copy": {
                "complete": self.complete,
                "segments_total": self.segments_total,
                "segments_done": self.segments_done,
                "items_copied": self.items_copied,
                "started": self.started,
                "updated": self.updated,
            },
            "incremental": self.incremental,
            "follow": None
            if not self.following
            else {
                "records_replayed": self.records_replayed,
                "status": self.status,
                "status_age_s": None if self.status_age_s is None else round(self.status_age_s, 1),
                "stale": self.stale,
            },
        }


def parse_status(text: str, where: str, *, now: dt.datetime | None = None) -> MigrationStatus:
    """The status in a state's JSON text; a malformed state is one ConfigurationError line."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        data = json.loads(text)
        segments = data["segments"]
        seg_states = list(segments.values())
        status = MigrationStatus(
            where=where,
            source_table=str(data["source"]["table"]),
            target_table=str(data["target"]["table"]),
            segments_total=int(data["total_segments"]),
            segments_done=sum(1 for s in seg_states if s["done"]),
            items_copied=sum(int(s["count"]) for s in seg_states),
            complete=bool(seg_states) and all(s["done"] for s in seg_states),
            started=data.get("started"),
            updated=data.get("updated"),
            incremental=data.get("incremental"),
        )
        follow = data.get("follow")
        if follow is not None:
            status.following = True
            status.records_replayed = int(follow.get("records", 0))
            st = follow.get("status")
            if isinstance(st, dict):
                status.status = st
                status.status_age_s = status_age_s(st.get("at"), now)
                status.stale = status.status_age_s is None or status.status_age_s > STALE_AFTER_S
    except (*JSON_ERRORS, KeyError, TypeError, AttributeError, OverflowError) as e:
        raise ConfigurationError(f"{where} is not a migration state ({type(e).__name__}: {e})") from None
    return status
