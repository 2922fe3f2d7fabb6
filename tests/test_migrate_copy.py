"""copy_table and verify_tables between memory stores: identical copies, found differences, resume after a crash."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeswap import KeyAttribute, NumberSet, StringSet, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.core.port import ItemStore
from storeswap.core.prepare import COMPILED_BULK_ITEMS
from storeswap.migrate import copy_table, diff_items, verify_tables
from storeswap.migrate.sample import SAMPLE_SPEC, bulk_items, sample_items

SPEC = TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk", "N"))


def _filled(n: int = 1500) -> MemoryStore:
    store = MemoryStore()
    store.create_table(SPEC)
    store.bulk_put(
        "orders", ({"pk": f"c{i % 53}", "sk": i, "v": f"value {i}", "tags": StringSet({"x", str(i)})} for i in range(n))
    )
    return store


def test_copy_then_verify_identical() -> None:
    source, target = _filled(), MemoryStore()
    report = copy_table(source, target, "orders", segments=4, workers=3, batch=100)
    assert report.items == 1500 and report.complete and report.created_table
    assert target.describe_table("orders") == SPEC
    result = verify_tables(source, target, "orders", buckets=64)
    assert result.identical
    assert (result.source_items, result.target_items) == (1500, 1500)
    assert result.source_digest == result.target_digest


def test_copy_every_value_type_renamed_table() -> None:
    source, target = MemoryStore(), MemoryStore()
    source.create_table(SAMPLE_SPEC)
    source.bulk_put("sample", sample_items())
    report = copy_table(source, target, "sample", target_table="sample-copy", segments=3, batch=7)
    assert report.target_table == "sample-copy"
    assert target.describe_table("sample-copy").global_indexes == SAMPLE_SPEC.global_indexes
    assert verify_tables(source, target, "sample", "sample-copy").identical


def test_verify_finds_changed_missing_and_extra_items() -> None:
    source, target = _filled(300), MemoryStore()
    copy_table(source, target, "orders")
    target.put("orders", {"pk": "c1", "sk": 1, "v": "value 1", "tags": StringSet({"x", "1"}), "new": Decimal(5)})
    target.put("orders", {"pk": "c2", "sk": 2, "v": b"value 2", "tags": StringSet({"x"})})
    target.delete("orders", {"pk": "c3", "sk": 3})
    target.put("orders", {"pk": "zz", "sk": 9999, "v": "extra"})
    result = verify_tables(source, target, "orders", buckets=16)
    assert not result.identical
    assert (result.missing, result.extra, result.changed) == (1, 1, 2)
    by_key = {(d.kind, d.key["pk"], d.key["sk"]): d for d in result.details}
    assert ("missing", "c3", Decimal(3)) in by_key
    assert ("extra", "zz", Decimal(9999)) in by_key
    added = by_key[("changed", "c1", Decimal(1))].fields
    assert [(f.path, f.kind, f.target) for f in added] == [("new", "extra", Decimal(5))]
    changed = {f.path: f for f in by_key[("changed", "c2", Decimal(2))].fields}
    assert changed["v"].kind == "type"  # S became B: a type change, not a value change
    assert changed["tags"].kind == "changed"
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["identical"] is False and doc["missing"] == 1
    kinds = sorted(d["kind"] for d in doc["details"])
    assert kinds == ["changed", "changed", "extra", "missing"]


def test_verify_caps_details_but_counts_everything() -> None:
    source, target = _filled(200), MemoryStore()
    target.create_table(SPEC)
    result = verify_tables(source, target, "orders", buckets=8, max_details=5, diff_budget=30)
    assert result.missing == 200 and len(result.details) == 5 and result.details_truncated


def test_verify_reports_key_schema_difference() -> None:
    source, target = _filled(10), MemoryStore()
    target.create_table(TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk", "S")))
    result = verify_tables(source, target, "orders")
    assert not result.identical and result.spec_differences


def test_diff_items_nested_paths() -> None:
    a = {"pk": "k", "m": {"l": [Decimal(1), "x", {"d": True}]}, "ns": NumberSet({Decimal(1)})}
    b = {"pk": "k", "m": {"l": [Decimal("1.0"), "y", {"d": False}, None]}, "ns": NumberSet({Decimal(1)})}
    diffs = [(d.path, d.kind) for d in diff_items(a, b)]
    assert diffs == [("m.l[1]", "changed"), ("m.l[2].d", "changed"), ("m.l[3]", "extra")]


class _Crash(Exception):
    pass


class _CrashingTarget(MemoryStore):
    """Writes half of the n-th bulk page, then dies: a crash between the write and the checkpoint."""

    def __init__(self, crash_on: int) -> None:
        super().__init__()
        self.calls = 0
        self.crash_on = crash_on

    def bulk_put(self, table: str, items: Any) -> int:
        self.calls += 1
        items = list(items)
        if self.calls == self.crash_on:
            super().bulk_put(table, items[: len(items) // 2])
            raise _Crash("killed mid-page")
        return super().bulk_put(table, items)

    bulk_load = bulk_put  # the copy writes with bulk_load


def _resume_into(source: ItemStore, target: _CrashingTarget, state: Path) -> None:
    with pytest.raises(_Crash):
        copy_table(source, target, "orders", segments=4, workers=2, batch=50, state_path=state)
    saved = json.loads(state.read_text())
    assert not all(s["done"] for s in saved["segments"].values())
    written = sum(s["count"] for s in saved["segments"].values())
    assert 0 < written < 3000
    target.crash_on = -1
    seen: list[int] = []
    report = copy_table(
        source, target, "orders", segments=4, workers=2, batch=50, state_path=state, progress=seen.append
    )
    assert report.resumed and report.complete
    assert report.items == 3000  # counted once each: checkpoints move only after a durable write
    assert report.items_this_run == 3000 - written == sum(seen)


def test_resume_after_crash_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    source = _filled(3000)
    target = _CrashingTarget(crash_on=17)
    state = tmp_path / "state.json"
    _resume_into(source, target, state)
    assert verify_tables(source, target, "orders").identical
    # A third run finds every segment done and copies nothing.
    again = copy_table(source, target, "orders", segments=4, workers=2, batch=50, state_path=state)
    assert again.items_this_run == 0 and again.items == 3000


def test_state_file_must_match_the_copy(tmp_path: Path) -> None:
    source, target = _filled(100), MemoryStore()
    state = tmp_path / "s.json"
    copy_table(source, target, "orders", segments=2, state_path=state)
    from storeswap import ConfigurationError

    with pytest.raises(ConfigurationError, match="--segments"):
        copy_table(source, target, "orders", segments=3, state_path=state)
    with pytest.raises(ConfigurationError, match="belongs to"):
        copy_table(source, target, "orders", target_table="other", segments=2, state_path=state)


def test_state_file_is_replaced_atomically(tmp_path: Path) -> None:
    source, target = _filled(500), MemoryStore()
    state = tmp_path / "deep" / "s.json"
    copy_table(source, target, "orders", segments=2, batch=10, state_path=state)
    assert [p.name for p in state.parent.iterdir()] == ["s.json"]  # no temporary files left behind
    data = json.loads(state.read_text())
    assert data["total_segments"] == 2 and all(s["done"] and s["cursor"] is None for s in data["segments"].values())


def test_copy_refuses_a_target_with_other_keys() -> None:
    from storeswap import ConfigurationError

    source, target = _filled(5), MemoryStore()
    target.create_table(TableSpec("orders", KeyAttribute("id")))
    with pytest.raises(ConfigurationError, match="another key schema"):
        copy_table(source, target, "orders")


def test_copy_into_an_existing_table_with_same_keys_is_idempotent() -> None:
    source, target = _filled(400), MemoryStore()
    copy_table(source, target, "orders")
    report = copy_table(source, target, "orders", segments=1)
    assert not report.created_table and report.items == 400
    assert verify_tables(source, target, "orders").identical


def test_copy_holds_one_page_per_worker() -> None:
    """Streaming: the source is read page by page, never as a whole."""
    source = MemoryStore()
    source.create_table(SPEC)
    source.bulk_put("orders", ({"pk": it["pk"], "sk": i} for i, it in enumerate(bulk_items(2000, size=50))))
    largest = []

    class Watch(MemoryStore):
        def bulk_put(self, table: str, items: Any) -> int:
            items = list(items)
            largest.append(len(items))
            return super().bulk_put(table, items)

        bulk_load = bulk_put

    copy_table(source, Watch(), "orders", batch=64, segments=4)
    assert max(largest) <= 64 and sum(largest) == 2000


def test_cli_migrate_and_verify_between_exports(tmp_path: Path) -> None:
    """The commands end to end in one process: export -> check -> migrate -> verify, with exit codes."""
    from storeswap.cli import main
    from storeswap.migrate import write_export

    source = _filled(250)
    write_export(source, "orders", tmp_path / "a", items_per_file=100)
    source.put("orders", {"pk": "c0", "sk": 0, "v": "changed"})
    write_export(source, "orders", tmp_path / "b", items_per_file=100)
    assert (
        main(
            [
                "verify",
                "--source",
                f"dynamodb-export:{tmp_path / 'a'}",
                "--target",
                f"dynamodb-export:{tmp_path / 'a'}",
                "--table",
                "orders",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "verify",
                "--source",
                f"dynamodb-export:{tmp_path / 'a'}",
                "--target",
                f"dynamodb-export:{tmp_path / 'b'}",
                "--table",
                "orders",
                "--json",
            ]
        )
        == 1
    )
    assert (
        main(["verify", "--source", f"dynamodb-export:{tmp_path / 'nope'}", "--target", "memory", "--table", "orders"])
        == 2
    )
    state = tmp_path / "state.json"
    assert (
        main(
            [
                "migrate",
                "--source",
                f"dynamodb-export:{tmp_path / 'a'}",
                "--target",
                "memory://",
                "--table",
                "orders",
                "--state",
                str(state),
                "--segments",
                "2",
                "--batch",
                "40",
                "--verify",
            ]
        )
        == 0
    )
    assert json.loads(state.read_text())["segments"]["0"]["done"] is True


def test_scan_shared_reads_the_stored_objects_page_by_page_like_scan() -> None:
    source = _filled(300)
    for seg in range(3):
        shared = source.scan_shared("orders", limit=40, segment=seg, total_segments=3)
        plain = source.scan("orders", limit=40, segment=seg, total_segments=3, consistent=True)
        again = source.scan_shared("orders", limit=40, segment=seg, total_segments=3)
        assert shared.items == plain.items and shared.cursor == plain.cursor is not None
        assert all(a is b for a, b in zip(shared.items, again.items))  # the store's own objects
        assert all(a is not b for a, b in zip(plain.items, shared.items))  # scan: the caller's own copies
        follow = source.scan_shared("orders", limit=40, cursor=shared.cursor, segment=seg, total_segments=3)
        assert follow.items == source.scan("orders", limit=40, cursor=plain.cursor, segment=seg, total_segments=3).items


class _Keeper(MemoryStore):
    """A target whose bulk path keeps the item objects it is given (a bulk_reads_only False adapter may)."""

    bulk_reads_only = False

    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Any] = []

    def _bulk_put(self, req: Any, *, changes: bool = True) -> None:
        self.kept.extend(req.items)
        super()._bulk_put(req, changes=changes)


@pytest.mark.parametrize("reads_only", [True, False])
def test_a_copy_hands_the_sources_own_items_only_to_a_target_that_only_reads_them(reads_only: bool) -> None:
    # Items bulk_items takes as they are (string keys, plain values): what reaches _bulk_put is the scan's.
    source = MemoryStore()
    source.create_table(TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk")))
    source.bulk_put("orders", ({"pk": f"c{i % 7}", "sk": f"{i:04d}", "n": Decimal(i)} for i in range(400)))
    stored = {id(it) for it in source.scan_shared("orders", limit=1000).items}
    target = _Keeper()
    target.bulk_reads_only = reads_only
    copy_table(source, target, "orders", segments=4, batch=50)
    assert len(target.kept) == 400 and verify_tables(source, target, "orders", buckets=16).identical
    shared = sum(id(it) in stored for it in target.kept)
    # The pure-Python bulk_items (STORESWAP_PURE=1) copies every item: nothing of the source's gets through.
    assert shared == (400 if reads_only and COMPILED_BULK_ITEMS else 0)
    # Whatever the target got, the target's own items are copies, and the source is untouched.
    assert all(id(it) not in stored for it in target.scan("orders", limit=1000).items)


def test_a_transform_gets_copies_it_may_change_in_place() -> None:
    from storeswap.migrate.transform import TransformedSource

    source = _filled(200)
    before = list(source.scan_all("orders", consistent=True))

    def scribble(item: dict[str, Any]) -> dict[str, Any]:
        item["v"] = "changed"
        return item

    target = MemoryStore()
    copy_table(TransformedSource(source, scribble), target, "orders", segments=2, batch=30)
    assert list(source.scan_all("orders", consistent=True)) == before
    assert {it["v"] for it in target.scan_all("orders", consistent=True)} == {"changed"}


class _Redacting(MemoryStore):
    """A source whose scan drops an attribute: a copy must read through it, not around it."""

    def scan(self, table: str, **kw: Any) -> Any:
        page = super().scan(table, **kw)
        for it in page.items:
            it.pop("secret", None)
        return page


class _Tagging(MemoryStore):
    """A target whose bulk_load changes the items it is given: it must get copies, not the source's own."""

    def bulk_load(self, table: str, items: Any) -> int:
        items = list(items)
        for it in items:
            it["tag"] = "copied"
        return super().bulk_load(table, items)


def _secret_source(cls: type[MemoryStore] = MemoryStore) -> MemoryStore:
    s = cls()
    s.create_table(TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk")))
    s.bulk_put("orders", ({"pk": f"c{i % 3}", "sk": f"{i:03d}", "n": Decimal(i), "secret": "s"} for i in range(20)))
    return s


def test_the_lending_flags_are_declared_per_class_not_inherited() -> None:
    assert MemoryStore.lends_scans and MemoryStore.bulk_reads_only
    assert not _Redacting.lends_scans and not _Redacting.bulk_reads_only
    assert not _Tagging.lends_scans and not _Tagging.bulk_reads_only


def test_a_subclass_that_overrides_scan_is_read_through_its_scan() -> None:
    target = MemoryStore()
    copy_table(_secret_source(_Redacting), target, "orders", segments=2)
    assert sum("secret" in i for i in target.scan_all("orders")) == 0


def test_a_subclass_that_changes_its_bulk_items_gets_copies() -> None:
    source = _secret_source()
    copy_table(source, _Tagging(), "orders", segments=2)
    assert sum("tag" in i for i in source.scan_all("orders", consistent=True)) == 0
