"""evaluate from anything migrate reads (a DynamoDB export) into a store given by factory (issue 10, items 4-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from broken_store import factory_spec

from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.migrate import write_export
from storeswap.migrate.sample import SAMPLE_SPEC, sample_items


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = MemoryStore()
    store.create_table(SAMPLE_SPEC)
    store.bulk_put("sample", sample_items())
    out = tmp_path_factory.mktemp("export") / "exp"
    write_export(store, "sample", out, items_per_file=100)
    return out


def _evaluate(export_dir: Path, out: Path, target_factory: str) -> tuple[int, dict[str, object]]:
    args = ["evaluate", "--source", f"dynamodb-export:{export_dir}", "--table", "sample"]
    args += ["--target-factory", target_factory, "--no-bench", "--quick", "--out", str(out)]
    code = main(args)
    return code, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_an_export_into_a_healthy_factory_store_is_safe_and_exits_0(export_dir: Path, tmp_path: Path) -> None:
    code, doc = _evaluate(export_dir, tmp_path / "r", factory_spec("unbroken"))
    verdict: dict = doc["verdict"]  # type: ignore[assignment]
    assert (code, verdict["status"]) == (0, "SAFE"), verdict
    assert doc["source"]["kind"] == "dynamodb-export"  # type: ignore[index]
    contract: dict = doc["contract"]  # type: ignore[assignment]
    # The suite ran against the factory's adapter itself, under its own name.
    assert contract["roles"] == {"source": None, "target": "broken-unbroken"}
    assert "--store-factory" in contract["run"]["args"]
    assert "no source adapter to test" in contract["note"]
    assert doc["tables"][0]["steps"]["bench"] == {"status": "skipped", "reason": "--no-bench", "by_user": True}  # type: ignore[index]


def test_an_export_into_a_broken_factory_store_is_not_safe_and_exits_1(export_dir: Path, tmp_path: Path) -> None:
    code, doc = _evaluate(export_dir, tmp_path / "r", factory_spec("index_empty"))
    verdict: dict = doc["verdict"]  # type: ignore[assignment]
    assert (code, verdict["status"]) == (1, "NOT SAFE")
    assert any(r["step"] == "verify" and "index by_grp reads back differently" in r["text"] for r in verdict["reasons"])
    assert any(r["step"] == "contract" and "broken-index-empty" in r["text"] for r in verdict["reasons"])


def test_a_factory_that_cannot_be_loaded_is_one_clear_line(
    export_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", "--source", f"dynamodb-export:{export_dir}", "--table", "sample"]
    code = main([*args, "--target-factory", "no_such_module:make", "--out", str(tmp_path)])
    assert code == 2
    assert "factory 'no_such_module:make' cannot be loaded" in capsys.readouterr().err
