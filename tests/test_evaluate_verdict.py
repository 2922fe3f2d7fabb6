"""The verdict of ``storeswap evaluate`` comes from real runs: SAFE only when every part ran and passed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest
from broken_store import BinaryDroppingStore, factory_spec

from storeswap import KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.evaluate import Endpoint, EvaluateOptions, Evaluation, decide, evaluate, write_evaluation
from storeswap.evaluate.document import (
    ContractEvaluation,
    ContractRoles,
    ContractRun,
    EndpointInfo,
    Step,
    TableEvaluation,
    TestResult,
)
from storeswap.evaluate.samples import EDGES_TABLE, TENANTS_TABLE, load_samples
from storeswap.evaluate.suite_target import ContractStore, contract_store_for

#: Enough of the suite to catch a lossy codec, fast: value round trips and the swap tests.
CONTRACT_SUBSET = ("-k", "test_values or test_swap")


def _run(target: Any, suite: ContractStore | None, **options: Any) -> Evaluation:
    source = MemoryStore()
    tables = load_samples(source)
    return evaluate(
        Endpoint(source, "memory://", ContractStore(builtin="memory")),
        Endpoint(target, "memory://broken" if isinstance(target, BinaryDroppingStore) else "memory://", suite),
        tables,
        options=EvaluateOptions(quick=True, contract_args=CONTRACT_SUBSET, **options),
    )


def test_healthy_memory_to_memory_is_safe(tmp_path: Path) -> None:
    ev = _run(MemoryStore(), ContractStore(builtin="memory"), bench_ops=5)
    verdict = ev.verdict
    assert verdict is not None and verdict.status == "SAFE", [r.render() for r in verdict.reasons + verdict.unknown]
    assert verdict.headline.startswith("SAFE to move") and verdict.exit_code == 0
    assert verdict.reasons == [] and verdict.unknown == [] and verdict.not_checked == []
    assert [t.name for t in ev.tables] == [TENANTS_TABLE, EDGES_TABLE]
    for t in ev.tables:
        assert t.verify_report is not None and t.verify_report.identical
        assert t.copy_report is not None and t.copy_report.items == t.verify_report.source_items > 0
        assert t.bench_result is not None and set(t.bench_result["ops"]) >= {"get", "put", "conditional update"}
        assert t.bench_result["errors"] == {"source": {}, "target": {}}
    assert ev.contract.roles == ContractRoles("memory", "memory")
    assert ev.contract.tests and all(t.outcome == "passed" for t in ev.contract.tests)
    paths = write_evaluation(ev, tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert "Verdict: SAFE to move" in page
    assert page.count('<img class="chart"') == 3  # one per table, and the ratios
    doc = json.loads(paths["results"].read_text(encoding="utf-8"))
    assert doc["verdict"]["status"] == "SAFE" and doc["tables"][0]["steps"]["verify"]["status"] == "ok"


def test_a_store_that_drops_binary_values_is_not_safe() -> None:
    ev = _run(BinaryDroppingStore(), ContractStore(factory=factory_spec("binary_dropped")), bench=False)
    verdict = ev.verdict
    assert verdict is not None and verdict.status == "NOT SAFE" and verdict.exit_code == 1
    assert verdict.headline.startswith("NOT SAFE")
    lines = [r.render() for r in verdict.reasons]
    # The copy into the broken store is caught by verify, naming a binary field of the sample...
    verify = [r for r in verdict.reasons if r.step == "verify"]
    assert any(r.table == EDGES_TABLE and "changed" in r.text for r in verify), lines
    assert any(r.table == TENANTS_TABLE and "'avatar' missing" in r.text for r in verify), lines
    # ...and the contract suite, run against the same broken adapter, fails requirements the tables use.
    assert ev.contract.roles == ContractRoles("memory", "broken-binary-dropped")
    contract = [r for r in verdict.reasons if r.step == "contract"]
    assert any(
        "fails on the target (broken-binary-dropped)" in r.text and r.text.startswith("requirement M1")
        for r in contract
    ), lines
    assert any(r.text.startswith("requirement V4") for r in contract), lines
    assert not any("fails on the source" in r.render() for r in verdict.caveats)
    assert verdict.not_checked == ["the benchmark (--no-bench)"]


def test_a_target_the_suite_cannot_reach_is_unknown_never_safe() -> None:
    """The issue's case: the suite not running against the target used to be a caveat beside SAFE."""
    ev = _run(MemoryStore(), None, bench=False)
    assert ev.verdict is not None and ev.verdict.status == "UNKNOWN" and ev.verdict.exit_code == 3
    assert ev.verdict.headline.startswith("UNKNOWN — contract suite did not run: the suite cannot reach the target")
    assert "--target-factory" in ev.verdict.headline


def test_a_subclass_reporting_a_builtin_kind_is_not_tested_as_the_builtin() -> None:
    class Pretender(MemoryStore):
        kind = "postgres"

    assert contract_store_for(Pretender(), "postgresql://u@h/db") is None
    assert contract_store_for(MemoryStore(), "memory://") == ContractStore(builtin="memory")


def test_pytest_missing_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "storeswap.evaluate.contract", None)  # import fails as without pytest
    ev = _run(MemoryStore(), ContractStore(builtin="memory"), bench=False)
    assert ev.verdict is not None and ev.verdict.status == "UNKNOWN"
    assert "pytest is not installed" in ev.verdict.headline


def test_switched_off_parts_are_listed_beside_safe() -> None:
    ev = _run(MemoryStore(), ContractStore(builtin="memory"), bench=False, contract=False)
    assert ev.verdict is not None and ev.verdict.status == "SAFE"
    assert ev.verdict.not_checked == ["the benchmark (--no-bench)", "the contract suite (--no-contract)"]
    assert "not checked: the benchmark (--no-bench), the contract suite (--no-contract)" in ev.verdict.headline


def _evaluation(req: str, used: bool, **table: Any) -> Evaluation:
    spec = TableSpec("orders", KeyAttribute("pk"))
    from storeswap.migrate.check import CheckReport
    from storeswap.migrate.copy import CopyReport
    from storeswap.migrate.verify import VerifyReport

    copy = CopyReport("orders", "orders", "dynamodb", "postgres", 1, 1, 0.1, 1, 1, 1, True, False, True, None, 1)
    entry = TableEvaluation(
        "orders",
        "orders",
        None,
        spec,
        check=Step.ok(),
        check_report=CheckReport("orders", "dynamodb", "postgres"),
        requirements={req: None if used else "the table has no secondary index"},
        copy=Step.ok(),
        copy_report=copy,
        verify=Step.ok(),
        verify_report=VerifyReport("orders", "orders", 1),
        bench=Step.skipped("--no-bench", by_user=True),
    )
    entry = attrs.evolve(entry, **table)
    test = TestResult("x", "test_x[postgres]", (req,), ("postgres",), None, "failed", "assert 1 == 2")
    return Evaluation(
        started="now",
        options={},
        source=EndpointInfo("dynamodb://", "dynamodb", {}, None),
        target=EndpointInfo("postgresql://", "postgres", {}, None),
        tables=[entry],
        contract=ContractEvaluation(
            Step.ok(),
            {req: "a title"},
            ContractRoles("dynamodb", "postgres"),
            ContractRun([], 1, 0.0, ["dynamodb", "postgres"], [test]),
        ),
    )


@pytest.mark.parametrize("used", [True, False])
def test_a_target_failure_blocks_only_when_the_table_uses_the_requirement(used: bool) -> None:
    verdict = decide(_evaluation("K3", used))
    assert verdict.safe is not used
    where = verdict.reasons if used else verdict.caveats
    assert any("requirement K3 (a title) fails on the target (postgres)" in r.text for r in where)


@pytest.mark.parametrize(
    ("part", "changes", "expected"),
    [
        ("readiness check", {"check": Step.error("boom"), "check_report": None}, "readiness check did not run: boom"),
        ("copy", {"copy": Step.skipped("the run never reached it"), "copy_report": None}, "copy did not run"),
        ("verify", {"verify": Step.error("TableNotFound: x"), "verify_report": None}, "verify did not run"),
    ],
)
def test_a_part_that_did_not_run_is_unknown(part: str, changes: dict[str, Any], expected: str) -> None:
    verdict = decide(_evaluation("K3", False, **changes))
    assert verdict.status == "UNKNOWN", part
    assert verdict.headline.startswith(f"UNKNOWN — {expected}")


def test_a_step_that_is_not_ok_needs_a_reason_and_a_known_status() -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        Step("error")
    with pytest.raises(ValueError):
        Step("passed")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TestResult(**{"nodeid": "x", "name": "x", "requirements": (), "stores": (), "outcom": "passed"})  # type: ignore[arg-type]
