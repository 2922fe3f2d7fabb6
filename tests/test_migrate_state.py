"""A copy's checkpoint is bound to what it copies (issue 10, item 1): a foreign state is refused, never resumed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storeswap import ConfigurationError, KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.migrate import copy_table, verify_tables, write_export
from storeswap.migrate.state import STATE_TABLE

SPEC = TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk", "N"))


def _filled(n: int = 200) -> MemoryStore:
    store = MemoryStore()
    store.create_table(SPEC)
    store.bulk_put("orders", ({"pk": f"c{i % 7}", "sk": i, "v": f"value {i}"} for i in range(n)))
    return store


def test_one_state_path_and_two_targets_is_refused(tmp_path: Path) -> None:
    """The issue's case: a second target with the first target's state would have copied nothing."""
    source, first, second = _filled(), MemoryStore(), MemoryStore()
    state = tmp_path / "s.json"
    assert copy_table(source, first, "orders", state_path=state).items_this_run == 200
    with pytest.raises(ConfigurationError, match=r"records 200 items copied, but table orders on the target does not"):
        copy_table(source, second, "orders", state_path=state)
    assert not second.table_exists("orders")  # refused before anything was created
    report = copy_table(source, second, "orders", state_path=state, restart=True)
    assert report.items_this_run == 200 and not report.resumed
    assert verify_tables(source, second, "orders").identical


def test_a_complete_state_over_an_emptied_target_is_refused(tmp_path: Path) -> None:
    source, target = _filled(), MemoryStore()
    state = tmp_path / "s.json"
    copy_table(source, target, "orders", state_path=state)
    target.delete_table("orders")
    target.create_table(SPEC)
    with pytest.raises(ConfigurationError, match="is empty; rerun with --restart"):
        copy_table(source, target, "orders", state_path=state)


def test_another_source_spec_or_batch_is_refused(tmp_path: Path) -> None:
    source, target = _filled(), MemoryStore()
    state = tmp_path / "s.json"
    copy_table(source, target, "orders", state_path=state, batch=50)
    with pytest.raises(ConfigurationError, match="--batch 50, now 60"):
        copy_table(source, target, "orders", state_path=state, batch=60)
    other = MemoryStore()
    other.create_table(TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk", "N"), ttl_attribute="exp"))
    other.put("orders", {"pk": "a", "sk": 1})
    with pytest.raises(ConfigurationError, match="source table spec was"):
        copy_table(other, target, "orders", state_path=state, batch=50)
    data = json.loads(state.read_text())
    assert data["source"]["kind"] == "memory" and data["target"]["table"] == "orders"
    assert data["total_segments"] == 4 and data["batch"] == 50 and data["complete"] is True


def test_state_in_the_target_resumes_from_another_process_view(tmp_path: Path) -> None:
    source, target = _filled(), MemoryStore()
    first = copy_table(source, target, "orders", state_in_target=True, batch=30)
    assert first.items_this_run == 200 and first.state_where and STATE_TABLE in first.state_where
    assert STATE_TABLE in target.list_tables()
    again = copy_table(source, target, "orders", state_in_target=True, batch=30)
    assert again.resumed and again.items_this_run == 0 and again.items == 200
    with pytest.raises(ConfigurationError, match="--segments 4, now 2"):
        copy_table(source, target, "orders", state_in_target=True, batch=30, segments=2)
    with pytest.raises(ConfigurationError, match="not both"):
        copy_table(source, target, "orders", state_in_target=True, state_path=tmp_path / "x.json")


def test_cli_resume_of_an_export_into_a_fresh_memory_target_never_says_copied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's CLI case: the same command twice in one folder printed 'copied 330 items' into an empty target."""
    from storeswap.cli import main

    write_export(_filled(), "orders", tmp_path / "exp", items_per_file=50)
    args = ["migrate", "--source", f"dynamodb-export:{tmp_path / 'exp'}", "--target", "memory://", "--table", "orders"]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(args) == 0
        assert "copied 200 items" in capsys.readouterr().out
        assert main(args) == 2
        captured = capsys.readouterr()
        assert "copied" not in captured.out
        assert "records 200 items copied, but table orders on the target does not exist" in captured.err
        assert main([*args, "--restart"]) == 0
        assert "copied 200 items of orders (dynamodb-export) to orders on memory:// (200 this run" in (
            capsys.readouterr().out
        )
    finally:
        os.chdir(cwd)


def test_state_in_a_postgres_target_is_found_by_a_new_connection() -> None:
    """The checkpoint lives in the target, so another process (here: another connection) resumes from it."""
    from storeswap.backends.postgres import provision
    from storeswap.connect import open_store

    url = provision()
    source = _filled(120)
    name = f"state_{os.getpid()}"
    first = open_store(url)
    try:
        for t in (name, STATE_TABLE):
            if first.table_exists(t):
                first.delete_table(t)
        assert copy_table(source, first, "orders", target_table=name, state_in_target=True).items_this_run == 120
    finally:
        first.close()
    second = open_store(url)
    try:
        again = copy_table(source, second, "orders", target_table=name, state_in_target=True)
        assert again.resumed and again.items_this_run == 0 and again.items == 120
        with pytest.raises(ConfigurationError, match="--batch 500, now 7"):
            copy_table(source, second, "orders", target_table=name, state_in_target=True, batch=7)
        assert verify_tables(source, second, "orders", name).identical
    finally:
        second.delete_table(name)
        second.delete_table(STATE_TABLE)
        second.close()


@pytest.mark.parametrize(
    "content", [b"\xff\xfe not text", b"{not json", b"[1, 2]", b'{"version": "x"}', b"[" * 100_000 + b"]" * 100_000],
    ids=lambda c: repr(c[:20]),
)
def test_a_state_file_that_is_not_a_state_is_refused_and_nothing_copied(tmp_path: Path, content: bytes) -> None:
    source, target = _filled(), MemoryStore()
    state = tmp_path / "s.json"
    state.write_bytes(content)
    with pytest.raises(ConfigurationError):
        copy_table(source, target, "orders", state_path=state)
    assert not target.table_exists("orders")
