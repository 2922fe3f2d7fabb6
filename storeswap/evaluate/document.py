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
            "verdict": None if self.verdict is None else self.verdict.to_json(),
        }
