"""Smoke test: the gateway benchmark runs against moto and the gateway and reports every cell (no timing checks)."""

from __future__ import annotations

import json

import pytest

from storeswap.gateway import bench


@pytest.mark.slow
def test_the_benchmark_runs_and_reports() -> None:
    result = bench.run(calls=4, rounds=1, concurrency=(1, 2), postgres=None, ops=("GetItem", "Query10"))
    servers = {r["server"] for r in result["rows"]}
    assert servers == {"gateway-memory", "moto"}
    assert len(result["rows"]) == 2 * 2 * len(bench.CLIENTS) * 2  # servers x ops x clients x concurrency
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


@pytest.mark.slow
def test_the_raw_driver_column_runs_each_operation_as_durable_statements() -> None:
    """The ``psycopg-raw`` ceiling does the work each operation names, on the real database: a put writes its row,
    an update changes it (and writes once more each call), a batch writes 25 rows, the reads return rows."""
    import psycopg

    from storeswap.adapters.postgres.store import parse_url
    from storeswap.backends.postgres import provision

    url = provision()
    bench.prepare_raw_table(url)
    client = bench.PsycopgClient(url)
    try:
        assert len(client.call("GetItem", bench.request_body("GetItem", 0, 3))) == 1
        assert len(client.call("Query10", bench.request_body("Query10", 0, 0))) == 10
        client.call("PutItem", bench.request_body("PutItem", 1, 5))
        client.call("BatchWrite25", bench.request_body("BatchWrite25", 1, 5))
        seen = []
        with psycopg.connect(parse_url(url)[1], autocommit=True) as conn:
            for _ in range(3):
                assert client.call("UpdateItem", bench.request_body("UpdateItem", 2, 7)).rowcount == 1
                seen.append(conn.execute(f"SELECT item FROM {bench.RAW_TABLE} WHERE pk = 'u#2#7'").fetchone()[0])
            assert conn.execute(f"SELECT count(*) FROM {bench.RAW_TABLE} WHERE pk = 'p#1#5'").fetchone() == (1,)
            assert conn.execute(f"SELECT count(*) FROM {bench.RAW_TABLE} WHERE pk = 'b#1#5'").fetchone() == (25,)
        assert seen[0] != seen[1] and seen[0] == seen[2]  # each update wrote a changed item
    finally:
        client.close()
        bench.drop_raw_table(url)


def test_the_report_gives_the_raw_drivers_ceiling_where_it_ran() -> None:
    def row(server: str, client: str, rps: float) -> dict[str, object]:
        return {"server": server, "op": "PutItem", "client": client, "clients": 8, "p50_ms": 1.0, "p99_ms": 2.0,
                "rps": rps, "n": 10}

    result = {"rows": [row("gateway-postgres", "raw", 300.0), row("moto", "raw", 100.0),
                       row(bench.RAW_DRIVER, "raw", 1300.0), row("gateway-postgres", "wrk", 500.0),
                       row("moto", "wrk", 100.0)],
              "overhead": {}, "adapter_vs_boto3": {}, "load": (1.0, 1.0, 1.0), "cpus": 2, "calls": 10, "rounds": 1}
    lines = bench.render(result).splitlines()
    assert lines[2].endswith("| psycopg-raw / moto req/s (the driver's ceiling) |")
    assert lines[4].endswith("| 1.000 / 2.000 · 1300 | 3.0x | 13.0x |")
    assert lines[5].endswith("| - | 5.0x | - |")  # wrk runs against servers only


def test_the_report_flags_an_adapter_ratio_below_the_baseline_check() -> None:
    ratios = {"GetItem": {"adapter_p50_ms": 1.0, "boto3_p50_ms": 1.0, "ratio": 1.0},
              "BatchWrite25": {"adapter_p50_ms": 0.9, "boto3_p50_ms": 1.0, "ratio": 0.9}}
    result = {"rows": [], "overhead": {}, "adapter_vs_boto3": ratios, "load": (1.0, 1.0, 1.0), "cpus": 2, "calls": 10,
              "rounds": 1}
    text = bench.render(result)
    assert "| GetItem | 1.000 | 1.000 | 1.00 |" in text
    assert "| BatchWrite25 | 0.900 | 1.000 | 0.90 ⚠ check the baseline |" in text


# ------------------------------------------------------------------ the wrk client


def _wrk() -> str:
    found = bench.find_wrk()
    if found is None:
        pytest.fail("wrk is needed by the gateway bench's compiled client: `python3 dev.py test` installs it "
                    "(Debian/Ubuntu: `apt-get install -y wrk`), or set STORESWAP_WRK to its path", pytrace=False)
    return found


def _lua_args(args: str, n: int) -> tuple[int, ...]:
    """The values of a wrk_body_format argument list (``n``, ``n % 200``, ...) for request number ``n``."""
    out = []
    for arg in filter(None, (a.strip() for a in args.split(","))):
        name, _, mod = arg.partition(" % ")
        assert name == "n", arg
        out.append(n % int(mod) if mod else n)
    return tuple(out)


@pytest.mark.parametrize("op", bench.OPS)
def test_wrk_requests_have_the_raw_clients_shapes(op: str) -> None:
    fmt, args = bench.wrk_body_format(op, "t9")
    body = json.loads(fmt.replace("%%", "%") if not args else fmt % _lua_args(args, 7))
    raw = bench.request_body(op, 0, 7)
    # Same tables, same attribute names and types, same payload sizes: only the key strings differ.
    def shape(v: object) -> object:
        if isinstance(v, dict):
            return {k: shape(x) for k, x in v.items()}
        if isinstance(v, list):
            return [shape(x) for x in v]
        return len(v) > 50 if isinstance(v, str) else v
    assert shape(body) == shape(raw)
    if op in ("PutItem", "BatchWrite25", "UpdateItem"):
        assert "t9" in fmt  # the cell's tag keeps its keys apart from every other cell's
    assert len(json.dumps(body)) == pytest.approx(len(json.dumps(raw)), rel=0.01)


def test_wrk_output_is_parsed_and_a_run_without_figures_is_an_error() -> None:
    quantiles = ",".join(str(100 + k) for k in range(bench.WRK_QUANTILES))
    out = ("Running 1s test @ http://127.0.0.1:1/\n"
           "STORESWAP requests=1234 duration_us=1000500 status_errors=2 socket_errors=1\n"
           f"STORESWAP quantiles_us={quantiles}\n")
    got = bench.parse_wrk(out)
    assert (got["requests"], got["seconds"], got["status_errors"], got["socket_errors"]) == (1234, 1.0005, 2, 1)
    assert got["quantiles_ms"][0] == 0.1 and len(got["quantiles_ms"]) == bench.WRK_QUANTILES
    with pytest.raises(RuntimeError, match="wrk printed no figures"):
        bench.parse_wrk("PANIC: unprotected error in call to Lua API\n")


def test_rounds_pool_by_their_requests() -> None:
    fast = {"requests": 9000, "quantiles_ms": [1.0] * 10}
    slow = {"requests": 1000, "quantiles_ms": [5.0] * 10}
    assert bench._pool([fast, slow], 0.5) == 1.0  # 90 % of the requests took 1 ms
    assert bench._pool([fast, slow], 0.95) == 5.0
    assert bench._pool([slow], 0.5) == 5.0


@pytest.mark.slow
def test_a_wrk_cell_sends_every_request_as_counted(tmp_path: object) -> None:
    """Every PutItem wrk counts is an item in the table afterwards (plus those still in flight at the end): the
    script's requests are well formed and the figures are the server's answers; an error response raises."""
    wrk = _wrk()
    port, proc = bench.start_gateway("memory")
    try:
        bench._prepare(port)
        figures = bench._wrk_cell(wrk, port, "PutItem", 2, 1, "check")
        assert figures["requests"] > 0 and figures["seconds"] > 0.5
        client = bench._boto_client(port)
        pages = client.get_paginator("scan").paginate(TableName=bench.WRITE_TABLE, Select="COUNT")
        stored = sum(p["Count"] for p in pages)
        # wrk counts the answers that came back within the run; up to one request per connection was in flight.
        assert figures["requests"] <= stored <= figures["requests"] + 2
        client.delete_table(TableName=bench.TABLE)
        with pytest.raises(RuntimeError, match="error responses"):  # every GetItem: ResourceNotFoundException
            bench._wrk_cell(wrk, port, "GetItem", 1, 1, "x")
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.slow
def test_the_benchmark_runs_the_wrk_client_beside_the_others() -> None:
    _wrk()
    result = bench.run(calls=4, rounds=2, concurrency=(1, 2), postgres=None, ops=("GetItem",), wrk_seconds=1)
    assert result["not_run"] == []
    wrk_rows = [r for r in result["rows"] if r["client"] == "wrk"]
    assert {(r["server"], r["clients"]) for r in wrk_rows} == {(s, c) for s in ("gateway-memory", "moto") for c in (1, 2)}
    assert all(r["n"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"] and r["rps"] > 0 for r in wrk_rows)
    assert "| GetItem | wrk | 2 |" in bench.render(result)


def test_without_wrk_the_report_says_it_did_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "find_wrk", lambda: None)
    monkeypatch.setattr(bench, "start_gateway", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("stop here")))
    with pytest.raises(RuntimeError, match="stop here"):
        bench.run(clients=("wrk",))
    with pytest.raises(ValueError, match="unknown clients"):
        bench.run(clients=("curl",))
    result = {"rows": [], "overhead": {}, "adapter_vs_boto3": {}, "load": (1.0, 1.0, 1.0), "cpus": 2, "calls": 1,
              "rounds": 1, "not_run": ["wrk client: no wrk binary"]}
    assert "Not run: wrk client: no wrk binary." in bench.render(result)


def test_the_report_says_how_much_cpu_the_host_stole() -> None:
    from storeswap.benchmarks.environment import cpu_times, stolen_share

    # user nice system idle iowait irq softirq steal: 100 ticks of which 40 stolen.
    assert stolen_share((0,) * 10, (30, 0, 10, 20, 0, 0, 0, 40, 0, 0)) == 0.4
    assert stolen_share(None, (1,) * 10) is None and stolen_share((1,) * 10, (1,) * 10) is None
    now = cpu_times()
    assert now is None or (len(now) >= 8 and all(x >= 0 for x in now))
    base = {"rows": [], "overhead": {}, "adapter_vs_boto3": {}, "load": (1.0, 1.0, 1.0), "cpus": 2, "calls": 10,
            "rounds": 1}
    assert "(40% of the CPU time stolen by the host during the run)" in bench.render({**base, "stolen": 0.4})
    assert "stolen" not in bench.render(base)
