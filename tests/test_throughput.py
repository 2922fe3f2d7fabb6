"""``python -m storeswap.migrate.throughput``'s copy measurement: both baselines, the same rows, nothing left behind."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

pytestmark = pytest.mark.slow


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_the_copy_is_measured_beside_a_single_and_a_parallel_raw_copy(monkeypatch: Any) -> None:
    from storeswap.backends.postgres import provision
    from storeswap.migrate import throughput

    url = provision()
    loaded: list[int] = []
    real = throughput._raw_copy_parallel

    def counting(conninfo: str, parts: list[list[list[Any]]]) -> float:
        loaded.append(sum(map(len, parts)))
        assert len(parts) in (1, 2)
        assert all(p == sorted(p, key=lambda r: r[:3]) for p in parts)  # each part in key order, as a COPY sends it
        return real(conninfo, parts)

    monkeypatch.setattr(throughput, "_raw_copy_parallel", counting)
    before = _tables(url)
    report = throughput.measure_copy(url, 3000, 2, 1000, repeat=2)
    assert loaded == [3000] * 4  # each round: the single COPY and the parallel one, of every row
    assert len(report["runs"]) == 2
    for run in report["runs"]:
        assert run["ratio"] == round(run["copy_table_items_per_s"] / run["raw_copy_items_per_s"], 3)
        assert run["ratio_parallel"] == round(run["copy_table_items_per_s"] / run["raw_parallel_items_per_s"], 3)
    assert report["segments"] == 2 and report["batch"] == 1000
    from storeswap.adapters.postgres.layout import METADATA

    # the copies' and the raw tables are dropped; the store's own schema, made on a fresh server by the first
    # store opened, stays
    assert _tables(url) - before - set(METADATA.tables) == set()


def test_the_default_segments_follow_the_cores(monkeypatch: Any) -> None:
    from storeswap.migrate import throughput

    for cores, want in ((1, 1), (2, 2), (8, 4), (None, 1)):
        monkeypatch.setattr(throughput.os, "cpu_count", lambda c=cores: c)
        assert throughput.copy_segments() == want
