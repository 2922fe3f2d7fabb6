"""``evaluate --live``: migrate a table while a background writer keeps writing to it, then check the cut-over.

For each evaluated table, after the rest of ``evaluate`` (so the writes never
reach what the other parts read):

1. the *live source table* gets a change stream: the evaluated table itself
   when :attr:`LiveOptions.on` is ``"table"`` (the CLI only does that for its
   own built-in sample tables), otherwise a scratch copy of it on the source
   store, created with a stream (``"scratch"``, the CLI's ``--live-scratch``);
2. :func:`~storeswap.migrate.follow.start_follow` records the stream's
   position, a :class:`LiveWriter` starts (puts, conditional updates, deletes
   and transactions at a steady ``rate``), and
   :func:`~storeswap.migrate.copy.copy_table` copies into a scratch table on
   the target — the ``migrate --follow`` sequence;
3. the follower (:func:`~storeswap.migrate.follow.follow_changes`) runs while
   the writer goes on for ``seconds``; every ``sample_interval`` its
   checkpointed position is compared with the source stream's end: lag in
   records (not yet acknowledged by the target) and in seconds (the age of
   the oldest of them);
4. the writer stops, the follower catches up (``until_caught_up``, bounded by
   ``catch_up_timeout``) and the cut-over check
   (:func:`~storeswap.migrate.cutover.cutover_check`: lag 0 for ``quiet_s``,
   verify of base table and indexes, in-flight items) says go / no-go /
   unknown; its verify is the live verify;
5. the scratch tables are deleted.

The outcome is a :class:`~storeswap.evaluate.document.LiveEvaluation`; the
verdict reads it (:func:`storeswap.evaluate.verdict.decide`).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs
from attrs import define, field

from storeswap.core.errors import (
    ConditionFailed,
    ConfigurationError,
    ItemTooLarge,
    NotSupported,
    StoreError,
    TableNotFound,
    TransactionCanceled,
    TransactionConflict,
)
from storeswap.core.port import ItemStore
from storeswap.core.requests import TxDelete, TxPut
from storeswap.core.schema import TableSpec
from storeswap.core.values import Item, Key
from storeswap.evaluate.document import LiveEvaluation, LiveSample, LiveWriterStats, Step, TableEvaluation
from storeswap.numbers import parse_number

__all__ = [
    "MAX_LIVE_RATE",
    "MIN_LAG_SAMPLES",
    "LiveOptions",
    "LiveWriter",
    "parse_live_rate",
    "LiveWritesRefused",
    "live_options_for",
    "live_table_names",
    "run_live",
]

#: The highest ``--live-rate`` accepted: one writer thread; beyond this the rate would not be steady anyway.
MAX_LIVE_RATE = 10_000.0
#: Lag readings the follow window takes at least (it goes on past --live-seconds for them)...
MIN_LAG_SAMPLES = 2
#: ...for at most this many seconds more, where readings keep failing.
MIN_LAG_SAMPLES_GRACE_S = 60.0
#: The stream view given to a live source table that has none.
LIVE_STREAM_VIEW = "NEW_AND_OLD_IMAGES"
#: Attribute the writer counts in (conditional updates) — its own name, so it never clobbers the table's data.
COUNTER = "storeswap_live_n"
#: Keys the writer creates and deletes of its own, beside the table's existing items.
OWN_KEYS = 200
#: A lag sample reads at most this many records after the follower's position (beyond it: "at least").
LAG_CAP = 20_000


def parse_live_rate(value: object) -> float:
    """``--live-rate`` as a float; a ConfigurationError (one line) for anything else.

    Accepts an int, a float or their text; refuses bools, non-numbers, NaN,
    infinities, zero, negatives and rates above :data:`MAX_LIVE_RATE`.
    """
    return parse_number(
        value, f"--live-rate is writes per second, a number above 0 and at most {MAX_LIVE_RATE:,.0f}",
        maximum=MAX_LIVE_RATE, text=True,
    )  # fmt: skip


def _positive(name: str) -> Callable[[Any, Any, Any], None]:
    def check(_inst: Any, _attr: Any, value: Any) -> None:
        parse_number(value, f"{name} must be a positive number of seconds")

    return check


def _threads(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"the live writer needs at least one thread, not {value!r}")


@define(frozen=True)
class LiveOptions:
    """How ``--live`` runs.  Constructing it validates it (ConfigurationError), before any store is touched."""

    #: Writes per second (:func:`parse_live_rate`).
    rate: float = field(default=100.0, converter=parse_live_rate)
    #: ``"scratch"``: write a scratch copy of the table on the source store; ``"table"``: the table itself.
    on: Literal["table", "scratch"] = field(default="scratch", validator=attrs.validators.in_(("table", "scratch")))
    #: Seconds the writer goes on once the copy finished (it writes during the copy too).
    seconds: float = field(default=30.0, validator=_positive("--live-seconds"))
    #: Seconds the follower may take to catch up after the writer stopped (else: not caught up).
    catch_up_timeout: float = field(default=120.0, validator=_positive("the catch-up timeout"))
    #: Seconds between lag samples.
    sample_interval: float = field(default=0.5, validator=_positive("the sample interval"))
    #: Quiet time the cut-over check asks for (lag 0 for this long).
    quiet_s: float = field(default=1.0, validator=_positive("the cut-over quiet time"))
    #: Writer threads sharing the rate (a store with a slow round trip needs several to reach it).
    writer_threads: int = field(default=4, validator=lambda _i, _a, v: _threads(v))
    seed: int = 1


class LiveWritesRefused(ConfigurationError):
    """``--live`` on the user's own source without ``--live-scratch``: the writer would write to their table.

    storeswap never writes to a user's table; ``--live-scratch`` makes the
    live part write to a scratch copy of it on the same store instead.
    """


def live_options_for(
    *, own_source: bool, scratch: bool, rate: object = None, seconds: float | None = None
) -> LiveOptions:
    """The CLI's rule for ``--live``: the built-in samples are written as they are; the user's source never is.

    ``own_source`` (``--source`` / ``--source-factory`` given) without
    ``scratch`` raises :class:`LiveWritesRefused`; with ``scratch`` the writer
    writes a scratch copy on the source store.  Validates ``rate`` and
    ``seconds`` (ConfigurationError) before any store is opened.
    """
    kwargs: dict[str, Any] = {}
    if rate is not None:
        kwargs["rate"] = rate
    if seconds is not None:
        kwargs["seconds"] = seconds
    options = LiveOptions(on="scratch" if scratch or own_source else "table", **kwargs)
    if own_source and not scratch:
        raise LiveWritesRefused(
            "--live writes to the source table while it migrates, and this is your own table: add --live-scratch "
            "to write to a scratch copy of it on the same store instead (created and deleted by evaluate)"
        )
    return options


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def live_table_names(table: str, on: str) -> tuple[str, str]:
    """(live source table, live target table) for evaluated table ``table``: scratch names of storeswap's own."""
    source = table if on == "table" else f"storeswap_eval_live_src_{_digest(table)}"
    return source, f"storeswap_eval_live_dst_{_digest(table)}"


def _key_value(kind: str, i: int) -> Any:
    if kind == "S":
        return f"storeswap-live#{i:04d}"
    if kind == "N":
        return Decimal(-7_000_000_000 - i)
    return b"storeswap-live#" + i.to_bytes(2, "big")


class LiveWriter:
    """Puts, conditional updates, deletes and transactions on one table at a steady rate, in threads, until stopped.

    Writes go to items the table already had (``existing`` keys: updates and
    deletes) and to :data:`OWN_KEYS` keys of its own (puts, deletes,
    transactions).  ``threads`` writers share one schedule of ``rate`` writes
    per second (several, so a store with a slow round trip still gets the
    rate); when they fall behind they do not burst to catch up.  A write the
    store refuses as it should (a failed condition, a cancelled or
    conflicting transaction, an item that would grow too large) counts as
    ``refused``; any other failure as an error, and the writer goes on.
    """

    def __init__(
        self, store: ItemStore, spec: TableSpec, rate: float, existing: list[Key], seed: int = 1, threads: int = 4
    ) -> None:
        _threads(threads)
        self.store, self.spec, self.rate = store, spec, parse_live_rate(rate)
        self.table = spec.name
        self.existing = existing
        self.seed = seed
        self.stop_event = threading.Event()
        self.counts = {"puts": 0, "updates": 0, "deletes": 0, "transactions": 0, "refused": 0, "errors": 0}
        self.first_error: str | None = None
        self.started = 0.0
        self.stopped = 0.0
        self._lock = threading.Lock()
        self._due = 0.0
        self.threads = [
            threading.Thread(target=self._run, args=(i,), name=f"storeswap-live-writer-{i}", daemon=True)
            for i in range(threads)
        ]

    def _own(self, i: int) -> Key:
        key = {self.spec.partition_key.name: _key_value(self.spec.partition_key.type, i % 16)}
        if self.spec.sort_key is not None:
            key[self.spec.sort_key.name] = _key_value(self.spec.sort_key.type, i)
        return key

    def _any_key(self, rng: random.Random) -> Key:
        if self.existing and rng.random() < 0.5:
            return rng.choice(self.existing)
        return self._own(rng.randrange(OWN_KEYS))

    def _one(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.35:
            item: Item = {**self._own(rng.randrange(OWN_KEYS)), COUNTER: Decimal(rng.randrange(1000)),
                          "storeswap_live_note": "put"}  # fmt: skip
            self.store.put(self.table, item)
            return "puts"
        if r < 0.7:
            self.store.update(
                self.table, self._any_key(rng), "SET #c = if_not_exists(#c, :zero) + :one",
                condition="attribute_exists(#k)", names={"#c": COUNTER, "#k": self.spec.partition_key.name},
                values={":zero": Decimal(0), ":one": Decimal(1)},
            )  # fmt: skip
            return "updates"
        if r < 0.9:
            self.store.delete(self.table, self._any_key(rng))
            return "deletes"
        i = rng.randrange(OWN_KEYS)
        j = (i + 1 + rng.randrange(OWN_KEYS - 1)) % OWN_KEYS  # another key than i
        self.store.transact_write([
            TxPut(self.table, {**self._own(i), COUNTER: Decimal(7), "storeswap_live_note": "tx"}),
            TxDelete(self.table, self._own(j)),
        ])  # fmt: skip
        return "transactions"

    def _next_due(self) -> float:
        """The time of the next write on the shared schedule (a writer more than a second behind restarts it)."""
        with self._lock:
            now = time.monotonic()
            if now - self._due > 1.0:
                self._due = now
            due = self._due
            self._due += 1.0 / self.rate
            return due

    def _count(self, kind: str, error: BaseException | None = None) -> None:
        with self._lock:
            self.counts[kind] += 1
            if error is not None and self.first_error is None:
                self.first_error = f"{type(error).__name__}: {error}"[:300]

    def _run(self, n: int) -> None:
        rng = random.Random(self.seed * 1009 + n)
        while not self.stop_event.is_set():
            wait = self._next_due() - time.monotonic()
            if wait > 0 and self.stop_event.wait(wait):
                return
            try:
                self._count(self._one(rng))
            except (ConditionFailed, TransactionCanceled, TransactionConflict, ItemTooLarge):
                self._count("refused")
            except Exception as e:  # reported, not raised: the follower and the check still run
                self._count("errors", e)

    def start(self) -> LiveWriter:
        """Start writing."""
        self.started = time.monotonic()
        self._due = self.started
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> LiveWriterStats:
        """Stop, wait for the threads, and return what they did."""
        self.stop_event.set()
        for t in self.threads:
            t.join()
        self.stopped = time.monotonic()
        with self._lock:
            counts = dict(self.counts)
        return LiveWriterStats(self.rate, round(self.stopped - self.started, 3), **counts,
                               first_error=self.first_error)  # fmt: skip


def _existing_keys(store: ItemStore, spec: TableSpec, limit: int = 200) -> list[Key]:
    page = store.scan(spec.name, limit=limit, consistent=True)
    return [{n: item[n] for n in spec.key_names} for item in page.items]


def _drop(store: ItemStore, table: str) -> None:
    with contextlib.suppress(TableNotFound):
        store.delete_table(table)


def _prepare_source(store: ItemStore, entry: TableEvaluation, live: LiveEvaluation) -> TableSpec:
    """The live source table, with a change stream: the table itself (``table``) or a fresh scratch copy."""
    from storeswap.migrate.copy import copy_table

    if live.on == "table":
        spec = store.describe_table(entry.name)
        return spec if spec.stream is not None else store.set_stream(entry.name, LIVE_STREAM_VIEW)
    _drop(store, live.source_table)
    view = entry.spec.stream or LIVE_STREAM_VIEW
    store.create_table(attrs.evolve(entry.spec, name=live.source_table, stream=view))
    live.scratch_tables.append(f"source: {live.source_table}")
    # Copied before the follower's position is taken: these writes are part of the copy, not of the replay.
    copy_table(store, store, entry.name, target_table=live.source_table)
    return store.describe_table(live.source_table)


def _sample(source: ItemStore, target: ItemStore, live: LiveEvaluation, state: Path, at_s: float) -> LiveSample | None:
    """One lag sample: the follower's checkpoint (read as ``storeswap cutover`` reads it) against the stream's end."""
    from storeswap.migrate.cutover import read_backlog, read_copy_state
    from storeswap.migrate.state import FileState

    copy_state = read_copy_state(source, target, live.source_table, live.target_table, FileState(state))
    follow = None if copy_state is None else copy_state.follow
    if follow is None or not isinstance(follow.get("position"), str):
        return None
    backlog = read_backlog(source, live.source_table, follow["position"], LAG_CAP)
    records, age, complete = backlog.total, backlog.age_s(), backlog.complete
    return LiveSample(round(at_s, 3), records, None if age is None else round(age, 3), int(follow.get("records", 0)),
                      complete)  # fmt: skip


class _Follower:
    """``follow_changes`` in a thread, stopped by an event; keeps its report or its exception."""

    def __init__(self, run: Callable[[threading.Event], Any]) -> None:
        self.stop = threading.Event()
        self.report: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._go, args=(run,), name="storeswap-live-follow", daemon=True)
        self.thread.start()

    def _go(self, run: Callable[[threading.Event], Any]) -> None:
        try:
            self.report = run(self.stop)
        except BaseException as e:  # re-raised in the caller's thread by join()
            self.error = e

    def join(self, timeout: float | None = None) -> Any:
        if timeout is not None:
            self.thread.join(timeout)
            self.stop.set()
        else:
            self.stop.set()
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.report


def _cutover(source: ItemStore, target: ItemStore, live: LiveEvaluation, options: LiveOptions, state: Path) -> None:
    """``cutover_check`` on the live tables, its verify kept as the live verify; a crash is recorded, not raised.

    The writer and the follower have stopped by now, so the check does not
    wait for a running follower (no timeout): lag 0 for ``quiet_s``, verify,
    in-flight classification, go / no-go / unknown.
    """
    from storeswap.migrate.cutover import cutover_check

    try:
        report = cutover_check(source, target, live.source_table, target_table=live.target_table, state_path=state,
                               quiet_s=options.quiet_s, poll_s=min(0.25, options.quiet_s), max_details=1_000)  # fmt: skip
    except Exception as e:
        live.cutover = Step.error(f"the cut-over check failed: {type(e).__name__}: {e}"[:500])
        live.verify = Step.skipped("the cut-over check, which runs it, failed")
        return
    live.cutover = Step.ok()
    live.cutover_outcome = report.outcome
    live.cutover_reasons = list(report.reasons)
    live.cutover_in_flight = report.in_flight.count
    live.cutover_summary = report.summary()
    live.cutover_json = report.to_json()
    if report.verify is not None:
        live.verify_report = report.verify
        live.verify = Step.ok()
    else:
        live.verify = Step.skipped("the cut-over check stopped before its verify: " + "; ".join(report.reasons))


def run_live(
    source: ItemStore,
    target: ItemStore,
    entry: TableEvaluation,
    options: LiveOptions,
    progress: Any = None,
) -> LiveEvaluation:
    """The live part for one table (see the module docstring); every failure is recorded, none raised."""
    from storeswap.migrate.copy import copy_table
    from storeswap.migrate.follow import follow_changes, start_follow

    src_table, dst_table = live_table_names(entry.name, options.on)
    live = LiveEvaluation(options.rate, options.seconds, options.on, src_table, dst_table,
                          catch_up_timeout_s=options.catch_up_timeout)  # fmt: skip
    if not source.supports_change_streams:
        live.step = Step.skipped(
            f"the source ({source.kind}) has no change stream and cannot be given one, so nothing can follow it"
        )
        return live

    def say(text: str) -> None:
        if progress is not None:
            progress.step(f"{entry.name}: live — {text}", None)

    writer: LiveWriter | None = None
    follower: _Follower | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="storeswap-live-") as tmp:
            state = Path(tmp) / "follow-state.json"
            say("preparing the tables")
            try:
                spec = _prepare_source(source, entry, live)
                _drop(target, dst_table)
                live.scratch_tables.append(f"target: {dst_table}")
                kw: dict[str, Any] = {"target_table": dst_table, "state_path": state}
                start_follow(source, target, src_table, **kw)
            except NotSupported as e:
                live.step = Step.skipped(f"the source table cannot be given a change stream: {e}")
                return live
            except Exception as e:  # nothing was migrated yet: the live part could not run (UNKNOWN)
                live.step = Step.skipped(f"the live run could not be prepared: {type(e).__name__}: {e}"[:500])
                return live
            # From here on, a failure is the migration's (the copy or the replay into the target): NOT SAFE.
            writer = LiveWriter(source, spec, options.rate, _existing_keys(source, spec), options.seed,
                                options.writer_threads).start()  # fmt: skip
            say(f"copying under {options.rate:g} writes/s")
            live.copy_report = copy_table(source, target, src_table, **kw)
            say(f"following for {options.seconds:g} s under {options.rate:g} writes/s")
            follower = _Follower(lambda stop: follow_changes(source, target, src_table, stop=stop, poll_s=0.05, **kw))
            window_end = time.monotonic() + options.seconds
            give_up = window_end + MIN_LAG_SAMPLES_GRACE_S
            while follower.thread.is_alive():
                now = time.monotonic()
                # The window lasts --live-seconds and until MIN_LAG_SAMPLES lag readings were taken: on a loaded
                # machine one slow reading can fill a short window, and one reading shows no trend.
                if now >= window_end and (len(live.samples) >= MIN_LAG_SAMPLES or now >= give_up):
                    break
                left = (window_end if now < window_end else give_up) - now
                time.sleep(min(options.sample_interval, left))
                try:
                    sample = _sample(source, target, live, state, time.monotonic() - writer.started)
                except (StoreError, OSError) as e:  # a lag read failed: a gap in the measurement, said in caveats
                    live.sample_errors.append(f"{type(e).__name__}: {e}"[:300])
                    continue
                if sample is not None:
                    live.samples.append(sample)
            live.writer = writer.stop()
            writer = None
            stopped = time.monotonic()
            live.follow_report = follower.join()
            follower = None
            say("catching up")
            catch_up = _Follower(
                lambda stop: follow_changes(
                    source, target, src_table, until_caught_up=True, stop=stop, poll_s=0.05, **kw
                )
            )
            live.catch_up_report = catch_up.join(timeout=options.catch_up_timeout)
            if live.catch_up_report.caught_up:
                live.catch_up_s = time.monotonic() - stopped
            live.step = Step.ok()
            say("cut-over check (verify of base table and indexes)")
            _cutover(source, target, live, options, state)
    except Exception as e:
        live.step = Step.error(f"{type(e).__name__}: {e}"[:500])
    finally:
        if writer is not None:
            live.writer = writer.stop()
        if follower is not None:
            with contextlib.suppress(Exception):
                follower.join()
        if options.on == "scratch":
            with contextlib.suppress(Exception):
                _drop(source, src_table)
        with contextlib.suppress(Exception):
            _drop(target, dst_table)
    return live
