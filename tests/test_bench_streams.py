"""The streams/TTL benchmark runs end to end (sizes shrunk; no timing is checked, ADR 0005)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_the_streams_benchmark_runs_on_postgres() -> None:
    from storeswap.backends.postgres import provision
    from storeswap.benchmarks.streams import run

    result = run(provision(), quick=True)
    assert set(result["changelog_cost"]) == {"put", "update"}
    for figures in result["changelog_cost"].values():
        assert figures["p50_ratio"] > 0 and figures["p99_ratio"] > 0 and figures["ops"] == 200
    assert result["consumer"]["records"] == 2000
    assert [s["expired"] for s in result["sweeper"]] == [500, 500]
    assert [s["table_items"] for s in result["sweeper"]] == [1000, 5000]
