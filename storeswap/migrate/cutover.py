"""``cutover_check``: may the application switch from the source to the target now?  Go / no-go, with reasons.

The check reads the follower's checkpoint (the ``follow`` entry of the copy's
state, :mod:`storeswap.migrate.follow`) and answers in three steps:

1. **Caught up.**  It reads the source's change stream from the follower's
   checkpointed position: every record there is one the target has not
   acknowledged.  The follower must show no such record for ``quiet_s``
   seconds in a row (polled every ``poll_s``, the checkpoint re-read each
   time).  A follower that is behind, or whose checkpoint stopped moving
   while the source has records after it, is *not caught up*: the lag in
   records per shard and in seconds (the age of the oldest record it has not
   applied) goes into the reasons.  ``timeout_s`` is how long it waits for a
   follower that is behind to catch up (None or 0: not at all).
2. **Verify.**  :func:`~storeswap.migrate.verify.verify_tables` compares the
   base table and every index, exactly as ``storeswap verify`` does, against
   a source that may still be written.  Let ``P0`` be the follower's
   position when the verify starts: the target has acknowledged every change
   up to ``P0``.
3. **In flight.**  After the verify, the stream is read from ``P0`` to its
   end.  The keys of those records are *in flight*: they changed after the
   position the target is known to hold, on the source, on the target (the
   follower applying them) or both, while the two scans ran.  A difference
   of such a key (an item, or an index entry of it) is reported as in flight,
   not as a difference.  Every other item last changed at or before ``P0``
   and was stable during the scans on both sides, so any difference of it is
   real: no-go.  After the verify the follower must again be caught up (the
   in-flight records replayed); otherwise writes went on and the answer is
   no-go ("stop writes, then rerun").  When it is, each in-flight item is
   re-read by key on both sides (consistent reads) and must be equal.

Fail closed (decision 0027): no state, no follow position, an unfinished
copy, a stream that cannot be read, a verify that cannot run or whose
differences cannot all be classified (more than ``max_details``) never give
"go".  The outcome is ``go``, ``no-go`` (a definite negative: behind, a real
difference) or ``unknown`` (the check could not tell); the CLI exits 0, 1 or
3.  Bad arguments raise one :class:`ConfigurationError` before any store is
read.  The check only reads: neither store is written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

from attrs import define, field

from storeswap.core.changes import MAX_CHANGES_LIMIT, decode_position
from storeswap.core.errors import ConfigurationError, StoreError, StreamPositionExpired
from storeswap.core.jsontext import JSON_ERRORS
from storeswap.core.port import ItemStore
from storeswap.core.schema import TableSpec
from storeswap.core.values import Item
from storeswap.migrate.canonical import canonical_item, canonical_key
from storeswap.migrate.copy import copy_identity, state_backend
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.follow import check_followable
from storeswap.migrate.state import CopyState, StateBackend
from storeswap.migrate.status import STALE_AFTER_S, status_age_s
from storeswap.migrate.verify import DEFAULT_BUCKETS, VerifyReport, bucket_of, verify_tables
from storeswap.numbers import parse_number

__all__ = ["cutover_check", "CutoverReport", "InFlight", "Outcome", "read_copy_state", "read_backlog", "Backlog",
           "MAX_BACKLOG_RECORDS"]

Outcome = Literal["go", "no-go", "unknown"]
#: Records read after the follower's position at most, per look (beyond it the lag is "at least" that many).
MAX_BACKLOG_RECORDS = 100_000
_SAMPLE = 20


@define
class InFlight:
    """Items whose keys have change records after the follower's position at the start of the verify."""

    #: Distinct keys with records after the position (their differences are not counted).
    count: int = 0
    #: Of those, how many differed (an item or an index entry) when the verify read them.
    differing: int = 0
    #: Up to 20 of the keys, as plain values.
    sample: list[dict[str, Any]] = field(factory=list)
    #: True when the stream was read only up to :data:`MAX_BACKLOG_RECORDS` (then the outcome is not go).
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        """JSON form; keys in DynamoDB JSON."""
        return {
            "count": self.count,
            "differing": self.differing,
            "sample": [marshal_item(k) for k in self.sample],
            "truncated": self.truncated,
        }


@define
class CutoverReport:
    """The verdict of :func:`cutover_check`: ``outcome``, the ``reasons`` behind it, and what was seen."""

    table: str
    target_table: str
    outcome: Outcome = "unknown"
    #: Why the outcome is not go (empty for go), most important first.
    reasons: list[str] = field(factory=list)
    #: Notes that do not change the outcome (in-flight items replayed since, waiting done).
    notes: list[str] = field(factory=list)
    #: Where the follower's checkpoint was read.
    state_where: str | None = None
    #: The follower's checkpointed position when the verify started (P0).
    position: str | None = None
    #: True when the follower showed no unapplied record for the whole quiet time.
    caught_up: bool = False
    quiet_s: float = 0.0
    #: Records after the follower's checkpoint, per shard, at the last look.
    lag_records: dict[str, int] = field(factory=dict)
    #: Age in seconds of the oldest record the follower had not applied (0.0 when caught up, None: unknown).
    lag_seconds: float | None = None
    #: Records replayed by the follower so far (its checkpoint), and the time of its last status update.
    records_replayed: int | None = None
    follower_updated: str | None = None
    in_flight: InFlight = field(factory=InFlight)
    verify: VerifyReport | None = None
    #: Differences outside the in-flight set (each a JSON object), at most ``max_details``.
    differences: list[dict[str, Any]] = field(factory=list)
    seconds: float = 0.0
    _severities: list[str] = field(factory=list, repr=False)

    @property
    def go(self) -> bool:
        """True only when every step ran and found nothing against the switch."""
        return self.outcome == "go"

    def _add(self, severity: Literal["no-go", "unknown"], reason: str) -> None:
        self._severities.append(severity)
        self.reasons.append(reason)

    def _decide(self) -> None:
        if "no-go" in self._severities:
            self.outcome = "no-go"
        elif self._severities:
            self.outcome = "unknown"
        else:
            self.outcome = "go"

    @property
    def lag_total(self) -> int:
        """Records after the follower's checkpoint, over all shards."""
        return sum(self.lag_records.values())

    def summary(self) -> str:
        """Lines for the CLI: the verdict, the follower, the verify, in flight, reasons."""
        verdict = {"go": "GO", "no-go": "NO-GO", "unknown": "UNKNOWN"}[self.outcome]
        lines = [f"cutover {self.table} -> {self.target_table}: {verdict}"]
        if self.records_replayed is not None:
            lag = ", ".join(f"{k}: {v}" for k, v in sorted(self.lag_records.items())) or "none"
            secs = "?" if self.lag_seconds is None else f"{self.lag_seconds:.1f}s"
            state = f"caught up for {self.quiet_s:g}s" if self.caught_up else "NOT caught up"
            lines.append(
                f"  follower ({self.state_where}): {state}; lag {self.lag_total} record(s) ({lag}), {secs}; "
                f"{self.records_replayed if self.records_replayed is not None else '?'} records replayed, "
                f"status updated {self.follower_updated or 'never'}"
            )
        if self.verify is not None:
            v = self.verify
            idx = ", ".join(f"{i.name} {'identical' if i.identical else 'DIFFERENT'}" for i in v.indexes) or "none"
            lines.append(
                f"  verify: source {v.source_items} items, target {v.target_items} items, indexes: {idx} "
                f"({v.seconds:.1f}s)"
            )
        if self.in_flight.count:
            keys = ", ".join(json.dumps(marshal_item(k), ensure_ascii=True) for k in self.in_flight.sample[:5])
            more = ", ..." if self.in_flight.count > 5 else ""
            lines.append(
                f"  in flight: {self.in_flight.count} item(s) changed after the follower's position (not counted "
                f"as differences; {self.in_flight.differing} differed when read): {keys}{more}"
            )
        for d in self.differences[:10]:
            where = f"index {d['index']} " if "index" in d else ""
            lines.append(f"  {where}{d['kind']}: {json.dumps(d['key'], ensure_ascii=True)}")
        for r in self.reasons:
            lines.append(f"  - {r}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """A machine-readable report (``storeswap cutover --json``)."""
        return {
            "outcome": self.outcome,
            "go": self.go,
            "table": self.table,
            "target_table": self.target_table,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "state": self.state_where,
            "position": self.position,
            "caught_up": self.caught_up,
            "quiet_s": self.quiet_s,
            "lag_records": dict(self.lag_records),
            "lag_seconds": self.lag_seconds,
            "records_replayed": self.records_replayed,
            "follower_updated": self.follower_updated,
            "in_flight": self.in_flight.to_json(),
            "differences": list(self.differences),
            "verify": None if self.verify is None else self.verify.to_json(),
            "seconds": round(self.seconds, 3),
        }


def read_copy_state(
    source: ItemStore, target: ItemStore, table: str, target_table: str, backend: StateBackend
) -> CopyState | None:
    """The copy's state in ``backend`` (checked against this source and target), or None when it holds none.

    The segment count and batch are taken from the state itself, so a reader
    need not repeat the copy's options; a state of another copy is refused
    (ConfigurationError), as on a resume.
    """
    text = backend.load()
    if text is None:
        return None
    try:
        data = json.loads(text)
        segments, batch = int(data["total_segments"]), int(data["batch"])
    except (*JSON_ERRORS, KeyError, TypeError, OverflowError) as e:
        raise ConfigurationError(f"{backend.where} is malformed ({type(e).__name__}: {e})") from None
    identity = copy_identity(source, target, table, target_table=target_table, segments=segments, batch=batch)
    return CopyState.load_or_new(backend, identity)


@define
class Backlog:
    """The records after a position: per-shard counts, their keys (when asked for), the oldest one's time."""

    per_shard: dict[str, int]
    keys: dict[bytes, dict[str, Any]]
    oldest: float | None
    #: True when the stream was read to its end; False when ``limit`` records were read first.
    complete: bool

    @property
    def total(self) -> int:
        """Records read after the position."""
        return sum(self.per_shard.values())

    def age_s(self, now: float | None = None) -> float | None:
        """The oldest record's age in seconds (0 for no backlog; None when no record carries a time)."""
        if self.total == 0:
            return 0.0
        return None if self.oldest is None else max(0.0, (time.time() if now is None else now) - self.oldest)


def read_backlog(
    source: ItemStore, table: str, position: str, limit: int, spec: TableSpec | None = None
) -> Backlog:
    """Read the stream from ``position`` to its end, at most ``limit`` records; raises StoreError.

    The one reading of "what the follower has not replayed yet", for the
    cut-over check and ``evaluate --live``'s lag samples.  With ``spec`` the
    records' keys are collected too (the in-flight set).
    """
    per_shard = {shard: 0 for shard in decode_position(position, table).shards}
    keys: dict[bytes, dict[str, Any]] = {}
    oldest: float | None = None
    read = 0
    pos = position
    while read < limit:
        page = source.changes(table, after=pos, limit=min(MAX_CHANGES_LIMIT, limit - read))
        for r in page.records:
            per_shard[r.shard] = per_shard.get(r.shard, 0) + 1
            if spec is not None:
                keys.setdefault(canonical_key(spec, r.keys), dict(r.keys))
            if r.created is not None:
                t = r.created.timestamp()
                oldest = t if oldest is None else min(oldest, t)
        read += len(page.records)
        pos = page.position
        if not page.records:
            return Backlog(per_shard, keys, oldest, True)
    return Backlog(per_shard, keys, oldest, False)


def _number(name: str, value: object, *, minimum: float, strict: bool = False) -> float:
    what = f"{name} is a number of seconds {'>' if strict else '>='} {minimum:g}"
    return parse_number(value, what, minimum=minimum, above_minimum=strict)


def _check_arguments(
    table: object,
    target_table: object,
    state_path: object,
    state_in_target: object,
    quiet_s: object,
    poll_s: object,
    timeout_s: object,
    buckets: object,
    segments: object,
    max_details: object,
) -> None:
    for name, value in (("table", table), ("target_table", target_table)):
        if value is not None and (not isinstance(value, str) or not value):
            raise ConfigurationError(f"{name} is a table name, not {value!r}")
    if not isinstance(table, str):
        raise ConfigurationError("table is required")
    if state_path is not None and state_in_target:
        raise ConfigurationError("give either a state file or --state-in-target, not both")
    if state_path is None and not state_in_target:
        raise ConfigurationError("cutover reads the follower's checkpoint: give a state file or --state-in-target")
    if state_path is not None and not isinstance(state_path, (str, Path)):
        raise ConfigurationError(f"state_path is a path, not {state_path!r}")
    _number("quiet_s", quiet_s, minimum=0)
    _number("poll_s", poll_s, minimum=0, strict=True)
    if timeout_s is not None:
        _number("timeout_s", timeout_s, minimum=0)
    for name, value in (("buckets", buckets), ("segments", segments), ("max_details", max_details)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be an integer >= 1, not {value!r}")


def _follow_checkpoint(state: CopyState | None, where: str, report: CutoverReport) -> dict[str, Any] | None:
    """The follower's checkpoint, or None with the reason recorded (fail closed)."""
    if state is None:
        report._add("unknown", f"no state found at {where}: nothing shows that a follower ran")
        return None
    if not state.done:
        report._add("no-go", f"{where} records an unfinished copy ({state.count} items so far): finish the copy")
        return None
    follow = state.follow
    if follow is None or not isinstance(follow.get("position"), str):
        report._add("unknown", f"{where} holds no follow position: the copy was not started with --follow")
        return None
    return follow


def cutover_check(
    source: ItemStore,
    target: ItemStore,
    table: str,
    *,
    target_table: str | None = None,
    state_path: Path | str | None = None,
    state_in_target: bool = False,
    quiet_s: float = 5.0,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
    buckets: int = DEFAULT_BUCKETS,
    segments: int = 4,
    max_details: int = 10_000,
) -> CutoverReport:
    """Go / no-go for switching the application from ``source`` to ``target`` (see the module docstring).

    ``state_path`` / ``state_in_target`` name the copy's state as ``migrate
    --follow`` wrote it.  ``quiet_s``: how long the follower must show lag 0
    before the verify; ``poll_s``: how often it is looked at; ``timeout_s``:
    how long to wait for a follower that is behind (None: do not wait, the
    answer is about the follower as it is now).  ``max_details`` bounds the
    differences held to tell in-flight ones from real ones; more than that
    makes the outcome unknown unless a real one is among them.
    """
    _check_arguments(
        table, target_table, state_path, state_in_target, quiet_s, poll_s, timeout_s, buckets, segments, max_details
    )
    started = time.monotonic()
    target_table = target_table or table
    report = CutoverReport(table, target_table, quiet_s=float(quiet_s))
    spec = check_followable(source, table)
    backend = state_backend(target, table, target_table, state_path, state_in_target)
    assert backend is not None
    report.state_where = backend.where
    try:
        _run(source, target, table, target_table, spec, backend, report, float(quiet_s), float(poll_s),
             float(timeout_s or 0.0), buckets, segments, max_details)  # fmt: skip
    finally:
        report._decide()
        report.seconds = time.monotonic() - started
    return report


def _look(
    source: ItemStore, target: ItemStore, table: str, target_table: str, spec: TableSpec, backend: StateBackend,
    report: CutoverReport,
) -> tuple[str, Backlog] | None:  # fmt: skip
    """Re-read the follower's checkpoint and the records after it; None (reason recorded) when that fails."""
    follow = _follow_checkpoint(read_copy_state(source, target, table, target_table, backend), backend.where, report)
    if follow is None:
        return None
    position = str(follow["position"])
    report.records_replayed = int(follow.get("records", 0))
    status = follow.get("status")
    report.follower_updated = status.get("at") if isinstance(status, dict) else None
    try:
        backlog = read_backlog(source, table, position, MAX_BACKLOG_RECORDS, spec)
    except StreamPositionExpired as e:
        report._add("no-go", f"the follower's position has expired ({e}): recopy with --restart")
        return None
    except StoreError as e:
        report._add("unknown", f"cannot read the source's change stream: {type(e).__name__}: {e}")
        return None
    report.lag_records = dict(backlog.per_shard)
    age = backlog.age_s()
    report.lag_seconds = None if age is None else round(age, 3)
    return position, backlog


def _run(
    source: ItemStore,
    target: ItemStore,
    table: str,
    target_table: str,
    spec: TableSpec,
    backend: StateBackend,
    report: CutoverReport,
    quiet_s: float,
    poll_s: float,
    timeout_s: float,
    buckets: int,
    segments: int,
    max_details: int,
) -> None:
    # Step 1: lag 0 for quiet_s in a row, waiting up to timeout_s for a follower that is behind.
    begin = time.monotonic()
    quiet_since: float | None = None
    first_position: str | None = None
    moved = False
    looks = 0
    while True:
        looks += 1
        t = time.monotonic()
        seen = _look(source, target, table, target_table, spec, backend, report)
        if seen is None:
            return
        position, backlog = seen
        moved = moved or (first_position is not None and position != first_position)
        first_position = first_position or position
        if backlog.total == 0:
            quiet_since = t if quiet_since is None else quiet_since
            if t - quiet_since >= quiet_s:
                report.caught_up = True
                break
        else:
            quiet_since = None
            if t - begin >= timeout_s:
                break
        time.sleep(poll_s if quiet_since is None else max(0.0, min(poll_s, quiet_since + quiet_s - time.monotonic())))
    if not report.caught_up:
        lag = ", ".join(f"{k}: {v}" for k, v in sorted(backlog.per_shard.items()) if v)
        at_least = "at least " if not backlog.complete else ""
        secs = "" if report.lag_seconds is None else f", the oldest {report.lag_seconds:.1f}s old"
        stalled = ""
        if not moved and looks > 1:
            stalled = f"; its checkpoint did not move in {time.monotonic() - begin:.1f}s (is the follower running?)"
        age = status_age_s(report.follower_updated)
        if age is not None and age > STALE_AFTER_S:
            stalled += f"; its status was last written {age:.0f}s ago (is the follower running?)"
        report._add(
            "no-go",
            f"the follower is not caught up: {at_least}{backlog.total} record(s) after its checkpoint ({lag}){secs}"
            f"{stalled}; wait for lag 0 (stop writes, let migrate --follow drain), then rerun",
        )
    elif timeout_s and time.monotonic() - begin > quiet_s + poll_s:
        report.notes.append(f"waited {time.monotonic() - begin:.1f}s for the follower to catch up")

    # Step 2: verify against a source that may still be written, from P0 on.
    seen = _look(source, target, table, target_table, spec, backend, report)
    if seen is None:
        return
    p0 = seen[0]
    report.position = p0
    try:
        vr = verify_tables(source, target, table, target_table, buckets, segments=segments, max_details=max_details)
    except StoreError as e:
        report._add("unknown", f"verify could not run: {type(e).__name__}: {e}")
        return
    report.verify = vr

    # Step 3: what changed after P0 is in flight; every other difference is real.
    try:
        after = read_backlog(source, table, p0, MAX_BACKLOG_RECORDS, spec)
    except StreamPositionExpired as e:
        report._add("no-go", f"the follower's position expired during the verify ({e}): recopy with --restart")
        return
    except StoreError as e:
        report._add("unknown", f"cannot read the change stream after the verify: {type(e).__name__}: {e}")
        return
    _classify(spec, vr, after, buckets, max_details, report)
    if report.caught_up:
        final = _look(source, target, table, target_table, spec, backend, report)
        if final is not None and final[1].total:
            report._add(
                "no-go",
                f"writes went on during the verify: {final[1].total} record(s) after the follower's checkpoint "
                "now; stop writes (or flip the flag), wait for lag 0, then rerun",
            )
        elif final is not None and report.in_flight.count:
            _recheck_in_flight(source, target, table, target_table, spec, after, report)


def _recheck_in_flight(
    source: ItemStore, target: ItemStore, table: str, target_table: str, spec: TableSpec, after: Backlog,
    report: CutoverReport,
) -> None:  # fmt: skip
    """With the follower caught up again, compare each in-flight item by key (consistent reads on both sides)."""
    try:
        differ = [
            key
            for key in after.keys.values()
            if _canonical(source.get(table, key, consistent=True))
            != _canonical(target.get(target_table, key, consistent=True))
        ]
    except StoreError as e:
        report._add("unknown", f"cannot re-read the in-flight items: {type(e).__name__}: {e}")
        return
    if differ:
        report._add(
            "no-go",
            f"{len(differ)} in-flight item(s) still differ with the follower caught up, e.g. "
            f"{json.dumps(marshal_item(differ[0]), ensure_ascii=True)}; rerun once writes have stopped",
        )
        return
    report.notes.append(
        f"{report.in_flight.count} item(s) changed during the verify; with the follower caught up they were "
        "re-read by key and are equal on both sides (their index entries were not compared again)"
    )


def _canonical(item: Item | None) -> bytes | None:
    return None if item is None else canonical_item(item)


def _classify(
    spec: TableSpec, vr: VerifyReport, after: Backlog, buckets: int, max_details: int, report: CutoverReport
) -> None:
    """Split the verify's differences into in flight (key in ``after``) and real; record reasons."""
    flying = after.keys
    report.in_flight = InFlight(count=len(flying), sample=list(flying.values())[:_SAMPLE], truncated=not after.complete)
    if not after.complete:
        report._add(
            "unknown",
            f"more than {MAX_BACKLOG_RECORDS} change records after the follower's position: the in-flight set is "
            "not complete, so differences cannot be classified",
        )
    differing_in_flight: set[bytes] = set()
    real: list[dict[str, Any]] = []
    for s in vr.spec_differences:
        report._add("no-go", f"the table specs differ: {s}")
    for d in vr.details:
        k = canonical_key(spec, d.key)
        if k in flying:
            differing_in_flight.add(k)
        else:
            real.append(d.to_json())
    explained = {bucket_of(spec, key, buckets) for key in flying.values()}
    listed = {bucket_of(spec, d.key, buckets) for d in vr.details}
    unexplained = [b.bucket for b in vr.differing_buckets if b.bucket not in listed and b.bucket not in explained]
    if unexplained and not vr.details_truncated:
        report._add(
            "unknown",
            f"{len(unexplained)} bucket(s) differed in the first pass but no differing item was found in the "
            f"second, and no in-flight key falls in them (bucket {unexplained[0]})",
        )
    if vr.details_truncated and not real:
        report._add(
            "unknown",
            f"more than {max_details} differences: cannot tell in-flight ones from real ones (raise --max-details)",
        )
    for ix in vr.indexes:
        if ix.error is not None:
            report._add("unknown", f"index {ix.name} could not be compared: {ix.error}")
        ix_real = 0
        for e in ix.details:
            k = canonical_key(spec, e.key)
            if k in flying:
                differing_in_flight.add(k)
            else:
                ix_real += 1
                real.append({"index": ix.name, **e.to_json()})
        if ix.details_truncated and not ix_real:
            report._add(
                "unknown",
                f"index {ix.name}: more differences than can be classified (a partition larger than the diff "
                "budget, or more than --max-details)",
            )
        elif ix.differing_partitions and not ix.details:
            report._add("unknown", f"index {ix.name}: {ix.differing_partitions} partition(s) differ, none listed")
    report.in_flight.differing = len(differing_in_flight)
    report.differences = real[:max_details]
    if real:
        first = real[0]
        where = f"index {first['index']}: " if "index" in first else ""
        report._add(
            "no-go",
            f"{len(real)} difference(s) outside the in-flight set (not explained by changes after the follower's "
            f"position), e.g. {where}{first['kind']} {json.dumps(first['key'], ensure_ascii=True)}",
        )
