"""Key redesigns (storeswap.migrate.transform): pre-flight check, apply, verify, shards read by the repository."""

from __future__ import annotations

from decimal import Decimal

import attrs
import key_redesign_transforms as T
import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import ConfigurationError
from storeswap.core.port import BatchPut
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.migrate import verify_tables, write_export
from storeswap.migrate.export_source import ExportSource
from storeswap.migrate.transform import (
    TransformedSource,
    TransformError,
    apply_transform,
    check_transform,
    copy_transformed,
    load_transform,
    transformed_items,
)
from storeswap.repository import Model, Repository, shard_of, single_table_spec

SPEC = TableSpec("users", KeyAttribute("pk"), KeyAttribute("sk"))


@pytest.fixture
def users():
    store = MemoryStore()
    store.create_table(SPEC)
    store.bulk_put("users", ({"pk": f"USER#{i}", "sk": "PROFILE", "tenant": f"t{i % 7}", "n": i,
                               "name": f"user {i}"} for i in range(10_000)))
    return store


def test_load_transform_by_module_and_by_file():
    assert load_transform("key_redesign_transforms:rekey_users") is T.rekey_users
    by_file = load_transform(f"{T.__file__}:shard_hot_partition")
    assert by_file({"pk": "EVENTS#hot", "sk": "EVENT#1"})["pk"].startswith("EVENTS#hot#")
    for bad in ("no_colon", "key_redesign_transforms:missing", "nowhere.module:fn", "tests/none.py:fn",
                "key_redesign_transforms:HOT_SHARDS"):
        with pytest.raises(ConfigurationError):
            load_transform(bad)


def test_rekeying_a_10000_item_table_checks_applies_and_verifies(users):
    report = check_transform(users, "users", T.rekey_users)
    assert report.ok and report.verdict == "safe"
    assert (report.source_items, report.target_items, report.max_fan_out) == (10_000, 10_000, 1)
    target = MemoryStore()
    target.create_table(SPEC)
    chunk: list[BatchPut] = []
    for item in transformed_items(users, "users", T.rekey_users):
        chunk.append(BatchPut("users", item))
        if len(chunk) == 25:
            target.batch_write(chunk)
            chunk = []
    if chunk:
        target.batch_write(chunk)
    assert target.get("users", {"pk": "TENANT#t3#USER#10", "sk": "PROFILE"})["n"] == Decimal(10)
    assert target.get("users", {"pk": "USER#10", "sk": "PROFILE"}) is None
    result = verify_tables(TransformedSource(users, T.rekey_users), target, "users")
    assert result.identical and result.source_items == result.target_items == 10_000
    # Verify is not vacuous: the untransformed source differs, and so does a changed target.
    assert not verify_tables(users, target, "users").identical
    target.put("users", {"pk": "TENANT#t3#USER#10", "sk": "PROFILE", "tenant": "t3", "n": 11, "name": "user 10"})
    changed = verify_tables(TransformedSource(users, T.rekey_users), target, "users")
    assert not changed.identical and changed.changed == 1


@attrs.frozen
class Event:
    tenant_id: str
    seq: int
    payload: str = ""


def test_a_hot_partition_sharded_over_10_partitions_is_read_back_by_the_repository():
    source = MemoryStore()
    source.create_table(single_table_spec("app", global_indexes=0))
    before = Repository(source, "app", [Model(Event, pk="EVENTS#{tenant_id}", sk="EVENT#{seq:08d}")])
    for seq in range(2_000):
        before.put(Event("hot", seq, f"p{seq}"))
    for seq in range(50):
        before.put(Event("cold", seq))
    assert len({i["pk"] for i in source.scan_all("app")}) == 2

    target = MemoryStore()
    report = copy_transformed(source, target, "app", T.shard_hot_partition)
    assert report.ok and report.target_items == 2_050
    partitions = {i["pk"] for i in target.scan_all("app")}
    assert partitions == {"EVENTS#cold"} | {f"EVENTS#hot#{n}" for n in range(10)}
    assert verify_tables(TransformedSource(source, T.shard_hot_partition), target, "app").identical

    after = Repository(target, "app", [Model(Event, pk="EVENTS#{tenant_id}#{_shard}", sk="EVENT#{seq:08d}",
                                             shards=T.HOT_SHARDS)])
    events = list(after.query_all(Event, tenant_id="hot"))
    assert sorted(e.seq for e in events) == list(range(2_000))
    assert after.get(Event, tenant_id="hot", seq=1234) == Event("hot", 1234, "p1234")
    # New writes land in the shard the transform chose for the same key.
    written = after.put(Event("hot", 5_000))
    shard = shard_of("EVENT#00005000", T.HOT_SHARDS)
    assert target.get("app", {"pk": f"EVENTS#hot#{shard}", "sk": "EVENT#00005000"})["seq"] == written.seq


def test_a_collision_is_caught_before_any_write(users):
    report = check_transform(users, "users", T.truncate_ids)
    assert not report.ok and report.verdict == "unsafe"
    assert report.counts["collision"] > 0
    first = report.problems[0]
    assert first.kind == "collision" and first.other_source_key is not None
    assert first.source_key != first.other_source_key
    assert T.truncate_ids(dict(first.source_key))["pk"] == T.truncate_ids(dict(first.other_source_key))["pk"]
    target = MemoryStore()
    with pytest.raises(TransformError) as info:
        copy_transformed(users, target, "users", T.truncate_ids)
    assert info.value.report is not None and info.value.report.counts["collision"] == report.counts["collision"]
    assert target.list_tables() == []  # nothing was created or written
    assert report.to_json()["counts"]["collision"] == report.counts["collision"]


def test_rejections_invalid_items_and_key_overflows_are_reported():
    source = MemoryStore()
    source.create_table(SPEC)
    source.bulk_put("users", [{"pk": "USER#1", "sk": "PROFILE", "tenant": "a"}, {"pk": "USER#2", "sk": "PROFILE"}])
    rejected = check_transform(source, "users", T.rekey_users)
    assert rejected.counts["rejected"] == 1 and rejected.problems[0].source_key == {"pk": "USER#2", "sk": "PROFILE"}
    assert "tenant" in rejected.problems[0].detail
    overflow = check_transform(source, "users", T.oversized_key)
    assert overflow.counts["key_too_large"] == 2 and "2048" in overflow.problems[0].detail
    invalid = check_transform(source, "users", T.numeric_sort_key)
    assert invalid.counts["invalid"] == 2
    crashing = check_transform(source, "users", lambda item: item["nothing"])
    assert crashing.counts["rejected"] == 2 and "KeyError" in crashing.problems[0].detail
    wrong_type = check_transform(source, "users", lambda item: "not an item")
    assert wrong_type.counts["rejected"] == 2
    with pytest.raises(TransformError) as info:
        list(apply_transform(T.rekey_users, source.scan_all("users"), SPEC))
    assert info.value.source_key == {"pk": "USER#2", "sk": "PROFILE"}


def test_fan_out_and_drops(users):
    users.update("users", {"pk": "USER#3", "sk": "PROFILE"}, "SET deleted = :t", values={":t": True})
    report = check_transform(users, "users", T.split_profile)
    assert report.ok and report.dropped == 1 and report.max_fan_out == 2
    assert report.target_items == 2 * 9_999
    target = MemoryStore()
    copy_transformed(users, target, "users", T.split_profile)
    assert verify_tables(TransformedSource(users, T.split_profile), target, "users").identical


def test_a_check_that_cannot_read_the_source_is_unknown_not_safe(users):
    class Failing(MemoryStore):
        def _scan(self, req):
            from storeswap.core.errors import StoreUnavailable

            raise StoreUnavailable("connection lost")

    broken = Failing()
    broken.create_table(SPEC)
    report = check_transform(broken, "users", T.rekey_users)
    assert report.verdict == "unknown" and not report.ok and "connection lost" in report.error


def test_a_snapshot_export_can_be_transformed(users, tmp_path):
    write_export(users, "users", tmp_path / "export")
    export = ExportSource(tmp_path / "export")
    assert check_transform(export, "users", T.rekey_users).ok
    target = MemoryStore()
    copy_transformed(export, target, "users", T.rekey_users)
    assert verify_tables(TransformedSource(users, T.rekey_users), target, "users").identical
