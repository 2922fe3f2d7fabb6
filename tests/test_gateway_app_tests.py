"""run_app_tests / compare_outcomes: the example boto3 service's own suite run against the gateway."""

from __future__ import annotations

import sys
from pathlib import Path

from storeswap.connect import open_store
from storeswap.gateway.app_tests import AppTestOutcome, compare_outcomes, parse_junit, run_app_tests

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "boto3_service"


def test_the_example_suite_passes_through_the_gateway() -> None:
    outcome = run_app_tests(
        f"{sys.executable} -m pytest -p no:cacheprovider -q {EXAMPLE / 'tests'} --junitxml={{junit}}",
        open_store("memory://"), timeout=300,
    )
    assert outcome.exit_status == 0, outcome.output_tail
    assert (outcome.passed, outcome.failed, outcome.skipped) == (4, 0, 0)
    assert outcome.junit_path is not None and outcome.store_kind == "memory"
    assert compare_outcomes(outcome).verdict == "SAFE"


def test_the_environment_points_at_the_gateway(tmp_path: Path) -> None:
    script = tmp_path / "env_check.py"
    script.write_text(
        "import os, sys, urllib.request\n"
        "urls = {os.environ[v] for v in ('AWS_ENDPOINT_URL_DYNAMODB', 'DYNAMODB_ENDPOINT', 'DDB_ENDPOINT_URL')}\n"
        "assert len(urls) == 1 and os.environ['AWS_ACCESS_KEY_ID']\n"
        "body = urllib.request.urlopen(urls.pop()).read()\n"
        "sys.exit(0 if body.startswith(b'healthy') else 3)\n"
    )
    outcome = run_app_tests([sys.executable, str(script)], open_store("memory://"), timeout=60)
    assert outcome.exit_status == 0, outcome.output_tail
    assert outcome.passed is None  # no JUnit XML written
    failing = run_app_tests([sys.executable, "-c", "raise SystemExit(7)"], open_store("memory://"), timeout=60)
    assert failing.exit_status == 7 and compare_outcomes(failing).verdict == "NOT SAFE"


def test_timeouts_are_unknown() -> None:
    outcome = run_app_tests([sys.executable, "-c", "import time; time.sleep(30)"], open_store("memory://"), timeout=1)
    assert outcome.timed_out and outcome.exit_status is None
    assert compare_outcomes(outcome).verdict == "UNKNOWN"


def _outcome(status: int, cases: dict[str, str]) -> AppTestOutcome:
    return AppTestOutcome("cmd", "memory", status, 0.1, cases=cases)  # type: ignore[arg-type]


def test_regressions_against_the_source_are_not_safe() -> None:
    source = _outcome(1, {"t::a": "passed", "t::b": "failed"})
    same = _outcome(1, {"t::a": "passed", "t::b": "failed"})
    worse = _outcome(1, {"t::a": "failed", "t::b": "failed"})
    assert compare_outcomes(same, source).verdict == "SAFE"
    verdict = compare_outcomes(worse, source)
    assert verdict.verdict == "NOT SAFE" and verdict.regressions == ("t::a",)
    assert compare_outcomes(_outcome(1, {}), _outcome(0, {})).verdict == "NOT SAFE"
    assert compare_outcomes(_outcome(1, {}), _outcome(1, {})).verdict == "UNKNOWN"


def test_parse_junit(tmp_path: Path) -> None:
    path = tmp_path / "j.xml"
    path.write_text(
        '<testsuites><testsuite name="s"><testcase classname="c" name="ok"/>'
        '<testcase classname="c" name="bad"><failure message="x"/></testcase>'
        '<testcase classname="c" name="boom"><error/></testcase>'
        '<testcase classname="c" name="skip"><skipped/></testcase></testsuite></testsuites>'
    )
    assert parse_junit(path) == {"c::ok": "passed", "c::bad": "failed", "c::boom": "error", "c::skip": "skipped"}


def test_a_source_endpoint_runs_without_a_gateway_and_compares() -> None:
    from storeswap.gateway.server import GatewayServer

    command = f"{sys.executable} -m pytest -p no:cacheprovider -q {EXAMPLE / 'tests'} --junitxml={{junit}}"
    # Stands in for the source's own DynamoDB endpoint: the app talks to it directly.
    with GatewayServer(open_store("memory://")) as source_endpoint:
        source = run_app_tests(command, None, endpoint_url=source_endpoint.endpoint_url, timeout=300, env={
            "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1"})
    target = run_app_tests(command, open_store("memory://"), timeout=300)
    assert source.ok and source.store_kind == "dynamodb" and source.passed == 4
    verdict = compare_outcomes(target, source)
    assert verdict.verdict == "SAFE" and verdict.regressions == ()
