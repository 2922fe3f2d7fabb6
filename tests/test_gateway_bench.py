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


def test_nosync_url_adds_the_commit_option_and_keeps_the_others() -> None:
    from urllib.parse import parse_qs, urlsplit

    plain = urlsplit(bench.nosync_url("postgresql://u@h:5432/db"))
    assert (plain.netloc, plain.path) == ("u@h:5432", "/db")
    assert parse_qs(plain.query) == {"options": [bench.NOSYNC_OPTION]}
    both = parse_qs(urlsplit(bench.nosync_url("postgresql://u@h/db?sslmode=disable&options=-c%20work_mem%3D4MB")).query)
    assert both == {"sslmode": ["disable"], "options": [f"-c work_mem=4MB {bench.NOSYNC_OPTION}"]}


@pytest.mark.slow
def test_the_nosync_store_commits_without_the_flush_and_the_default_waits_for_it() -> None:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    url = provision()
    for u, expected in ((url, "on"), (bench.nosync_url(url), "off")):
        with PostgresStore(u, pool_size=1) as store, store.datastore.read(None) as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == (expected,)


def test_the_report_gives_the_durable_and_the_nosync_ratio_apart() -> None:
    def row(server: str, rps: float) -> dict[str, object]:
        return {"server": server, "op": "PutItem", "client": "raw", "clients": 8, "p50_ms": 1.0, "p99_ms": 2.0,
                "rps": rps, "n": 10}

    result = {"rows": [row("gateway-postgres", 300.0), row("gateway-postgres-2w", 400.0),
                       row("gateway-postgres-nosync-2w", 1200.0), row("moto", 100.0)],
              "overhead": {}, "adapter_vs_boto3": {}, "load": (1.0, 1.0, 1.0), "cpus": 2, "calls": 10, "rounds": 1}
    text = bench.render(result)
    assert "| best durable gateway-postgres / moto req/s | nosync / moto req/s |" in text
    assert text.splitlines()[4].endswith("| 4.0x | 12.0x |")
