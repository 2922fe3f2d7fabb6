"""verify covers what a reader observes: the spec (order-independent), base items, and every index in index order."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from broken_store import CasefoldOrderStore, IndexEmptyStore, IndexMissesUpdatesStore, TtlDroppedStore

from storeswap import GlobalIndex, KeyAttribute, Projection, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.migrate import copy_table, verify_tables, write_export
from storeswap.migrate.sample import SAMPLE_SPEC, sample_items
from storeswap.migrate.verify import spec_differences

#: The sample plus a global index with a string sort key (order by UTF-8 bytes matters) and a TTL attribute.
SPEC = attrs.evolve(
    SAMPLE_SPEC,
    global_indexes=(
        *SAMPLE_SPEC.global_indexes,
        GlobalIndex("by_name", KeyAttribute("grp", "S"), KeyAttribute("s", "S"), Projection("ALL")),
    ),
    ttl_attribute="expires",
)


def _source() -> MemoryStore:
    store = MemoryStore()
    store.create_table(SPEC)
    store.bulk_put("sample", sample_items())
    return store


def test_a_healthy_copy_is_identical_including_every_index() -> None:
    source, target = _source(), MemoryStore()
    copy_table(source, target, "sample")
    report = verify_tables(source, target, "sample")
    assert report.identical, report.to_json()
    assert [i.name for i in report.indexes] == ["by_grp", "by_name", "by_lsk"]
    assert all(i.source_entries == i.target_entries > 0 for i in report.indexes)
    compared = report.to_json()["compared"]
    assert compared["indexes"] == ["by_grp", "by_name", "by_lsk"] and "ttl_attribute" in compared["spec"]


def test_an_index_that_returns_nothing_is_named_with_its_missing_entries() -> None:
    source, target = _source(), IndexEmptyStore()
    copy_table(source, target, "sample")
    report = verify_tables(source, target, "sample")
    assert not report.identical
    assert report.source_digest == report.target_digest  # the base table is fine: only the index is broken
    by_grp = next(i for i in report.indexes if i.name == "by_grp")
    assert by_grp.target_entries == 0 and by_grp.missing == by_grp.source_entries > 0
    assert {d.kind for d in by_grp.details} == {"missing"}
    assert json.loads(json.dumps(report.to_json()))["indexes"][0]["details"][0]["kind"] == "missing"


def test_an_index_in_the_wrong_order_is_an_order_difference() -> None:
    source, target = _source(), CasefoldOrderStore()
    copy_table(source, target, "sample")
    report = verify_tables(source, target, "sample")
    by_name = next(i for i in report.indexes if i.name == "by_name")
    assert not by_name.identical and by_name.order > 0 and by_name.missing == by_name.extra == 0
    assert any(d.kind == "order" and d.position is not None for d in by_name.details)


def test_index_entries_lost_after_an_update_are_found() -> None:
    source, target = _source(), IndexMissesUpdatesStore()
    copy_table(source, target, "sample")
    assert verify_tables(source, target, "sample").identical  # the copy wrote with bulk_put: nothing lost yet
    target.update("sample", {"pk": "long", "sk": "0003"}, "SET i = :i", values={":i": 3})
    source.update("sample", {"pk": "long", "sk": "0003"}, "SET i = :i", values={":i": 3})
    report = verify_tables(source, target, "sample")
    missing = {(i.name, json.dumps(d.to_json()["key"])) for i in report.indexes for d in i.details}
    assert ("by_grp", json.dumps({"pk": {"S": "long"}, "sk": {"S": "0003"}})) in missing


def test_a_lost_ttl_setting_is_a_difference() -> None:
    source, target = _source(), TtlDroppedStore()
    copy_table(source, target, "sample")
    report = verify_tables(source, target, "sample")
    assert not report.identical
    assert report.spec_differences == ["ttl_attribute: source expires target None"]


def test_spec_comparison_is_order_independent_and_names_each_index() -> None:
    g1 = GlobalIndex("ix_a", KeyAttribute("x"), None, Projection("INCLUDE", ("p", "q")))
    g2 = GlobalIndex("ix_b", KeyAttribute("y"), KeyAttribute("z", "N"))
    a = TableSpec("tab", KeyAttribute("pk"), global_indexes=(g1, g2))
    b = TableSpec(
        "tub", KeyAttribute("pk"), global_indexes=(g2, attrs.evolve(g1, projection=Projection("INCLUDE", ("q", "p"))))
    )
    assert spec_differences(a, b) == []
    c = TableSpec("tub", KeyAttribute("pk"), global_indexes=(g2,), stream="NEW_IMAGE")
    diffs = spec_differences(a, c)
    assert diffs[0].startswith("stream: source None target NEW_IMAGE")
    assert diffs[1].startswith("index ix_a: missing on the target")


@pytest.mark.parametrize("broken", [False, True])
def test_an_export_source_checks_the_targets_indexes_by_derivation(tmp_path: Path, broken: bool) -> None:
    source = _source()
    write_export(source, "sample", tmp_path / "exp", items_per_file=100)
    from storeswap.migrate import ExportSource

    target = IndexEmptyStore() if broken else MemoryStore()
    target.create_table(SPEC)
    target.bulk_put("sample", sample_items())
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC.to_dict()))
    export = ExportSource(tmp_path / "exp", spec_json=spec_file)
    report = verify_tables(export, target, "sample")
    assert report.identical is not broken
    assert all(i.source_entries > 0 for i in report.indexes)
