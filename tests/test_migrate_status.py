"""``migrate-status``, ``migrate --follow --json`` and the follower's live display; ``storeswap cutover`` end to end."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from storeswap import ConfigurationError, KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.cli.progress import RichFollowProgress, lag_text
from storeswap.core.port import ItemStore
from storeswap.migrate import copy_table
from storeswap.migrate import status as status_module
from storeswap.migrate.follow import follow_changes, start_follow
from storeswap.migrate.status import STALE_AFTER_S, parse_status


def _spec(name: str) -> TableSpec:
    return TableSpec(name, KeyAttribute("pk", "S"), KeyAttribute("sk", "N"), stream="NEW_AND_OLD_IMAGES")


def _key(i: int) -> dict[str, Any]:
    return {"pk": f"p{i % 5}", "sk": Decimal(i)}


def _followed(source: ItemStore, target: ItemStore, table: str, state: Path) -> dict[str, Any]:
    source.create_table(_spec(table))
    source.bulk_put(table, [{**_key(i), "n": Decimal(i)} for i in range(40)])
    kw: dict[str, Any] = {"target_table": "copy", "segments": 3, "batch": 10, "state_path": state}
    start_follow(source, target, table, **kw)
    copy_table(source, target, table, **kw)
    for i in range(25):
        source.put(table, {**_key(i), "n": Decimal(100 + i)})
    return kw


def _status_written_at(state: Path) -> dt.datetime:
    """When the follower last wrote its status (the state's ``at``): the reads here pass a ``now`` relative to it,
    so whether a status is stale never depends on how long the machine took between the write and the read."""
    return dt.datetime.fromisoformat(json.loads(state.read_text())["follow"]["status"]["at"])


def test_status_of_a_follower_behind_then_caught_up(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    state = tmp_path / "s.json"
    kw = _followed(source, target, "orders", state)
    seen: list[dict[str, Any]] = []
    follow_changes(source, target, "orders", max_records=10, page_size=5, on_status=seen.append, **kw)
    written = _status_written_at(state)
    st = parse_status(state.read_text(), "here", now=written + dt.timedelta(seconds=1))
    assert (st.segments_total, st.segments_done, st.items_copied, st.complete) == (3, 3, 40, True)
    assert st.following and st.records_replayed == 10 and st.status is not None
    assert sum(st.status["lag_records"].values()) == 15 and not st.status["caught_up"] and not st.stale
    assert seen and seen[-1]["records"] == 10 and sum(seen[-1]["lag_records"].values()) == 15
    text = "\n".join(st.lines())
    assert "3 of 3 segments done, 40 items copied" in text and "10 records replayed" in text and "behind" in text
    later = written + dt.timedelta(seconds=STALE_AFTER_S + 30)
    old = parse_status(state.read_text(), "here", now=later)
    assert old.stale and "STALE" in "\n".join(old.lines()) and old.to_json()["follow"]["stale"]
    follow_changes(source, target, "orders", until_caught_up=True, on_status=seen.append, **kw)
    st = parse_status(state.read_text(), "here")
    assert st.records_replayed == 25 and st.status is not None and st.status["caught_up"]
    assert seen[-1]["caught_up"] and seen[-1]["records"] == 25
    js = st.to_json()
    assert js["copy"]["items_copied"] == 40 and js["follow"]["records_replayed"] == 25 and json.dumps(js)


def test_status_of_an_unfinished_copy_and_of_a_copy_without_follow(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    source.create_table(_spec("orders"))
    source.bulk_put("orders", [{**_key(i), "n": Decimal(i)} for i in range(10)])
    start_follow(source, target, "orders", state_path=tmp_path / "f.json", segments=2)
    st = parse_status((tmp_path / "f.json").read_text(), "f")
    assert (st.segments_done, st.segments_total, st.complete, st.following, st.status) == (0, 2, False, True, None)
    assert "no status yet" in "\n".join(st.lines())
    copy_table(source, MemoryStore(), "orders", state_path=tmp_path / "p.json")
    st = parse_status((tmp_path / "p.json").read_text(), "p")
    assert st.complete and not st.following and "not started with --follow" in "\n".join(st.lines())
    with pytest.raises(ConfigurationError, match="not a migration state"):
        parse_status('{"segments": 3}', "bad")
    with pytest.raises(ConfigurationError, match="not a migration state"):
        parse_status("[" * 100_000 + "]" * 100_000, "deep")  # nested beyond the parser's stack


def test_follow_progress_display_shows_lag() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with RichFollowProgress("orders -> copy", console=console) as bar:
        bar.advance(7)
        bar.status({"lag_records": {"shard-0": 3, "shard-1": 0}, "lag_seconds": 1.25, "caught_up": False})
    text = out.getvalue()
    assert "7 records replayed" in text and "lag 3 record(s) (shard-0: 3, shard-1: 0), 1.2s" in text
    assert lag_text({"lag_records": {"s": None}, "lag_seconds": None}) == "lag ? record(s) (s: ?), ?"


def test_cli_migrate_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = MemoryStore(), MemoryStore()
    state = tmp_path / "s.json"
    kw = _followed(source, target, "orders", state)
    follow_changes(source, target, "orders", until_caught_up=True, **kw)
    # The commands read the status one second after it was written, however long they take to run: the outputs
    # below (its age, stale or not) are the same on every run, and the same from one command to the next.
    read_at = _status_written_at(state) + dt.timedelta(seconds=1)
    monkeypatch.setattr(status_module, "parse_status", functools.partial(parse_status, now=read_at))
    assert main(["migrate-status", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert "40 items copied" in out and "25 records replayed" in out and "caught up" in out
    assert main(["migrate-status", "--state", str(state), "--json"]) == 0
    js = json.loads(capsys.readouterr().out)
    assert js["follow"]["records_replayed"] == 25 and js["follow"]["status"]["caught_up"]
    assert (js["follow"]["status_age_s"], js["follow"]["stale"]) == (1.0, False)
    # The same command as ``storeswap migrate status``; ``migrate`` itself keeps its options.
    assert main(["migrate", "status", "--state", str(state), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == js
    assert main(["migrate", "status", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err
    assert main(["migrate-status", "--state", str(tmp_path / "none.json")]) == 2
    assert "no migration state" in capsys.readouterr().err
    assert main(["migrate-status"]) == 2


@pytest.fixture
def pg_url() -> Any:
    from storeswap.backends.postgres import provision

    return str(provision())


def test_cli_postgres_follow_json_status_and_cutover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pg_url: str
) -> None:
    """postgres -> postgres through the CLI: --follow --json lines, migrate-status, cutover go / no-go / unknown."""
    from storeswap.adapters.postgres import PostgresStore

    source = PostgresStore(pg_url, pool_size=2)
    name = f"st_{uuid.uuid4().hex[:10]}"
    copy = f"{name}_copy"
    state = tmp_path / "s.json"
    args = ["--source", pg_url, "--target", pg_url, "--table", name, "--target-table", copy]
    try:
        source.create_table(_spec(name))
        source.bulk_put(name, [{**_key(i), "n": Decimal(i)} for i in range(30)])
        rc = main(["migrate", *args, "--state", str(state), "--follow", "--until-caught-up", "--json"])
        out, err = capsys.readouterr()
        assert rc == 0, err
        events = [json.loads(line) for line in out.splitlines()]  # stdout holds JSON lines only
        assert events[-1]["event"] == "done" and events[-1]["copy"]["items"] == 30
        assert events[-1]["follow"]["caught_up"] and "copied 30 items" in err
        assert any(e["event"] == "follow-status" and e["caught_up"] for e in events)
        assert main(["cutover", *args, "--state", str(state), "--quiet-s", "0.2", "--poll-s", "0.05"]) == 0
        assert "GO" in capsys.readouterr().out
        source.put(name, {**_key(3), "n": Decimal(-1)})
        rc = main(["cutover", *args, "--state", str(state), "--quiet-s", "0.2", "--poll-s", "0.05", "--json"])
        js = json.loads(capsys.readouterr().out)
        assert rc == 1 and js["outcome"] == "no-go" and js["in_flight"]["count"] == 1 and js["differences"] == []
        assert main(["migrate-status", "--state", str(state)]) == 0
        assert "0 records replayed" in capsys.readouterr().out
        # Resume the follower: it replays the late write; go again.
        assert main(["migrate", *args, "--state", str(state), "--follow", "--until-caught-up"]) == 0
        capsys.readouterr()
        assert main(["cutover", *args, "--state", str(state), "--quiet-s", "0.2", "--poll-s", "0.05"]) == 0
        capsys.readouterr()
        # Without a state at the default path: unknown (3), never go.
        assert main(["cutover", *args, "--quiet-s", "0"]) == 3
        assert "no state found" in capsys.readouterr().out
        assert main(["cutover", *args, "--state", str(state), "--state-in-target"]) == 2
    finally:
        for t in (name, copy):
            if source.table_exists(t):
                source.delete_table(t)
        source.close()


def test_postgres_source_status_to_memory(tmp_path: Path, pg_url: str) -> None:
    """PostgreSQL's change log as the source: lag per shard from its dense sequences, read back from the state."""
    from storeswap.adapters.postgres import PostgresStore

    source = PostgresStore(pg_url, pool_size=2)
    target = MemoryStore()
    name = f"st_{uuid.uuid4().hex[:10]}"
    state = tmp_path / "s.json"
    try:
        kw = _followed(source, target, name, state)
        follow_changes(source, target, name, max_records=10, page_size=5, **kw)
        st = parse_status(state.read_text(), "s")
        assert st.items_copied == 40 and st.records_replayed == 10 and st.status is not None
        assert sum(st.status["lag_records"].values()) == 15 and not st.status["caught_up"]
        follow_changes(source, target, name, until_caught_up=True, **kw)
        st = parse_status(state.read_text(), "s")
        assert st.records_replayed == 25 and st.status is not None and st.status["caught_up"]
    finally:
        if source.table_exists(name):
            source.delete_table(name)
        source.close()


def test_cli_status_of_distributed_checkpoints(capsys: pytest.CaptureFixture[str], pg_url: str) -> None:
    """--state-url lists the copies checkpointed in PostgreSQL (segments done, items), reading only."""
    from storeswap.migrate.shared_state import SharedCopyState

    copy_id = f"test-{uuid.uuid4().hex[:10]}"
    shared = SharedCopyState(pg_url, copy_id)
    try:
        shared.init(3)
        shared.advance(0, None, 40)
        shared.advance(1, "cursor", 15)
        assert main(["migrate", "status", "--state-url", pg_url, "--json"]) == 0
        mine = [c for c in json.loads(capsys.readouterr().out)["copies"] if c["copy_id"] == copy_id]
        assert [(c["segments_done"], c["segments_total"], c["items_copied"], c["complete"]) for c in mine] == [
            (1, 3, 55, False)
        ]
        assert main(["migrate-status", "--state-url", pg_url]) == 0
        assert f"copy {copy_id}: in progress; 1 of 3 segments done, 55 items copied" in capsys.readouterr().out
        assert main(["migrate-status", "--state-url", pg_url, "--state", "x.json"]) == 2
        assert main(["migrate-status", "--state-url", "mysql://h/db"]) == 2
    finally:
        shared.clear()
        shared.close()
