"""``storeswap evaluate --app-tests``: the team's own suite in the verdict and the report (issue 15 item 5)."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from broken_store import StalePageStore

from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.connect import register_scheme
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.evaluate.document import AppTestsEvaluation, AppTestsRun, Step
from storeswap.evaluate.verdict import decide

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "boto3_service"
SUITE = f"{sys.executable} -m pytest -p no:cacheprovider -q {EXAMPLE / 'tests'} --junitxml={{junit}}"
SPEC = TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk", "N"))


class StaleQueryPagesStore(StalePageStore):
    """A query resumed from a cursor repeats the previous page's last item; scans are right (so verify passes)."""

    scan = MemoryStore.scan


STORES: dict[str, MemoryStore] = {}
_KINDS = {"stale": StaleQueryPagesStore}
register_scheme("apptest", lambda url: STORES.setdefault(url.split("://", 1)[1],
                                                          _KINDS.get(url.split("://", 1)[1], MemoryStore)()))


@pytest.fixture(autouse=True)
def _source():
    STORES.clear()
    src = STORES.setdefault("src", MemoryStore())
    src.create_table(SPEC)
    src.bulk_put("orders", ({"pk": f"c{i % 3}", "sk": Decimal(i), "v": i} for i in range(30)))
    yield
    STORES.clear()


def _evaluate(tmp_path: Path, target: str, command: str) -> tuple[int, dict]:
    rc = main(["evaluate", "--source", "apptest://src", "--target", f"apptest://{target}", "--table", "orders",
               "--no-contract", "--no-bench", "--out", str(tmp_path), "--app-tests", command,
               "--app-tests-timeout", "300"])
    return rc, json.loads((tmp_path / "results.json").read_text())


def test_the_example_suite_passes_on_source_and_target(tmp_path: Path) -> None:
    rc, doc = _evaluate(tmp_path, "dst", SUITE)
    at = doc["app_tests"]
    assert at["step"]["status"] == "ok" and at["verdict"] == "SAFE", at
    assert (at["target"]["exit_status"], at["target"]["passed"], at["target"]["failed"]) == (0, 4, 0)
    assert at["source"]["passed"] == 4 and at["source"]["store_kind"] == "memory"
    assert doc["verdict"]["status"] == "SAFE" and rc == 0, doc["verdict"]
    report = (tmp_path / "report.md").read_text()
    assert "## App tests" in report and "target (memory) | 0 | 4 | 0" in report
    assert "App tests" in (tmp_path / "index.html").read_text()


def test_a_target_where_the_apps_tests_fail_is_not_safe(tmp_path: Path) -> None:
    rc, doc = _evaluate(tmp_path, "stale", SUITE)
    at = doc["app_tests"]
    assert at["verdict"] == "NOT SAFE" and at["target"]["failed"] >= 1 and at["source"]["failed"] == 0, at
    assert any("test_visits_are_paged_in_order" in r for r in at["regressions"])
    verdict = doc["verdict"]
    assert verdict["status"] == "NOT SAFE" and rc == 1
    assert [r["step"] for r in verdict["reasons"]] == ["app tests"]  # the copy and verify saw nothing wrong
    assert "test_visits_are_paged_in_order" in verdict["reasons"][0]["line"]


def test_a_command_that_cannot_run_is_unknown(tmp_path: Path) -> None:
    rc, doc = _evaluate(tmp_path, "dst", f"{tmp_path}/no-such-command")
    assert doc["app_tests"]["verdict"] == "UNKNOWN"
    assert doc["verdict"]["status"] == "UNKNOWN" and rc == 3
    assert doc["verdict"]["unknown"][0]["step"] == "app tests"


def test_a_failing_command_without_a_source_run_is_not_safe(tmp_path: Path) -> None:
    rc, doc = _evaluate(tmp_path, "dst", f"{sys.executable} -c 'raise SystemExit(1)'")
    # Fails on the source too (the same command), without JUnit XML: nothing tells which tests differ.
    assert doc["app_tests"]["verdict"] == "UNKNOWN" and rc == 3


def test_decide_reads_the_app_tests_step() -> None:
    """The verdict's rules on the typed document: not asked → no part; an error → UNKNOWN; NOT SAFE → a reason."""
    from storeswap.evaluate.document import EndpointInfo, Evaluation

    def ev(app: AppTestsEvaluation | None) -> Evaluation:
        return Evaluation("now", {}, EndpointInfo("s", "memory", {}, None), EndpointInfo("t", "memory", {}, None),
                          [], app_tests=app)

    assert all(r.step != "app tests" for r in decide(ev(None)).unknown + decide(ev(None)).reasons)
    broken = decide(ev(AppTestsEvaluation("cmd", Step.error("the gateway did not start"))))
    assert any(r.step == "app tests" and "did not start" in r.text for r in broken.unknown)
    failing = AppTestsEvaluation("cmd", Step.ok(), AppTestsRun("memory", 1, 0.1, 3, 1, 0), None,
                                 "the source is an export", "NOT SAFE", ["the app tests fail on the target"], ["t::x"])
    verdict = decide(ev(failing))
    assert verdict.status == "NOT SAFE" and verdict.reasons[0].render() == "[app tests] the app tests fail on the target (t::x)"
    assert any("export" in c.text for c in verdict.caveats)


def test_a_dynamodb_source_with_a_local_endpoint_is_run_directly(tmp_path: Path) -> None:
    """The source run talks to the DynamoDB endpoint itself (moto here), not to a gateway over it."""
    import uuid

    from storeswap.backends.dynamodb import provision
    from storeswap.connect import open_store

    url = provision()
    source = open_store(url)
    table = f"apptests_{uuid.uuid4().hex[:8]}"
    try:
        source.create_table(TableSpec(table, KeyAttribute("pk"), KeyAttribute("sk", "N")))
        source.bulk_put(table, ({"pk": "a", "sk": Decimal(i)} for i in range(10)))
        rc = main(["evaluate", "--source", url, "--target", "apptest://stale", "--table", table,
                   "--no-contract", "--no-bench", "--out", str(tmp_path), "--app-tests", SUITE,
                   "--app-tests-timeout", "300"])
        doc = json.loads((tmp_path / "results.json").read_text())
    finally:
        if source.table_exists(table):
            source.delete_table(table)
        source.close()
    at = doc["app_tests"]
    # On moto test_transfer fails (its UPDATED_NEW answer to an ADD of 0 leaves the attribute out, where the
    # gateway returns it); a test that fails on the source is no regression of the target.
    assert at["source"]["store_kind"] == "dynamodb" and at["source"]["passed"] >= 3, at
    assert at["regressions"] == ["examples.boto3_service.tests.test_counters::test_visits_are_paged_in_order"]
    assert at["verdict"] == "NOT SAFE" and rc == 1
