"""Smoke test: the gateway benchmark runs against moto and the gateway and reports every cell (no timing checks)."""

from __future__ import annotations

import pytest

from storeswap.gateway import bench


@pytest.mark.slow
def test_the_benchmark_runs_and_reports() -> None:
    result = bench.run(calls=4, rounds=1, concurrency=(1, 2), postgres=None, ops=("GetItem", "Query10"))
    servers = {r["server"] for r in result["rows"]}
    assert servers == {"gateway-memory", "moto"}
    assert len(result["rows"]) == 2 * 2 * 2 * 2  # servers x ops x clients x concurrency
    assert all(r["n"] > 0 and r["p50_ms"] > 0 and r["rps"] > 0 for r in result["rows"])
    assert set(result["adapter_vs_boto3"]) == set(bench.OPS)
    text = bench.render(result)
    assert "| GetItem | raw | 1 |" in text and "adapter p50 ms" in text and "overhead µs" in text
