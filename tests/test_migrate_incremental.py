"""Incremental exports: a full export plus two incrementals, generated from a recorded history, replay to the source's end state."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeswap import ConfigurationError, KeyAttribute, TableSpec, ValidationError
from storeswap.adapters.memory import MemoryStore
from storeswap.core.values import BinarySet, NumberSet, StringSet
from storeswap.migrate import ExportSource, copy_table, verify_tables, write_export
from storeswap.migrate.incremental import (
    ChecksumMismatch,
    ExportWindowGap,
    IncrementalRecord,
    ReplayCheckpoint,
    open_incrementals,
    replay_incrementals,
    write_incremental_export,
)

SPEC = TableSpec("orders", KeyAttribute("pk", "S"), KeyAttribute("sk", "N"))
WINDOW = dt.timedelta(minutes=15)


def _micros(t: dt.datetime) -> int:
    return int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * 1_000_000 + t.microsecond


class History:
    """A memory store whose every write is recorded with a (fake) write time, as PITR would see it."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.store.create_table(SPEC)
        self.events: list[tuple[int, bytes, dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]] = []
        self.clock = 0

    def _key(self, key: dict[str, Any]) -> bytes:
        return json.dumps([key["pk"], str(key["sk"])]).encode()

    def _record(self, key: dict[str, Any], write: Callable[[], None]) -> None:
        old = self.store.get("orders", key)
        write()
        new = self.store.get("orders", key)
        self.clock += 1_000  # 1 ms between writes
        self.events.append((self.clock, self._key(key), key, old, new))

    def put(self, item: dict[str, Any]) -> None:
        self._record({"pk": item["pk"], "sk": item["sk"]}, lambda: self.store.put("orders", item))

    def update(self, key: dict[str, Any], expr: str, values: dict[str, Any] | None = None) -> None:
        self._record(key, lambda: self.store.update("orders", key, expr, values=values))

    def delete(self, key: dict[str, Any]) -> None:
        self._record(key, lambda: self.store.delete("orders", key))

    def window(self, lo: int, hi: int) -> list[IncrementalRecord]:
        """DynamoDB's compaction: per item, the image before the window's first write and after its last."""
        first: dict[bytes, Any] = {}
        last: dict[bytes, Any] = {}
        for ts, k, key, old, new in self.events:
            if lo <= ts < hi:
                first.setdefault(k, old)
                last[k] = (ts, key, new)
        out = []
        for k, (ts, key, new) in last.items():
            old = first[k]
            if old is None and new is None:
                continue  # created and deleted inside the window: not in the export
            out.append(IncrementalRecord(ts, key, new, old))
        return out


def _every_type(pk: str, sk: int) -> dict[str, Any]:
    return {
        "pk": pk,
        "sk": Decimal(sk),
        "s": "text ✓",
        "n": Decimal("12.50"),
        "b": b"\x00\xffbin",
        "t": True,
        "z": None,
        "l": ["a", Decimal(1), [b"x"], {"m": False}],
        "m": {"nest": {"deep": "yes"}, "n": Decimal("-1E-5")},
        "ss": StringSet({"a", "b"}),
        "ns": NumberSet({Decimal(1), Decimal("2.5")}),
        "bs": BinarySet({b"\x01", b"\x02"}),
    }


@pytest.fixture
def chain(tmp_path: Path) -> tuple[History, Path, Path, list[Path]]:
    """A source with history: full export at T0, incrementals [T0, T1) and [T1, T2)."""
    h = History()
    for i in range(20):
        h.put(_every_type(f"p{i % 4}", i))
    full = tmp_path / "full"
    write_export(h.store, "orders", full, items_per_file=7)
    t0 = dt.datetime.fromisoformat(ExportSource(full).summary["exportTime"])
    base = _micros(t0)
    h.clock = base
    # window 1: updates (one removes attributes), deletes, new items, a create+delete inside the window
    h.update({"pk": "p0", "sk": Decimal(0)}, "SET s = :v, n = n + :one", {":v": "changed", ":one": Decimal(1)})
    h.update({"pk": "p1", "sk": Decimal(1)}, "REMOVE bs, m.nest")
    h.delete({"pk": "p2", "sk": Decimal(2)})
    h.put(_every_type("new", 100))
    h.put({"pk": "ephemeral", "sk": Decimal(1), "x": "gone soon"})
    h.delete({"pk": "ephemeral", "sk": Decimal(1)})
    h.update({"pk": "p3", "sk": Decimal(3)}, "SET ss = :s", {":s": StringSet({"only"})})
    h.update({"pk": "p3", "sk": Decimal(3)}, "REMOVE t, z")
    t1 = t0 + WINDOW
    h.clock = _micros(t1)
    # window 2: touch items of window 1 again, recreate a deleted one, delete a new one, plain puts
    h.update({"pk": "p0", "sk": Decimal(0)}, "REMOVE l")
    h.put({"pk": "p2", "sk": Decimal(2), "back": "again"})
    h.delete({"pk": "new", "sk": Decimal(100)})
    h.delete({"pk": "p1", "sk": Decimal(5)})
    for i in range(30):
        h.put({"pk": f"bulk{i % 3}", "sk": Decimal(i), "v": Decimal(i) * Decimal("0.1")})
    t2 = t1 + WINDOW
    root = tmp_path / "AWSDynamoDB"
    inc1 = write_incremental_export(root, "orders", h.window(base, _micros(t1)), t0, t1, records_per_file=3)
    inc2 = write_incremental_export(root, "orders", h.window(_micros(t1), _micros(t2)), t1, t2, records_per_file=4)
    return h, full, root, [inc1, inc2]


def _restore_full(full: Path) -> MemoryStore:
    target = MemoryStore()
    copy_table(ExportSource(full), target, "orders")
    return target


def _lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path) as f:
        return [json.loads(raw) for raw in f]


def test_layout_matches_dynamodb(chain: tuple[History, Path, Path, list[Path]]) -> None:
    _h, _full, root, (inc1, _inc2) = chain
    summary = json.loads((inc1 / "manifest-summary.json").read_text())
    assert summary["version"] == "2023-08-01" and summary["exportType"] == "INCREMENTAL_EXPORT"
    assert summary["outputView"] == "NEW_AND_OLD_IMAGES" and summary["exportFromTime"] < summary["exportToTime"]
    assert {p.name for p in inc1.iterdir()} == {
        "_started",
        "manifest-summary.json",
        "manifest-summary.checksum",
        "manifest-files.json",
        "manifest-files.checksum",
    }
    entries = [json.loads(line) for line in (inc1 / "manifest-files.json").read_text().splitlines()]
    assert all(e["dataFileS3Key"].startswith("AWSDynamoDB/data/") for e in entries)
    lines = [line for e in entries for line in _lines(root / "data" / Path(e["dataFileS3Key"]).name)]
    assert sum(e["itemCount"] for e in entries) == len(lines) == summary["itemCount"]
    assert all(set(line["Metadata"]["WriteTimestampMicros"]) == {"N"} for line in lines)
    deletes = [line for line in lines if "NewImage" not in line]
    assert deletes and all(set(d) == {"Metadata", "Keys", "OldImage"} for d in deletes)
    inserts = [line for line in lines if "OldImage" not in line]
    assert inserts and all(set(i) == {"Metadata", "Keys", "NewImage"} for i in inserts)
    assert not any(line["Keys"]["pk"] == {"S": "ephemeral"} for line in lines)


def test_full_plus_two_incrementals_gives_the_end_state(chain: tuple[History, Path, Path, list[Path]]) -> None:
    h, full, root, _ = chain
    target = _restore_full(full)
    assert not verify_tables(h.store, target, "orders").identical  # the full export alone is behind
    report = replay_incrementals(target, "orders", root, full_export=full)
    assert report.exports == 2 and report.deletes >= 3 and report.puts > 30
    assert report.checksum_problems == [] and report.checkpoint is not None and report.checkpoint.complete
    result = verify_tables(h.store, target, "orders")
    assert result.identical, result
    # item by item, too: the attribute removals and every value type came through
    p1 = target.get("orders", {"pk": "p1", "sk": 1})
    assert p1 is not None and "bs" not in p1 and p1["m"] == {"n": Decimal("-0.00001")}
    assert target.get("orders", {"pk": "p2", "sk": 2}) == {"pk": "p2", "sk": Decimal(2), "back": "again"}
    assert target.get("orders", {"pk": "new", "sk": 100}) is None
    # replaying again is idempotent
    replay_incrementals(target, "orders", root, full_export=full)
    assert verify_tables(h.store, target, "orders").identical


def test_new_image_view_deletes_by_keys_alone(tmp_path: Path, chain: tuple[History, Path, Path, list[Path]]) -> None:
    h, full, _root, (inc1, inc2) = chain
    root = tmp_path / "new-image" / "AWSDynamoDB"
    exports = open_incrementals([inc1, inc2])
    for e in exports:
        write_incremental_export(root, "orders", e.records(SPEC), e.from_time, e.to_time, view="NEW_IMAGE")
    lines = [line for f in (root / "data").iterdir() for line in _lines(f)]
    assert not any("OldImage" in line for line in lines)
    assert any(set(line) == {"Metadata", "Keys"} for line in lines)
    target = _restore_full(full)
    replay_incrementals(target, "orders", root, full_export=full)
    assert verify_tables(h.store, target, "orders").identical


@pytest.mark.parametrize(("kill_at", "resumed"), [(2, 4), (3, 5), (4, 7)])
def test_resume_from_a_checkpoint(chain: tuple[History, Path, Path, list[Path]], kill_at: int, resumed: int) -> None:
    """Window 1 holds 5 records: killed inside it, at its end, and inside window 2 (batches of 2)."""
    h, full, root, _ = chain
    target = _restore_full(full)
    saved: list[ReplayCheckpoint] = []

    class Killed(Exception):
        pass

    def die(cp: ReplayCheckpoint) -> None:
        saved.append(cp)
        if len(saved) == kill_at:
            raise Killed

    with pytest.raises(Killed):
        replay_incrementals(target, "orders", root, full_export=full, batch=2, on_checkpoint=die)
    assert not verify_tables(h.store, target, "orders").identical
    state = json.loads(json.dumps(saved[-1].to_dict()))  # as a state file would keep it
    report = replay_incrementals(target, "orders", root, full_export=full, checkpoint=state, batch=2)
    assert report.resumed_past == resumed and verify_tables(h.store, target, "orders").identical


def test_a_gap_between_windows_is_refused(tmp_path: Path, chain: tuple[History, Path, Path, list[Path]]) -> None:
    _h, full, _root, (inc1, inc2) = chain
    e1, e2 = open_incrementals([inc1, inc2])
    late = tmp_path / "late" / "AWSDynamoDB"
    shifted = write_incremental_export(
        late, "orders", e2.records(SPEC), e2.from_time + dt.timedelta(seconds=1), e2.to_time + dt.timedelta(seconds=1)
    )
    target = _restore_full(full)
    before = list(target.scan_all("orders"))
    with pytest.raises(ExportWindowGap) as err:
        replay_incrementals(target, "orders", [inc1, shifted], full_export=full)
    message = str(err.value)
    assert "gap" in message and e1.export_id in message and e1.window.split(", ")[1][:-1] in message
    assert err.value.previous_end == e1.to_time and err.value.next_start == e1.to_time + dt.timedelta(seconds=1)
    assert list(target.scan_all("orders")) == before  # nothing written
    # a first window that does not start at the full export is refused as well
    with pytest.raises(ExportWindowGap, match="full export"):
        replay_incrementals(target, "orders", [inc2], full_export=full)
    # and an overlap (the same window twice)
    with pytest.raises(ExportWindowGap, match="overlap"):
        replay_incrementals(target, "orders", [inc1, inc1], full_export=full)


def test_a_bad_checksum_is_reported(chain: tuple[History, Path, Path, list[Path]]) -> None:
    h, full, root, (inc1, _inc2) = chain
    entry = json.loads((inc1 / "manifest-files.json").read_text().splitlines()[0])
    data = root / "data" / Path(entry["dataFileS3Key"]).name
    # Same records, different bytes (another gzip header): what a re-encoded or altered download looks like.
    lines = gzip.decompress(data.read_bytes())
    data.write_bytes(gzip.compress(lines, mtime=12345))
    target = _restore_full(full)
    before = list(target.scan_all("orders"))
    with pytest.raises(ChecksumMismatch) as err:
        replay_incrementals(target, "orders", root, full_export=full)
    assert data.name in str(err.value) and "--no-checksums" in str(err.value)
    assert {p.what for p in err.value.problems} == {"md5Checksum", "etag"}
    assert list(target.scan_all("orders")) == before
    report = replay_incrementals(target, "orders", root, full_export=full, checksums=False)
    assert {p.what for p in report.checksum_problems} == {"md5Checksum", "etag"}
    assert verify_tables(h.store, target, "orders").identical


def test_an_altered_manifest_is_reported(chain: tuple[History, Path, Path, list[Path]]) -> None:
    _h, full, root, (inc1, _inc2) = chain
    summary = inc1 / "manifest-summary.json"
    summary.write_text(summary.read_text().replace('"billedSizeBytes"', '"billedSizeBytes" '))
    with pytest.raises(ChecksumMismatch, match=r"manifest-summary\.checksum"):
        replay_incrementals(_restore_full(full), "orders", root, full_export=full)


def test_bad_records_are_refused(tmp_path: Path) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    target = MemoryStore()
    target.create_table(SPEC)
    outside = IncrementalRecord(_micros(t0 + WINDOW), {"pk": "a", "sk": Decimal(1)}, {"pk": "a", "sk": Decimal(1)})
    root = tmp_path / "a" / "AWSDynamoDB"
    write_incremental_export(root, "orders", [outside], t0, t0 + WINDOW)
    with pytest.raises(ValidationError, match="outside the window"):
        replay_incrementals(target, "orders", root, start_time=t0)
    wrong_key = IncrementalRecord(_micros(t0), {"pk": "a"}, None, None)
    root = tmp_path / "b" / "AWSDynamoDB"
    write_incremental_export(root, "orders", [wrong_key], t0, t0 + WINDOW)
    with pytest.raises(ValidationError, match="Keys names"):
        replay_incrementals(target, "orders", root, start_time=t0)
    with pytest.raises(ConfigurationError, match="no incremental export"):
        open_incrementals(tmp_path / "missing")
    assert target.scan("orders").items == []


@pytest.mark.slow
def test_replay_onto_postgres(chain: tuple[History, Path, Path, list[Path]]) -> None:
    """The same chain onto PostgreSQL: batch_write's idempotent puts and deletes, then verify against the source."""
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    h, full, root, _ = chain
    target = PostgresStore(provision(), pool_size=2)
    name = f"inc_{uuid.uuid4().hex[:10]}"
    try:
        copy_table(ExportSource(full), target, "orders", target_table=name)
        replay_incrementals(target, name, root, full_export=full)
        assert verify_tables(h.store, target, "orders", name).identical
    finally:
        if target.table_exists(name):
            target.delete_table(name)
        target.close()


def test_a_truncated_data_file_and_a_wrong_item_count_are_reported(
    chain: tuple[History, Path, Path, list[Path]],
) -> None:
    """The one-pass check (MD5, gzip, item count from one read of each file) still names each problem."""
    from storeswap.migrate.incremental import IncrementalExport

    _h, _full, root, (inc1, inc2) = chain
    entry = json.loads((inc1 / "manifest-files.json").read_text().splitlines()[0])
    data = root / "data" / Path(entry["dataFileS3Key"]).name
    data.write_bytes(data.read_bytes()[:-12])  # the gzip trailer cut off: a download that stopped early
    problems = {p.what for p in IncrementalExport(inc1).verify()}
    assert {"md5Checksum", "gzip"} <= problems and "itemCount" not in problems
    entry2 = json.loads((inc2 / "manifest-files.json").read_text().splitlines()[0])
    data2 = root / "data" / Path(entry2["dataFileS3Key"]).name
    lines = gzip.decompress(data2.read_bytes())
    data2.write_bytes(gzip.compress(lines + lines.splitlines(keepends=True)[0], mtime=0))  # one record twice
    problems2 = [p for p in IncrementalExport(inc2).verify() if p.file == data2]
    assert {p.what for p in problems2} >= {"md5Checksum", "itemCount"}
    count = next(p for p in problems2 if p.what == "itemCount")
    assert int(count.actual) == int(count.expected) + 1
