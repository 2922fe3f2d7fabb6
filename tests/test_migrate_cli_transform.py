"""``--transform`` through the CLI: ``check``, ``migrate`` and ``verify`` (issue 17 item 3's done-when)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import attrs
import key_redesign_transforms as T
import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.connect import open_store, register_scheme
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.repository import Model, Repository, single_table_spec

SPEC = TableSpec("users", KeyAttribute("pk"), KeyAttribute("sk"))
TRANSFORMS = "key_redesign_transforms"

#: Named in-process memory stores, so that several CLI invocations see the same data (``clitest://NAME``).
STORES: dict[str, MemoryStore] = {}
register_scheme("clitest", lambda url: STORES.setdefault(url.split("://", 1)[1], MemoryStore()))


@attrs.frozen
class Event:
    tenant_id: str
    seq: int
    payload: str = ""


@pytest.fixture(autouse=True)
def _fresh_stores():
    STORES.clear()
    yield
    STORES.clear()


def _users(n: int = 10_000) -> MemoryStore:
    store = STORES.setdefault("src", MemoryStore())
    store.create_table(SPEC)
    store.bulk_put("users", ({"pk": f"USER#{i}", "sk": "PROFILE", "tenant": f"t{i % 7}", "n": i} for i in range(n)))
    return store


def test_rekey_10000_items_memory_to_memory_then_verify_transform(tmp_path: Path, capsys) -> None:
    _users()
    args = ["--source", "clitest://src", "--table", "users"]
    assert main(["check", *args, "--transform", f"{TRANSFORMS}:rekey_users"]) == 0
    assert "transform check users: SAFE; 10000 source items -> 10000 target items" in capsys.readouterr().out
    state = tmp_path / "state.json"
    migrate = ["migrate", *args, "--target", "clitest://dst", "--state", str(state), "--segments", "2"]
    assert main([*migrate, "--transform", f"{TRANSFORMS}:rekey_users"]) == 0
    dst = STORES["dst"]
    assert dst.get("users", {"pk": "TENANT#t3#USER#10", "sk": "PROFILE"})["n"] == 10
    assert dst.get("users", {"pk": "USER#10", "sk": "PROFILE"}) is None
    assert len(list(dst.scan_all("users"))) == 10_000
    assert json.loads(state.read_text())["transform"].startswith(f"{TRANSFORMS}:rekey_users@")

    verify = ["verify", *args, "--target", "clitest://dst"]
    assert main([*verify, "--transform", f"{TRANSFORMS}:rekey_users"]) == 0
    assert "IDENTICAL" in capsys.readouterr().out
    assert main(verify) == 1  # not vacuous: the untransformed source differs
    dst.put("users", {"pk": "TENANT#t3#USER#10", "sk": "PROFILE", "tenant": "t3", "n": 11})
    assert main([*verify, "--transform", f"{TRANSFORMS}:rekey_users"]) == 1

    # The checkpoint is bound to the transform: a resume with another one is refused.
    assert main([*migrate, "--transform", f"{TRANSFORMS}:shard_hot_partition"]) != 0
    assert "--transform" in capsys.readouterr().err


def test_shard_a_hot_key_across_10_partitions(tmp_path: Path) -> None:
    source = STORES.setdefault("src", MemoryStore())
    source.create_table(single_table_spec("app", global_indexes=0))
    before = Repository(source, "app", [Model(Event, pk="EVENTS#{tenant_id}", sk="EVENT#{seq:08d}")])
    for seq in range(1_000):
        before.put(Event("hot", seq, f"p{seq}"))
    for seq in range(20):
        before.put(Event("cold", seq))
    args = ["--source", "clitest://src", "--target", "clitest://dst", "--table", "app"]
    fn = ["--transform", f"{T.__file__}:shard_hot_partition"]
    assert main(["migrate", *args, "--state", str(tmp_path / "s.json"), "--verify", *fn]) == 0
    partitions = {i["pk"] for i in STORES["dst"].scan_all("app")}
    assert partitions == {"EVENTS#cold"} | {f"EVENTS#hot#{n}" for n in range(10)}
    assert main(["verify", *args, *fn]) == 0
    after = Repository(STORES["dst"], "app", [Model(Event, pk="EVENTS#{tenant_id}#{_shard}", sk="EVENT#{seq:08d}",
                                                    shards=T.HOT_SHARDS)])
    assert sorted(e.seq for e in after.query_all(Event, tenant_id="hot")) == list(range(1_000))


@pytest.mark.parametrize("bad", ["truncate_ids", "oversized_key"])
def test_a_colliding_or_overflowing_transform_is_refused_before_any_write(tmp_path: Path, capsys, bad: str) -> None:
    _users(500)
    target = STORES.setdefault("dst", MemoryStore())
    args = ["--source", "clitest://src", "--table", "users", "--transform", f"{TRANSFORMS}:{bad}"]
    kind = "collision" if bad == "truncate_ids" else "key_too_large"
    assert main(["check", *args, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["transform"]["verdict"] == "unsafe" and report["transform"]["counts"][kind] > 0
    state = tmp_path / "state.json"
    assert main(["migrate", *args, "--target", "clitest://dst", "--state", str(state), "--force"]) == 1
    out = capsys.readouterr()
    assert f"{kind}:" in out.out and "nothing was written" in out.err
    assert target.list_tables() == [] and not state.exists()


def test_a_rejecting_transform_is_reported(capsys) -> None:
    store = _users(50)
    store.put("users", {"pk": "USER#x", "sk": "PROFILE"})  # no tenant: rekey_users rejects it
    assert main(["check", "--source", "clitest://src", "--table", "users",
                 "--transform", f"{TRANSFORMS}:rekey_users"]) == 1
    assert "rejected: 1 item(s)" in capsys.readouterr().out


def test_an_unloadable_transform_is_one_clear_error(capsys) -> None:
    _users(5)
    assert main(["check", "--source", "clitest://src", "--table", "users", "--transform", "nowhere:fn"]) != 0
    assert "cannot be loaded" in capsys.readouterr().err


def test_rekey_memory_to_postgres(tmp_path: Path) -> None:
    from storeswap.backends.postgres import provision

    _users(1_000)
    url = provision()
    pg = open_store(url)
    table = f"cli_transform_{uuid.uuid4().hex[:8]}"
    try:
        if pg.table_exists(table):
            pg.delete_table(table)
        args = ["--source", "clitest://src", "--table", "users", "--target", url, "--target-table", table,
                "--transform", f"{TRANSFORMS}:rekey_users"]
        assert main(["migrate", *args, "--state", str(tmp_path / "s.json")]) == 0
        assert pg.get(table, {"pk": "TENANT#t3#USER#10", "sk": "PROFILE"})["n"] == 10
        assert main(["verify", *args]) == 0
    finally:
        if pg.table_exists(table):
            pg.delete_table(table)
        pg.close()
