"""Run a team's own test command against a store, through the gateway (``evaluate --app-tests``).

:func:`run_app_tests` starts a gateway over the store, points every usual
DynamoDB endpoint variable at it (``AWS_ENDPOINT_URL_DYNAMODB``, which
boto3 and the other SDKs read, and ``DYNAMODB_ENDPOINT``,
``DDB_ENDPOINT_URL``, which many services read), adds placeholder
credentials and a region, runs the command, and returns an
:class:`AppTestOutcome`: the exit status and, when the command writes JUnit
XML, the per-test results.  ``{junit}`` in the command is replaced by the
path the XML is expected at (also exported as ``STORESWAP_JUNIT_XML``), so
``pytest --junitxml={junit}`` just works.

:func:`compare_outcomes` turns a target run (and, when the source was
reachable, a source run) into a verdict: a test that passes on the source
and fails on the target makes the move NOT SAFE; a run that did not finish
is UNKNOWN, never SAFE.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from attrs import define, field

from storeswap.core.port import ItemStore
from storeswap.gateway.server import GatewayServer

__all__ = ["AppTestOutcome", "AppTestsVerdict", "run_app_tests", "compare_outcomes", "parse_junit", "ENDPOINT_VARIABLES"]

#: The environment variables that point an application at the gateway.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "DYNAMODB_ENDPOINT", "DDB_ENDPOINT_URL")
_PLACEHOLDER = "storeswap"
_OUTPUT_TAIL = 4000

CaseResult = Literal["passed", "failed", "error", "skipped"]


@define(frozen=True)
class AppTestOutcome:
    """One run of the application's test command.

    ``exit_status`` is None when the command could not be started or timed
    out; ``cases`` maps ``classname::name`` to its result when the command
    wrote JUnit XML (else it is empty and the counts are None).
    """

    command: str
    store_kind: str
    exit_status: int | None
    duration_s: float
    timed_out: bool = False
    junit_path: str | None = None
    cases: Mapping[str, CaseResult] = field(factory=dict)
    output_tail: str = ""
    error: str | None = None

    def _count(self, result: CaseResult) -> int | None:
        if not self.cases:
            return None
        return sum(1 for r in self.cases.values() if r == result)

    @property
    def passed(self) -> int | None:
        """Passed tests (JUnit), else None."""
        return self._count("passed")

    @property
    def failed(self) -> int | None:
        """Failed tests plus errors (JUnit), else None."""
        if not self.cases:
            return None
        return sum(1 for r in self.cases.values() if r in ("failed", "error"))

    @property
    def skipped(self) -> int | None:
        """Skipped tests (JUnit), else None."""
        return self._count("skipped")

    @property
    def completed(self) -> bool:
        """True when the command ran to its end (any exit status)."""
        return self.exit_status is not None and not self.timed_out

    @property
    def ok(self) -> bool:
        """True when the command finished with exit status 0."""
        return self.exit_status == 0 and not self.timed_out


@define(frozen=True)
class AppTestsVerdict:
    """The app-tests part of a verdict: SAFE, NOT SAFE or UNKNOWN, with the reasons and the regressed tests."""

    verdict: Literal["SAFE", "NOT SAFE", "UNKNOWN"]
    reasons: tuple[str, ...]
    regressions: tuple[str, ...] = ()


def parse_junit(path: str | Path) -> dict[str, CaseResult]:
    """``classname::name`` → result for every test case of a JUnit XML file (pytest, Maven, Jest, ... shapes)."""
    root = ET.parse(path).getroot()
    cases: dict[str, CaseResult] = {}
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        result: CaseResult = "passed"
        for child in case:
            if child.tag == "failure":
                result = "failed"
            elif child.tag == "error":
                result = "error"
            elif child.tag == "skipped" and result == "passed":
                result = "skipped"
        cases[name] = result
    return cases


def run_app_tests(
    command: str | Sequence[str],
    store: ItemStore | None,
    *,
    endpoint_url: str | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    junit_xml: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> AppTestOutcome:
    """Run ``command`` with its DynamoDB endpoint pointed at a gateway over ``store``.

    A string command runs through the shell (``{junit}`` replaced by the
    JUnit path); a sequence runs as is.  ``junit_xml`` names where the XML
    lands (default: a fresh temporary file).  With ``store=None`` and an
    ``endpoint_url`` (the source's own DynamoDB endpoint, say) no gateway is
    started and the variables point at that endpoint; the credentials then
    come from the caller's environment.
    """
    if store is None:
        if endpoint_url is None:
            raise ValueError("run_app_tests needs a store or an endpoint_url")
        return _run(command, "dynamodb", endpoint_url, None, cwd, timeout, junit_xml, env)
    with GatewayServer(store) as gateway:
        return _run(command, store.kind, gateway.endpoint_url, gateway.app.region, cwd, timeout, junit_xml, env)


def _run(
    command: str | Sequence[str],
    kind: str,
    endpoint: str,
    region: str | None,
    cwd: str | Path | None,
    timeout: float | None,
    junit_xml: str | Path | None,
    env: Mapping[str, str] | None,
) -> AppTestOutcome:
    workdir = tempfile.mkdtemp(prefix="storeswap-app-tests-")
    junit = Path(junit_xml) if junit_xml is not None else Path(workdir) / "junit.xml"
    if junit.exists():
        junit.unlink()  # a stale file from an earlier run must not count as this run's results
    text = command if isinstance(command, str) else shlex.join(command)
    started = time.monotonic()
    run_env = {**os.environ, **(env or {})}
    for name in ENDPOINT_VARIABLES:
        run_env[name] = endpoint
    run_env["STORESWAP_JUNIT_XML"] = str(junit)
    if region is not None:  # a gateway: placeholder credentials, never the caller's real ones
        run_env.update({
            "AWS_ACCESS_KEY_ID": _PLACEHOLDER, "AWS_SECRET_ACCESS_KEY": _PLACEHOLDER,
            "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
        })
        run_env.pop("AWS_SESSION_TOKEN", None)
        run_env.pop("AWS_PROFILE", None)
    args: str | list[str] = text.replace("{junit}", shlex.quote(str(junit))) if isinstance(command, str) else list(command)
    try:
        proc = subprocess.run(
            args, shell=isinstance(command, str), cwd=cwd, env=run_env, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode("utf-8", "replace")
        return AppTestOutcome(text, kind, None, time.monotonic() - started, timed_out=True,
                              output_tail=out[-_OUTPUT_TAIL:], error=f"timed out after {timeout} s")
    except OSError as e:
        return AppTestOutcome(text, kind, None, time.monotonic() - started, error=f"cannot run: {e}")
    cases: dict[str, CaseResult] = {}
    junit_path = None
    error = None
    if junit.exists():
        try:
            cases = parse_junit(junit)
            junit_path = str(junit)
        except ET.ParseError as e:
            error = f"the JUnit XML at {junit} is malformed: {e}"
    return AppTestOutcome(text, kind, proc.returncode, time.monotonic() - started, junit_path=junit_path,
                          cases=cases, output_tail=proc.stdout[-_OUTPUT_TAIL:], error=error)


def compare_outcomes(target: AppTestOutcome, source: AppTestOutcome | None = None) -> AppTestsVerdict:
    """The verdict of the app tests: NOT SAFE when a test passes on the source and fails on the target.

    Without a source run, a failure on the target is NOT SAFE too (nothing
    shows that the suite fails on DynamoDB as well).  A run that did not
    finish, or results that cannot be compared, give UNKNOWN.
    """
    if not target.completed:
        return AppTestsVerdict("UNKNOWN", (f"the app tests did not finish on the target: {target.error}",))
    if source is not None and not source.completed:
        return AppTestsVerdict("UNKNOWN", (f"the app tests did not finish on the source: {source.error}",))
    if source is None:
        if target.ok:
            return AppTestsVerdict("SAFE", ("the app tests pass on the target (no source run to compare)",))
        failed = tuple(sorted(n for n, r in target.cases.items() if r in ("failed", "error")))
        return AppTestsVerdict(
            "NOT SAFE", (f"the app tests fail on the target (exit status {target.exit_status})",), failed
        )
    if source.cases and target.cases:
        regressions = tuple(sorted(
            n for n, r in source.cases.items() if r == "passed" and target.cases.get(n) in ("failed", "error", None)
        ))
        if regressions:
            return AppTestsVerdict(
                "NOT SAFE", (f"{len(regressions)} test(s) pass on the source and fail (or are missing) on the target",),
                regressions,
            )
    if source.ok and not target.ok:
        return AppTestsVerdict("NOT SAFE", (
            f"the app tests pass on the source and fail on the target (exit status {target.exit_status})",))
    if not source.ok and not target.ok and not (source.cases and target.cases):
        return AppTestsVerdict("UNKNOWN", (
            "the app tests fail on both stores and wrote no JUnit XML to tell which tests differ",))
    if target.ok:
        return AppTestsVerdict("SAFE", ("the app tests pass on the target",))
    return AppTestsVerdict("SAFE", ("every test that passes on the source passes on the target",))
