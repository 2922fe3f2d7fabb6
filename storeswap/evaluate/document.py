"""The evaluation document: what one run of ``evaluate`` observed, as attrs classes.

Every step is a :class:`Step` — ``ok``, ``error`` (with why) or ``skipped``
(with why, and whether the user switched it off) — next to the typed report
it produced (:class:`~storeswap.migrate.check.CheckReport`,
:class:`~storeswap.migrate.copy.CopyReport`,
:class:`~storeswap.migrate.verify.VerifyReport`, the contract tests).  A step
nobody set stays :data:`NOT_REACHED`, a skip, so a forgotten step reads as
"did not run", never as "passed".  The document becomes JSON only at the file
boundary (:meth:`Evaluation.to_json`, written as ``results.json``); the
verdict (:func:`storeswap.evaluate.verdict.decide`) reads the classes, where a
misspelt field is an ``AttributeError`` (and a mypy error), not a silent
"no problem".

This module imports neither pytest nor the stores' drivers: the contract
suite's per-test results (:class:`TestResult`, :class:`ContractRun`) are
defined here and filled in by :mod:`storeswap.evaluate.contract`.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
from attrs import define, field

from storeswap.core.schema import TableSpec
from storeswap.evaluate.profile import TableProfile
from storeswap.migrate.check import CheckReport
from storeswap.migrate.copy import CopyReport
from storeswap.migrate.follow import FollowReport
from storeswap.migrate.verify import VerifyReport

__all__ = [
    "StepStatus",
    "Step",
    "NOT_REACHED",
    "TestResult",
    "ContractRun",
    "ContractRoles",
    "ContractEvaluation",
    "EndpointInfo",
    "AppTestsRun",
    "AppTestsEvaluation",
    "LiveSample",
    "LiveWriterStats",
    "LiveEvaluation",
    "TableEvaluation",
    "Reason",
    "Verdict",
    "Evaluation",
    "VERDICT_STATUSES",
    "EXIT_CODES",
]

StepStatus = Literal["ok", "error", "skipped"]
_STATUSES = ("ok", "error", "skipped")


@define(frozen=True)
class Step:
    """How one step ended: ``ok``, ``error`` or ``skipped``; ``reason`` says why it is not ok."""

    status: StepStatus = field(validator=attrs.validators.in_(_STATUSES))
    reason: str | None = None
    #: True when the user switched the step off (``--no-contract``, ``--no-bench``).
    by_user: bool = False

    def __attrs_post_init__(self) -> None:
        if self.status != "ok" and not self.reason:
            raise ValueError(f"a step that is {self.status} needs a reason")

    @classmethod
    def ok(cls) -> Step:
        """The step ran and did its job."""
        return cls("ok")

    @classmethod
    def error(cls, reason: str) -> Step:
        """The step started and could not finish."""
        return cls("error", reason)

    @classmethod
    def skipped(cls, reason: str, *, by_user: bool = False) -> Step:
        """The step did not run."""
        return cls("skipped", reason, by_user)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"status": self.status, "reason": self.reason, "by_user": self.by_user}


#: A step that nobody ran: a skip, so the verdict reads it as "did not run".
NOT_REACHED = Step("skipped", "the run never reached it")


@define
class TestResult:
    """How one contract test ended: ``passed``, ``failed``, ``xfailed`` or ``skipped``."""

    __test__ = False  # not a pytest test class, whatever its name

    nodeid: str
    name: str
    requirements: tuple[str, ...]
    stores: tuple[str, ...]
    pair: tuple[str, str] | None = None
    outcome: str = "passed"
    message: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return attrs.asdict(self)


@define
class ContractRun:
    """One run of the suite: its arguments, exit code, the stores it ran on, and the log tail on trouble."""

    args: list[str]
    exit_code: int
    seconds: float
    stores: list[str]
    results: list[TestResult]
    error: str | None = None
    output_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form (the tests are listed beside it in the contract section)."""
        return {
            "args": self.args,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 2),
            "stores": self.stores,
            "error": self.error,
            "output_tail": self.output_tail,
        }


@define
class ContractRoles:
    """The suite's name for each evaluated store (None: the suite did not run against it)."""

    source: str | None = None
    target: str | None = None

    def to_json(self) -> dict[str, str | None]:
        """JSON form."""
        return {"source": self.source, "target": self.target}


@define
class ContractEvaluation:
    """The contract suite's step: how it ended, which store was which, and every test's outcome."""

    step: Step = NOT_REACHED
    titles: dict[str, str] = field(factory=dict)
    roles: ContractRoles = field(factory=ContractRoles)
    run: ContractRun | None = None
    note: str | None = None

    @property
    def tests(self) -> list[TestResult]:
        """Every test's result (none when the suite did not run)."""
        return [] if self.run is None else self.run.results

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "step": self.step.to_json(),
            "titles": self.titles,
            "roles": self.roles.to_json(),
            "run": None if self.run is None else self.run.to_json(),
            "note": self.note,
            "tests": [t.to_json() for t in self.tests],
        }


@define
class EndpointInfo:
    """How the report names one side: redacted label, store kind, who serves it, and how the suite reached it."""

    label: str
    kind: str
    store: dict[str, Any]
    contract: dict[str, str | None] | None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"label": self.label, "kind": self.kind, "store": self.store, "contract": self.contract}


@define(frozen=True)
class LiveSample:
    """One sample of the follower's lag while the writer ran: its checkpointed position against the stream's end."""

    #: Seconds since the writer started.
    at_s: float
    #: Change records after the follower's checkpoint (every shard): written to the source, not yet on the target.
    lag_records: int | None
    #: Age of the oldest of those records, 0.0 when there is none (None: the store gives records no time).
    lag_seconds: float | None
    #: Records the follower had applied by then (its checkpoint).
    applied: int
    #: False when the sample stopped counting at its cap (``lag_records`` is then a lower bound).
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return attrs.asdict(self)


@define(frozen=True)
class LiveWriterStats:
    """What the background writer did: writes per kind, refusals (a failed condition), errors."""

    rate: float
    seconds: float
    puts: int = 0
    updates: int = 0
    deletes: int = 0
    transactions: int = 0
    #: Writes the store refused as it should (a failed condition, a cancelled transaction, an item too large).
    refused: int = 0
    #: Writes that failed otherwise (the store was unreachable, an unexpected error).
    errors: int = 0
    first_error: str | None = None

    @property
    def writes(self) -> int:
        """Writes the source acknowledged."""
        return self.puts + self.updates + self.deletes + self.transactions

    @property
    def achieved_rate(self) -> float:
        """Writes attempted per second (acknowledged, refused or failed)."""
        return (self.writes + self.refused + self.errors) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        out = attrs.asdict(self)
        out["writes"] = self.writes
        out["achieved_rate"] = round(self.achieved_rate, 1)
        return out


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@define
class LiveEvaluation:
    """``--live``: the copy and the follower under a background writer, the catch-up, verify and the cut-over check.

    ``on`` says what the writer wrote: ``table`` (the evaluated table itself:
    the built-in samples only) or ``scratch`` (a scratch copy of it on the
    source store, deleted afterwards).  ``step`` is not ok when the live part
    could not run (the source has no change stream, ...): the verdict is then
    UNKNOWN.  ``cutover`` stays :data:`NOT_REACHED` (a skip, read as "did not run")
    until the cut-over check ran.
    """

    rate: float
    window_s: float
    on: str
    source_table: str
    target_table: str
    step: Step = NOT_REACHED
    writer: LiveWriterStats | None = None
    copy_report: CopyReport | None = None
    #: The follower's run while the writer wrote.
    follow_report: FollowReport | None = None
    #: The follower's run after the writer stopped, until caught up (or the catch-up timeout).
    catch_up_report: FollowReport | None = None
    samples: list[LiveSample] = field(factory=list)
    #: Lag samples that could not be read (a stream or state read failed): a measurement gap, not a failed move.
    sample_errors: list[str] = field(factory=list)
    #: Seconds from the writer's stop until the follower caught up (None: it did not).
    catch_up_s: float | None = None
    catch_up_timeout_s: float = 0.0
    #: The verify of the live tables: the one the cut-over check ran (base table and indexes).
    verify: Step = NOT_REACHED
    verify_report: VerifyReport | None = None
    cutover: Step = NOT_REACHED
    #: The cut-over check's outcome (``go``, ``no-go`` or ``unknown``; None: it did not run), reasons, report.
    cutover_outcome: str | None = None
    cutover_reasons: list[str] = field(factory=list)
    #: Items that changed after the follower's position while the check's verify ran (not differences).
    cutover_in_flight: int | None = None
    cutover_summary: str | None = None
    cutover_json: dict[str, Any] | None = None
    #: Scratch tables made for the live run and deleted afterwards (store, table).
    scratch_tables: list[str] = field(factory=list)

    @property
    def caught_up(self) -> bool:
        """True when the follower caught up after the writer stopped."""
        return self.catch_up_report is not None and self.catch_up_report.caught_up

    def _values(self, name: str) -> list[float]:
        return [float(v) for s in self.samples if (v := getattr(s, name)) is not None]

    def lag(self, name: str) -> tuple[float | None, float | None]:
        """(max, p50) of ``lag_records`` or ``lag_seconds`` over the samples; None where no sample knew it."""
        values = self._values(name)
        return (max(values), _median(values)) if values else (None, None)

    @property
    def records_replayed(self) -> int:
        """Change records the follower applied (under the writer and while catching up)."""
        return sum(r.records for r in (self.follow_report, self.catch_up_report) if r is not None)

    @property
    def replay_records_per_second(self) -> float | None:
        """Records applied per second of following (both runs); under the writer it is bounded by the write rate."""
        runs = [r for r in (self.follow_report, self.catch_up_report) if r is not None]
        seconds = sum(r.seconds for r in runs)
        return self.records_replayed / seconds if runs and seconds > 0 else None

    @property
    def peak_records_per_second(self) -> float | None:
        """The fastest replay between two lag samples (records applied / seconds): the follower's capacity when
        it drained a backlog (the records written during the copy), else no more than the write rate."""
        rates = [
            (b.applied - a.applied) / (b.at_s - a.at_s)
            for a, b in zip(self.samples, self.samples[1:], strict=False)
            if b.at_s > a.at_s and b.applied >= a.applied
        ]
        return max(rates) if rates else None

    def to_json(self) -> dict[str, Any]:
        """JSON form, with the lag statistics."""
        rmax, rp50 = self.lag("lag_records")
        smax, sp50 = self.lag("lag_seconds")
        rps = self.replay_records_per_second
        peak = self.peak_records_per_second
        return {
            "rate": self.rate,
            "window_s": self.window_s,
            "on": self.on,
            "source_table": self.source_table,
            "target_table": self.target_table,
            "step": self.step.to_json(),
            "writer": None if self.writer is None else self.writer.to_json(),
            "copy": None if self.copy_report is None else self.copy_report.to_json(),
            "follow": None if self.follow_report is None else self.follow_report.to_json(),
            "catch_up": None if self.catch_up_report is None else self.catch_up_report.to_json(),
            "records_replayed": self.records_replayed,
            "replay_records_per_second": None if rps is None else round(rps, 1),
            "peak_records_per_second": None if peak is None else round(peak, 1),
            "lag_records_max": rmax,
            "lag_records_p50": rp50,
            "lag_seconds_max": None if smax is None else round(smax, 3),
            "lag_seconds_p50": None if sp50 is None else round(sp50, 3),
            "samples": [s.to_json() for s in self.samples],
            "caught_up": self.caught_up,
            "catch_up_s": None if self.catch_up_s is None else round(self.catch_up_s, 3),
            "catch_up_timeout_s": self.catch_up_timeout_s,
            "verify_step": self.verify.to_json(),
            "verify": None if self.verify_report is None else self.verify_report.to_json(),
            "cutover_step": self.cutover.to_json(),
            "cutover": {
                "outcome": self.cutover_outcome,
                "go": self.cutover_outcome == "go",
                "reasons": self.cutover_reasons,
                "in_flight": self.cutover_in_flight,
                "summary": self.cutover_summary,
                "report": self.cutover_json,
            },
            "scratch_tables": self.scratch_tables,
        }


@define
class TableEvaluation:
    """Everything observed for one table: each step with the report it produced."""

    name: str
    target_table: str
    description: str | None
    spec: TableSpec
    check: Step = NOT_REACHED
    check_report: CheckReport | None = None
    profile: TableProfile | None = None
    #: Per requirement id: None when the table relies on it, else why it does not.
    requirements: dict[str, str | None] = field(factory=dict)
    copy: Step = NOT_REACHED
    copy_report: CopyReport | None = None
    copy_traceback: str | None = None
    verify: Step = NOT_REACHED
    verify_report: VerifyReport | None = None
    bench: Step = NOT_REACHED
    bench_result: dict[str, Any] | None = None
    #: ``--live``: None when not asked for.
    live: LiveEvaluation | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form: the steps, and each report in its own JSON form."""
        bench = self.bench_result if self.bench_result is not None else {"error": self.bench.reason}
        return {
            "name": self.name,
            "target_table": self.target_table,
            "description": self.description,
            "spec": self.spec.to_dict(),
            "steps": {
                "check": self.check.to_json(),
                "copy": self.copy.to_json(),
                "verify": self.verify.to_json(),
                "bench": self.bench.to_json(),
            },
            "check": None if self.check_report is None else self.check_report.to_json(),
            "check_error": self.check.reason if self.check.status == "error" else None,
            "profile": None if self.profile is None else self.profile.to_json(),
            "requirements": self.requirements,
            "copy": None if self.copy_report is None else self.copy_report.to_json(),
            "copy_error": self.copy.reason if self.copy.status == "error" else None,
            "copy_traceback": self.copy_traceback,
            "verify": None if self.verify_report is None else self.verify_report.to_json(),
            "verify_error": self.verify.reason if self.verify.status == "error" else None,
            "bench": bench,
            "live": None if self.live is None else self.live.to_json(),
        }


@define(frozen=True)
class AppTestsRun:
    """One run of the team's test command against one store: exit status and, with JUnit XML, the counts.

    ``exit_status`` is None when the command could not start or timed out;
    the counts are None when it wrote no JUnit XML.
    """

    store_kind: str
    exit_status: int | None
    seconds: float
    passed: int | None = None
    failed: int | None = None
    skipped: int | None = None
    timed_out: bool = False
    error: str | None = None
    output_tail: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return attrs.asdict(self)


@define
class AppTestsEvaluation:
    """``--app-tests``: the command, its run on the target (and on the source when reachable), and the outcome.

    ``verdict`` is SAFE, NOT SAFE or UNKNOWN as the comparison found it
    (:func:`storeswap.gateway.app_tests.compare_outcomes`); ``source_skipped``
    says why there is no source run.  Absent from the evaluation when the user
    did not ask for it.
    """

    command: str
    step: Step = NOT_REACHED
    target: AppTestsRun | None = None
    source: AppTestsRun | None = None
    source_skipped: str | None = None
    verdict: str | None = None
    reasons: list[str] = field(factory=list)
    regressions: list[str] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "command": self.command,
            "step": self.step.to_json(),
            "target": None if self.target is None else self.target.to_json(),
            "source": None if self.source is None else self.source.to_json(),
            "source_skipped": self.source_skipped,
            "verdict": self.verdict,
            "reasons": self.reasons,
            "regressions": self.regressions,
        }


@define(frozen=True)
class Reason:
    """One line of the verdict: which part found it, for which table, and what."""

    step: str
    text: str
    table: str | None = None

    def render(self) -> str:
        """``[step] table: text``."""
        where = f" {self.table}:" if self.table else ""
        return f"[{self.step}]{where} {self.text}"

    def to_json(self) -> dict[str, Any]:
        """JSON form, with the rendered line."""
        return {"step": self.step, "text": self.text, "table": self.table, "line": self.render()}


VERDICT_STATUSES = ("SAFE", "NOT SAFE", "UNKNOWN")
#: ``storeswap evaluate``'s exit code per verdict status.
EXIT_CODES = {"SAFE": 0, "NOT SAFE": 1, "UNKNOWN": 3}


@define
class Verdict:
    """SAFE, NOT SAFE or UNKNOWN, with the reasons against (NOT SAFE), the parts that did not run (UNKNOWN),
    the parts the user switched off (beside a SAFE), and caveats."""

    status: str = field(validator=attrs.validators.in_(VERDICT_STATUSES))
    headline: str
    reasons: list[Reason] = field(factory=list)
    unknown: list[Reason] = field(factory=list)
    not_checked: list[str] = field(factory=list)
    caveats: list[Reason] = field(factory=list)

    @property
    def safe(self) -> bool:
        """True only for SAFE."""
        return self.status == "SAFE"

    @property
    def exit_code(self) -> int:
        """0 SAFE, 1 NOT SAFE, 3 UNKNOWN."""
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        """JSON form; every reason also as rendered text."""
        return {
            "status": self.status,
            "safe": self.safe,
            "headline": self.headline,
            "reasons": [r.to_json() for r in self.reasons],
            "unknown": [r.to_json() for r in self.unknown],
            "not_checked": self.not_checked,
            "caveats": [r.to_json() for r in self.caveats],
        }


RESULTS_SCHEMA = "storeswap-evaluate/2"


@define
class Evaluation:
    """The whole run: options, both sides, every table, the contract suite, and the verdict."""

    started: str
    options: dict[str, Any]
    source: EndpointInfo
    target: EndpointInfo
    tables: list[TableEvaluation]
    contract: ContractEvaluation = field(factory=ContractEvaluation)
    timings: dict[str, float] = field(factory=dict)
    emulators: list[str] = field(factory=list)
    environment: dict[str, Any] = field(factory=dict)
    finished: str = ""
    seconds: float = 0.0
    sample_mode: bool = False
    #: The team's own tests (``--app-tests``); None when not asked for.
    app_tests: AppTestsEvaluation | None = None
    verdict: Verdict | None = None

    def to_json(self) -> dict[str, Any]:
        """The content of ``results.json``."""
        return {
            "schema": RESULTS_SCHEMA,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
            "options": self.options,
            "source": self.source.to_json(),
            "target": self.target.to_json(),
            "tables": [t.to_json() for t in self.tables],
            "contract": self.contract.to_json(),
            "skipped_steps": sorted(
                {s.reason or "" for t in self.tables for s in (t.bench,) if s.status == "skipped"}
                | ({self.contract.step.reason or ""} if self.contract.step.status == "skipped" else set())
            ),
            "timings": self.timings,
            "emulators": self.emulators,
            "environment": self.environment,
            "sample_mode": self.sample_mode,
            "app_tests": None if self.app_tests is None else self.app_tests.to_json(),
            "verdict": None if self.verdict is None else self.verdict.to_json(),
        }
