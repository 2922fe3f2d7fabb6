"""The benchmark's smoke configuration end to end: the three report files and their structure (no timing)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from storeswap.cli.bench import register

SMOKE = ["--store", "memory", "--workload", "A", "--records", "200", "--ops", "400", "--concurrency", "1,2"]
STAT_KEYS = {"count", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us", "throughput_ops_s"}


def run_smoke(out: Path, *extra: str) -> None:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """A one-command app needs a callback to keep the sub-command name."""

    result = CliRunner().invoke(app, ["bench", *SMOKE, *extra, "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert "report.html" in result.output


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "out"
    run_smoke(out, "--rate", "2000")
    return out


def _numbers(obj: Any) -> list[float]:
    if isinstance(obj, bool):
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)]
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in _numbers(v)]
    if isinstance(obj, list):
        return [n for v in obj for n in _numbers(v)]
    return []


def _check_stats(stats: dict[str, Any]) -> None:
    assert set(stats) >= STAT_KEYS, stats
    assert stats["count"] > 0
    assert 0 < stats["p50_us"] <= stats["p90_us"] <= stats["p99_us"] <= stats["p999_us"]
    assert stats["max_us"] > 0 and stats["mean_us"] > 0 and stats["throughput_ops_s"] > 0


def test_three_files_and_charts_exist(smoke: Path) -> None:
    for name in ("results.json", "report.md", "report.html"):
        assert (smoke / name).is_file() and (smoke / name).stat().st_size > 0
    assert {p.name for p in (smoke / "charts").glob("*.png")} >= {
        "percentiles.png",
        "latency_throughput.png",
        "latency_size.png",
        "overhead.png",
    }


def test_results_json_structure_and_finite_numbers(smoke: Path) -> None:
    doc = json.loads((smoke / "results.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "storeswap-bench/1"
    assert doc["config"]["concurrency"] == [1, 2]
    assert doc["config"]["records"] == 200 and doc["config"]["ops"] == 400
    assert all(math.isfinite(n) for n in _numbers(doc))
    env = doc["environment"]
    assert env["python"]["version"] and env["cpu"]["count"] and env["os"]["platform"]
    assert {"psycopg", "sqlalchemy", "boto3", "moto"} <= set(env["packages"])

    (store,) = doc["stores"]
    assert store["name"] == "memory"
    assert store["store"]["implementation"] == "memory" and store["store"]["emulator"] is False
    assert store["raw_driver"] is None and "no raw driver" in store["raw_unavailable"]
    modes = [(r["mode"], r.get("concurrency")) for r in store["runs"]]
    assert modes == [("closed", 1), ("closed", 2), ("open", None)]
    for run in store["runs"]:
        assert run["throughput_ops_s"] > 0 and run["wall_s"] > 0
        assert set(run["ops"]) == {"read", "update"}
        for entry in run["ops"].values():
            _check_stats(entry["adapter"])
            assert entry["raw"] is None and entry["ratio"] is None
            assert entry["raw_note"].startswith("raw: n/a")
    open_run = store["runs"][2]
    assert open_run["rate"] == 2000 and "start_lag" in open_run
    assert [s["size"] for s in store["sizes"]] == [200, 2000]
    for size in store["sizes"]:
        for entry in size["ops"].values():
            _check_stats(entry["adapter"])

    overhead = doc["harness_overhead"]
    for entry in overhead["ops"].values():
        _check_stats(entry["adapter"])
        _check_stats(entry["raw"])
        ratio = entry["ratio"]
        assert {"p50", "p90", "p99", "p999", "mean", "paired_median", "pairs"} <= set(ratio)
        assert ratio["pairs"] > 0 and ratio["paired_median"] > 0


def test_report_md_has_the_tables(smoke: Path) -> None:
    md = (smoke / "report.md").read_text(encoding="utf-8")
    for heading in (
        "## Stores",
        "## memory",
        "### Closed loop, 1 thread(s)",
        "### Closed loop, 2 thread(s)",
        "### Open loop at 2000 calls/s",
        "### Latency against table size",
        "## Harness overhead",
        "## Environment",
    ):
        assert heading in md, heading
    assert "| operation | side | count | p50 µs |" in md
    assert re.search(r"^\| read \| adapter \| \d", md, re.M)
    assert re.search(r"^\| update \| raw: n/a", md, re.M)
    assert re.search(r"^\| read \| raw \| \d", md, re.M)  # the harness-overhead table has both sides
    assert "Emulator" not in md  # memory is not an emulator


def test_report_html_contains_the_charts_inline(smoke: Path) -> None:
    page = (smoke / "report.html").read_text(encoding="utf-8")
    charts = re.findall(r'<img class="chart" id="chart-([a-z_]+)"[^>]*src="data:image/png;base64,', page)
    assert set(charts) == {"percentiles", "latency_throughput", "latency_size", "overhead"}
    assert "<table>" in page and "chartsRendered" in page
    # Opens offline: nothing fetched from anywhere.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<link" not in page


def test_emulator_banner_in_both_reports(tmp_path: Path) -> None:
    from storeswap.benchmarks.report import write_report
    from storeswap.benchmarks.runner import BenchConfig, run_bench

    result = run_bench(BenchConfig(stores=["memory"], records=50, ops=50, concurrency=[1], sizes=[50], overhead=False))
    result["stores"][0]["store"].update(implementation="moto", emulator=True)
    paths = write_report(result, tmp_path)
    for key in ("markdown", "html"):
        text = paths[key].read_text(encoding="utf-8")
        assert "Emulator" in text and "say nothing about the real DynamoDB service" in text


def test_bench_is_registered_on_the_storeswap_cli(capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.cli import main

    assert main(["bench", "--help"]) == 0
    assert "--workload" in capsys.readouterr().out


def test_bad_options_are_one_clear_error(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Keep the sub-command name."""

    result = CliRunner().invoke(app, ["bench", "--store", "memory", "--workload", "Z", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "unknown workload" in result.output
    result = CliRunner().invoke(app, ["bench", "--store", "memory", "--concurrency", "1,x", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "comma-separated integers" in result.output


def test_ratios_below_095_are_flagged_check_the_baseline(tmp_path: Path) -> None:
    """An adapter "faster" than its raw twin means the twin does other work: both reports and the CLI say so."""
    from storeswap.benchmarks.report import BASELINE_FLAG, baseline_flags, write_report
    from storeswap.benchmarks.runner import BenchConfig, run_bench

    result = run_bench(BenchConfig(stores=["memory"], records=50, ops=50, concurrency=[1], sizes=[50], overhead=False))
    store = result["stores"][0]
    ops = store["runs"][0]["ops"]
    flagged, fine = list(ops)[:2]
    ops[flagged]["ratio"] = {"p50": 0.7, "p99": 0.8, "paired_median": 0.74}
    ops[fine]["ratio"] = {"p50": 1.2, "p99": 1.1, "paired_median": 0.95}  # the threshold itself is not flagged
    for entry in store["sizes"][0]["ops"].values():
        entry["ratio"] = {"paired_median": 1.5}
    lines = baseline_flags(result)
    assert len(lines) == 1 and flagged in lines[0] and "0.74x" in lines[0] and BASELINE_FLAG in lines[0]
    paths = write_report(result, tmp_path)
    for key in ("markdown", "html"):
        text = paths[key].read_text(encoding="utf-8")
        assert "Baselines to check" in text and f"0.74x ⚠ {BASELINE_FLAG}" in text
        assert "0.95x ⚠" not in text
    store["runs"][0]["ops"][flagged]["ratio"]["paired_median"] = 1.0
    assert baseline_flags(result) == []
    assert "Baselines to check" not in write_report(result, tmp_path / "ok")["markdown"].read_text(encoding="utf-8")
