"""``storeswap migrate --apply-incremental``: a full export, then incremental exports, through the CLI (issue 14 item 4)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.connect import register_scheme
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import StringSet
from storeswap.migrate import ExportSource, verify_tables, write_export
from storeswap.migrate.incremental import IncrementalRecord, write_incremental_export

SPEC = TableSpec("orders", KeyAttribute("pk", "S"), KeyAttribute("sk", "N"))
WINDOW = dt.timedelta(minutes=15)

#: Named in-process memory stores shared by the CLI invocations of one test (``inctest://NAME``).
STORES: dict[str, MemoryStore] = {}
register_scheme("inctest", lambda url: STORES.setdefault(url.split("://", 1)[1], MemoryStore()))


def _micros(t: dt.datetime) -> int:
    return int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds()) * 1_000_000 + t.microsecond


class Source:
    """The source table with every write recorded (time, key, old image, new image), as PITR sees it."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.store.create_table(SPEC)
        self.events: list[tuple[int, tuple[str, str], dict[str, Any], Any, Any]] = []
        self.clock = 0

    def write(self, key: dict[str, Any], op: str, *args: Any, **kw: Any) -> None:
        old = self.store.get("orders", key)
        getattr(self.store, op)("orders", *args, **kw)
        self.clock += 1_000
        self.events.append((self.clock, (key["pk"], str(key["sk"])), key, old, self.store.get("orders", key)))

    def window(self, lo: int, hi: int) -> list[IncrementalRecord]:
        """DynamoDB's compaction: one record per item, the image before the window and the one after it."""
        first: dict[Any, Any] = {}
        last: dict[Any, Any] = {}
        for ts, k, key, old, new in self.events:
            if lo <= ts < hi:
                first.setdefault(k, old)
                last[k] = (ts, key, new)
        return [IncrementalRecord(ts, key, new, first[k]) for k, (ts, key, new) in last.items()
                if not (first[k] is None and new is None)]


@pytest.fixture
def exports(tmp_path: Path) -> tuple[Source, Path, Path, list[Path]]:
    """A full export at T0 and incrementals [T0, T1), [T1, T2) of a source that kept changing."""
    STORES.clear()
    src = Source()
    for i in range(40):
        src.write({"pk": f"p{i % 5}", "sk": i}, "put", {"pk": f"p{i % 5}", "sk": Decimal(i), "v": i, "tag": "a"})
    full = tmp_path / "full"
    write_export(src.store, "orders", full, items_per_file=15)
    t0 = dt.datetime.fromisoformat(ExportSource(full).summary["exportTime"])
    src.clock = _micros(t0)
    k0, k1, k2 = ({"pk": f"p{i % 5}", "sk": Decimal(i)} for i in (0, 1, 2))
    src.write(k0, "update", k0, "SET v = :v", values={":v": "changed"})
    src.write(k1, "update", k1, "REMOVE tag")
    src.write(k2, "delete", k2)
    src.write({"pk": "new", "sk": 1}, "put", {"pk": "new", "sk": Decimal(1), "s": StringSet({"x", "y"})})
    t1 = t0 + WINDOW
    src.clock = _micros(t1)
    src.write(k2, "put", {**k2, "back": True})
    src.write({"pk": "new", "sk": 1}, "delete", {"pk": "new", "sk": Decimal(1)})
    for i in range(10):
        src.write({"pk": "bulk", "sk": i}, "put", {"pk": "bulk", "sk": Decimal(i), "n": Decimal(i) / 4})
    root = tmp_path / "AWSDynamoDB"
    inc1 = write_incremental_export(root, "orders", src.window(_micros(t0), _micros(t1)), t0, t1, records_per_file=2)
    inc2 = write_incremental_export(root, "orders", src.window(_micros(t1), _micros(t1 + WINDOW)), t1,
                                    t1 + WINDOW, records_per_file=3)
    return src, full, root, [inc1, inc2]


def _migrate(full: Path, state: Path, *extra: str) -> int:
    return main(["migrate", "--source", f"dynamodb-export:{full}", "--target", "inctest://dst", "--table", "orders",
                 "--state", str(state), "--segments", "2", *extra])


def test_full_export_then_two_incrementals(exports, tmp_path: Path, capsys) -> None:
    src, full, _root, (inc1, inc2) = exports
    state = tmp_path / "state.json"
    assert _migrate(full, state, "--apply-incremental", str(inc2), "--apply-incremental", str(inc1)) == 0
    assert "replayed 2 incremental export(s)" in capsys.readouterr().out
    assert verify_tables(src.store, STORES["dst"], "orders").identical
    stored = json.loads(state.read_text())
    assert stored["complete"] is True and stored["incremental"]["complete"] is True
    assert stored["incremental"]["export_id"] == inc2.name
    # A rerun resumes from the checkpoints: no copy again, no record replayed again.
    STORES["dst"].put("orders", {"pk": "marker", "sk": Decimal(0)})
    assert _migrate(full, state, "--apply-incremental", str(inc1), "--apply-incremental", str(inc2)) == 0
    out = capsys.readouterr()
    assert "resuming" in out.err and "0 records" in out.out
    assert STORES["dst"].get("orders", {"pk": "marker", "sk": Decimal(0)}) is not None


def test_a_folder_holding_several_is_applied_in_window_order(exports, tmp_path: Path) -> None:
    src, full, root, _ = exports
    assert _migrate(full, tmp_path / "s.json", "--apply-incremental", str(root)) == 0
    assert verify_tables(src.store, STORES["dst"], "orders").identical


def test_a_window_gap_is_refused_before_anything_is_written(exports, tmp_path: Path, capsys) -> None:
    _src, full, _root, (_inc1, inc2) = exports
    assert _migrate(full, tmp_path / "s.json", "--apply-incremental", str(inc2)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ExportWindowGap" in err[0] and "a gap of" in err[0]
    assert STORES["dst"].list_tables() == []


def test_a_checksum_mismatch_is_reported_and_no_checksums_proceeds(exports, tmp_path: Path, capsys) -> None:
    src, full, root, (inc1, inc2) = exports
    entry = json.loads((inc1 / "manifest-files.json").read_text().splitlines()[0])
    data = root / "data" / Path(entry["dataFileS3Key"]).name
    data.write_bytes(gzip.compress(gzip.decompress(data.read_bytes()), mtime=12345))  # same records, other bytes
    incs = ["--apply-incremental", str(inc1), "--apply-incremental", str(inc2)]
    assert _migrate(full, tmp_path / "s.json", *incs) == 2
    assert "--no-checksums" in capsys.readouterr().err
    assert STORES["dst"].list_tables() == []
    assert _migrate(full, tmp_path / "s.json", *incs, "--no-checksums") == 0
    assert "checksum mismatch accepted" in capsys.readouterr().err
    assert verify_tables(src.store, STORES["dst"], "orders").identical


def test_incrementals_need_a_full_export_source(tmp_path: Path, exports, capsys) -> None:
    _src, _full, root, _ = exports
    STORES["src"] = MemoryStore()
    STORES["src"].create_table(SPEC)
    rc = main(["migrate", "--source", "inctest://src", "--target", "inctest://dst", "--table", "orders",
               "--state", str(tmp_path / "s.json"), "--apply-incremental", str(root)])
    assert rc != 0 and "dynamodb-export:FULL" in capsys.readouterr().err
