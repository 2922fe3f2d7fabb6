"""check_table: the rules as data, and each rule firing on the item it is about."""

from __future__ import annotations

import gzip
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeswap import KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.migrate import RULES, ExportSource, check_table
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.sample import SAMPLE_SPEC, big_item, nested, sample_items


def _export(tmp_path: Path, items: list[dict[str, Any]], pk: str = "pk:S", sk: str | None = "sk:N") -> ExportSource:
    """A hand-written export: the one source that can hold items no store would accept."""
    from storeswap.migrate.sources import parse_key_option

    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    with gzip.open(tmp_path / "data" / "f.json.gz", "wt", encoding="ascii") as f:
        for item in items:
            f.write(json.dumps({"Item": item}) + "\n")
    (tmp_path / "manifest-files.json").write_text(
        json.dumps({"itemCount": len(items), "dataFileS3Key": "AWSDynamoDB/x/data/f.json.gz"}) + "\n"
    )
    (tmp_path / "manifest-summary.json").write_text(json.dumps({"outputFormat": "DYNAMODB_JSON"}))
    return ExportSource(
        tmp_path, partition_key=parse_key_option(pk), sort_key=None if sk is None else parse_key_option(sk)
    )


def _ids(report: Any) -> dict[str, int]:
    return {f.rule.id: f.count for f in report.findings}


def test_rules_are_data() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(r.severity in ("blocking", "warning") and r.title and r.why for r in RULES)


def test_clean_table_has_no_blocking_findings() -> None:
    store = MemoryStore()
    store.create_table(SAMPLE_SPEC)
    store.bulk_put("sample", sample_items())
    report = check_table(store, "sample", "dynamodb")
    assert report.ok and report.items == 330
    found = _ids(report)
    # The sample data set sits on purpose at the edges: 400 KB items and 32 levels.
    assert found["item-near-size-limit"] == 5 and found["nesting-near-limit"] == 5
    assert "nul-in-key" not in found  # a postgres-only rule, not asked for


def test_target_specific_rules() -> None:
    store = MemoryStore()
    store.create_table(TableSpec("nul", KeyAttribute("pk")))
    store.put("nul", {"pk": "a\0b", "name\0x": "v", "lone": "\ud800"})
    pg = _ids(check_table(store, "nul", "postgres"))
    assert pg == {"nul-in-key": 1, "nul-in-name": 1, "lone-surrogate-text": 1}
    ddb = check_table(store, "nul", "dynamodb")
    assert _ids(ddb) == {"lone-surrogate": 1} and not ddb.ok
    assert _ids(check_table(store, "nul", "memory")) == {}


def test_near_limits() -> None:
    store = MemoryStore()
    store.create_table(TableSpec("edge", KeyAttribute("pk"), KeyAttribute("sk")))
    store.put("edge", {"pk": "p" * 2000, "sk": "s" * 1000})
    store.put("edge", big_item("big", "x", 380_000))
    store.put("edge", {"pk": "deep", "sk": "x", "d": nested(30)})
    store.put("edge", {"pk": "name", "sk": "x", "n" * 300: 1})
    found = _ids(check_table(store, "edge"))
    assert found == {
        "partition-key-near-limit": 1,
        "sort-key-near-limit": 1,
        "item-near-size-limit": 1,
        "nesting-near-limit": 1,
        "attribute-name-long": 1,
    }


def test_expired_ttl() -> None:
    store = MemoryStore()
    store.create_table(TableSpec("ttl", KeyAttribute("pk"), ttl_attribute="expires"))
    now = int(time.time())
    store.put("ttl", {"pk": "old", "expires": now - 60})
    store.put("ttl", {"pk": "ancient", "expires": now - 6 * 365 * 86400})  # ignored by TTL (S1)
    store.put("ttl", {"pk": "future", "expires": now + 3600})
    store.put("ttl", {"pk": "text", "expires": "yesterday"})
    report = check_table(store, "ttl")
    assert _ids(report) == {"ttl-expired": 1}
    assert report.findings[0].examples[0]["key"] == {"pk": {"S": "old"}}


def test_export_items_no_store_would_accept(tmp_path: Path) -> None:
    items = [
        marshal_item({"pk": "ok", "sk": 1}),
        marshal_item({"pk": "k1", "sk": 1}),
        {"pk": {"S": "k1"}, "sk": {"N": "1.0"}},  # the same key as the item above (V2)
        {"pk": {"S": "k2"}, "sk": {"N": "2.50"}, "n": {"N": "007"}},  # normalised, no collision
        {"pk": {"S": "big"}, "sk": {"N": "3"}, "n": {"N": "1E+126"}},  # out of range (V1)
        {"pk": {"S": "set"}, "sk": {"N": "4"}, "ss": {"SS": []}},  # empty set (V3)
        {"pk": {"S": ""}, "sk": {"N": "5"}},  # empty key (V4)
        {"pk": {"S": "deep"}, "sk": {"N": "6"}, "d": marshal_item({"x": nested(33)})["x"]},  # V7
        {"pk": {"S": "huge"}, "sk": {"N": "7"}, "b": {"S": "x" * 409_600}},  # V6
        {"pk": {"S": "nosk"}},
        # Out of range beyond even the working context (it normalises to Infinity): one more invalid item, no crash.
        {"pk": {"S": "vast"}, "sk": {"N": "8"}, "n": {"N": "1E+999999999"}},
    ]
    report = check_table(_export(tmp_path, items), "tab", "postgres", segments=1)
    found = _ids(report)
    assert found == {
        "invalid-item": 5,
        "item-too-large": 1,
        "nesting-too-deep": 1,
        "key-collision": 1,
        "number-normalised": 2,
    }
    assert not report.ok
    collision = next(f for f in report.findings if f.rule.id == "key-collision")
    assert "2 items" in collision.examples[0]["detail"]
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["ok"] is False and doc["findings"][0]["severity"] == "blocking"


def test_a_key_that_cannot_be_shown_as_typed_json_is_shown_as_text(tmp_path: Path) -> None:
    # A number set holding a NaN: no store would take it, and it cannot even be sorted into DynamoDB JSON for
    # the finding's example; the check still reports it.
    report = check_table(_export(tmp_path, [{"pk": {"NS": ["1", "NaN"]}, "sk": {"N": "9"}}]), "tab", "postgres",
                         segments=1)
    found = next(f for f in report.findings if f.rule.id == "invalid-item")
    assert found.count == 1 and "NaN" in found.examples[0]["key"]
    assert not report.ok


def test_unknown_target_kind() -> None:
    from storeswap import ValidationError

    store = MemoryStore()
    store.create_table(TableSpec("t-x", KeyAttribute("pk")))
    with pytest.raises(ValidationError, match="target kind"):
        check_table(store, "t-x", "oracle")


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    from storeswap.cli import main

    _export(tmp_path / "bad", [{"pk": {"S": "a"}, "sk": {"N": "1E+200"}}])
    _export(tmp_path / "good", [{"pk": {"S": "a"}, "sk": {"N": str(Decimal(1))}}])
    bad = [
        "check",
        "--source",
        f"dynamodb-export:{tmp_path / 'bad'}",
        "--table",
        "tab",
        "--partition-key",
        "pk:S",
        "--sort-key",
        "sk:N",
    ]
    assert main(bad) == 1
    assert main([*bad[:2], f"dynamodb-export:{tmp_path / 'good'}", *bad[3:], "--json"]) == 0
    # migrate refuses to start without --force, and copies what it can with it.
    state = tmp_path / "st.json"
    args = [
        "migrate",
        "--source",
        f"dynamodb-export:{tmp_path / 'bad'}",
        "--target",
        "memory",
        "--table",
        "tab",
        "--partition-key",
        "pk:S",
        "--sort-key",
        "sk:N",
        "--state",
        str(state),
    ]
    assert main(args) == 1 and not state.exists()


@pytest.mark.parametrize("value", [{"a0", 0}, {b"a0", 0}, {True, 2}, {1.5}, set()], ids=repr)
def test_a_plain_set_of_mixed_or_no_types_is_refused_not_coerced(value: set[Any]) -> None:
    from storeswap import ValidationError
    from storeswap.migrate.ddbjson import marshal_value

    with pytest.raises(ValidationError):
        marshal_value(value)  # {b"a0", 0} was {"BS": ["", "YTA="]}: bytes(0) is b""
    assert marshal_value({b"a", b"b"}) == {"BS": ["YQ==", "Yg=="]}
