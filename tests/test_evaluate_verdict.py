"""The verdict of ``storeswap evaluate`` comes from real runs: a healthy move is safe, a lossy store is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from broken_store import BinaryDroppingStore

from storeswap.adapters.memory import MemoryStore
from storeswap.evaluate import Endpoint, EvaluateOptions, decide, evaluate, write_evaluation
from storeswap.evaluate.contract import ContractStore
from storeswap.evaluate.samples import EDGES_TABLE, TENANTS_TABLE, load_samples

BROKEN_FACTORY = f"{Path(__file__).with_name('broken_store.py')}:make"
#: Enough of the suite to catch a lossy codec, fast: value round trips and the swap tests.
CONTRACT_SUBSET = ("-k", "test_values or test_swap")


def _run(target: Any, contract: ContractStore, **options: Any) -> dict[str, Any]:
    source = MemoryStore()
    tables = load_samples(source)
    return evaluate(
        Endpoint(source, "memory://", ContractStore(builtin="memory")),
        Endpoint(target, "memory://broken" if isinstance(target, BinaryDroppingStore) else "memory://", contract),
        tables,
        options=EvaluateOptions(quick=True, contract_args=CONTRACT_SUBSET, **options),
    )


def test_healthy_memory_to_memory_is_safe(tmp_path: Path) -> None:
    doc = _run(MemoryStore(), ContractStore(builtin="memory"), bench_ops=5)
    verdict = doc["verdict"]
    assert verdict["safe"] is True, verdict["reasons"]
    assert verdict["headline"].startswith("SAFE to move")
    assert verdict["reasons"] == []
    assert [t["name"] for t in doc["tables"]] == [TENANTS_TABLE, EDGES_TABLE]
    for t in doc["tables"]:
        assert t["verify"]["identical"] is True
        assert t["copy"]["items"] == t["verify"]["source_items"] > 0
        assert set(t["bench"]["ops"]) >= {"get", "put", "conditional update"}
        assert t["bench"]["errors"] == {"source": {}, "target": {}}
    contract = doc["contract"]
    assert contract["roles"] == {"source": "memory", "target": "memory"}
    assert contract["tests"] and all(t["outcome"] == "passed" for t in contract["tests"])
    paths = write_evaluation(doc, tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    assert "Verdict: SAFE to move" in page
    assert page.count('<img class="chart"') == 3  # one per table, and the ratios


def test_a_store_that_drops_binary_values_is_not_safe() -> None:
    doc = _run(BinaryDroppingStore(), ContractStore(factory=BROKEN_FACTORY), bench=False)
    verdict = doc["verdict"]
    assert verdict["safe"] is False
    assert verdict["headline"].startswith("NOT SAFE")
    lines = [r["line"] for r in verdict["reasons"]]
    # The copy into the broken store is caught by verify, naming a binary field of the sample...
    verify = [r for r in verdict["reasons"] if r["step"] == "verify"]
    assert verify, lines
    assert any(r["table"] == EDGES_TABLE and "changed" in r["text"] for r in verify), lines
    assert any(r["table"] == TENANTS_TABLE and "'avatar' missing" in r["text"] for r in verify), lines
    # ...and the contract suite, run against the same broken adapter, fails requirements the tables use.
    assert doc["contract"]["roles"] == {"source": "memory", "target": "broken"}
    contract = [r for r in verdict["reasons"] if r["step"] == "contract"]
    assert any(
        "fails on the target (broken)" in r["text"] and r["text"].startswith("requirement M1") for r in contract
    ), lines
    assert any(r["text"].startswith("requirement V4") for r in contract), lines
    # The source itself is healthy: nothing counts against it.
    assert not any("fails on the source" in r["line"] for r in verdict["caveats"])


def _doc_with_target_failure(req: str, used: bool) -> dict[str, Any]:
    return {
        "source": {"kind": "dynamodb"},
        "target": {"kind": "postgres"},
        "tables": [{"name": "orders", "requirements": {req: None if used else "the table has no secondary index"}}],
        "contract": {
            "roles": {"source": "dynamodb", "target": "postgres"},
            "titles": {req: "a title"},
            "tests": [
                {
                    "name": "test_x[postgres]",
                    "requirements": [req],
                    "stores": ["postgres"],
                    "pair": None,
                    "outcome": "failed",
                    "message": "assert 1 == 2",
                }
            ],
        },
    }


@pytest.mark.parametrize("used", [True, False])
def test_a_target_failure_blocks_only_when_the_table_uses_the_requirement(used: bool) -> None:
    verdict = decide(_doc_with_target_failure("K3", used))
    assert verdict.safe is not used
    where = verdict.reasons if used else verdict.caveats
    assert any("requirement K3 (a title) fails on the target (postgres)" in r.text for r in where)
