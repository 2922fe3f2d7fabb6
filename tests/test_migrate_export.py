"""DynamoDB export files: writer -> reader -> memory store, verified; resumable; truncation detected."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from storeswap import ConfigurationError, KeyAttribute, TableSpec, ValidationError
from storeswap.adapters.memory import MemoryStore
from storeswap.migrate import ExportSource, copy_table, verify_tables, write_export
from storeswap.migrate.sample import SAMPLE_SPEC, sample_items


@pytest.fixture
def sample_export(tmp_path: Path) -> tuple[MemoryStore, Path]:
    """The sample data set written under tests/data-like tmp dir at run time (no binary files in git)."""
    store = MemoryStore()
    store.create_table(SAMPLE_SPEC)
    store.bulk_put("sample", sample_items())
    out = tmp_path / "export"
    write_export(store, "sample", out, items_per_file=60)
    return store, out


def test_layout_matches_dynamodb(sample_export: tuple[MemoryStore, Path]) -> None:
    _store, out = sample_export
    summary = json.loads((out / "manifest-summary.json").read_text())
    assert summary["outputFormat"] == "DYNAMODB_JSON" and summary["itemCount"] == 330
    entries = [json.loads(line) for line in (out / "manifest-files.json").read_text().splitlines()]
    assert sum(e["itemCount"] for e in entries) == 330 and len(entries) == 6
    assert all(e["dataFileS3Key"].startswith("AWSDynamoDB/") and "/data/" in e["dataFileS3Key"] for e in entries)
    with gzip.open(next((out / "data").iterdir()), "rt") as f:
        first = json.loads(f.readline())
    assert set(first) == {"Item"} and set(first["Item"]["pk"]) == {"S"}


def test_export_to_memory_round_trip(sample_export: tuple[MemoryStore, Path]) -> None:
    store, out = sample_export
    target = MemoryStore()
    source = ExportSource(out)
    assert source.estimate_count("copy") == 330
    report = copy_table(source, target, "copy", segments=4, batch=25)
    assert report.items == 330 and report.source_kind == "dynamodb-export"
    assert target.describe_table("copy") == attrs.evolve(SAMPLE_SPEC, name="copy")
    assert verify_tables(store, target, "sample", "copy").identical
    assert verify_tables(source, target, "copy").identical


def test_aws_layout_with_keys_given(sample_export: tuple[MemoryStore, Path], tmp_path: Path) -> None:
    """An AWS export has no spec file: keys come from --partition-key / --sort-key or --spec-json."""
    store, out = sample_export
    (out / "storeswap-table-spec.json").unlink()
    with pytest.raises(ConfigurationError, match="--partition-key"):
        ExportSource(out).describe("tab1")
    keys = ExportSource(out, partition_key=KeyAttribute("pk"), sort_key=KeyAttribute("sk"))
    assert keys.describe("tab1") == TableSpec("tab1", KeyAttribute("pk"), KeyAttribute("sk"))
    describe = {
        "Table": {
            "TableName": "x",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "grp", "AttributeType": "S"},
                {"AttributeName": "rank", "AttributeType": "N"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by_grp",
                    "KeySchema": [
                        {"AttributeName": "grp", "KeyType": "HASH"},
                        {"AttributeName": "rank", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        }
    }
    spec_file = tmp_path / "describe.json"
    spec_file.write_text(json.dumps(describe))
    spec = ExportSource(out, spec_json=spec_file).describe("tab2")
    assert spec.global_indexes == SAMPLE_SPEC.global_indexes and spec.name == "tab2"
    # The export directory may also be given from above (aws s3 sync of the AWSDynamoDB/ folder).
    nested = tmp_path / "AWSDynamoDB" / "01234-abc"
    nested.parent.mkdir()
    out.rename(nested)
    target = MemoryStore()
    copy_table(ExportSource(tmp_path / "AWSDynamoDB", spec_json=spec_file), target, "tab3")
    assert verify_tables(store, target, "sample", "tab3").spec_differences  # no LSI in that describe output
    assert (
        verify_tables(store, target, "sample", "tab3").source_digest
        == verify_tables(store, target, "sample", "tab3").target_digest
    )


def test_resume_mid_file(sample_export: tuple[MemoryStore, Path], tmp_path: Path) -> None:
    _store, out = sample_export
    source = ExportSource(out)
    pages = list(source.pages("x", 1, 2, None, 7))
    assert sum(len(p) for p in pages) == 150  # files 1, 3, 5 of six
    middle = pages[3].cursor
    assert middle is not None
    rest = list(source.pages("x", 1, 2, middle, 7))
    assert [i for p in rest for i in p.items] == [i for p in pages[4:] for i in p.items]
    assert pages[-1].cursor is None


def test_truncated_file_is_an_error(sample_export: tuple[MemoryStore, Path]) -> None:
    _, out = sample_export
    victim = sorted((out / "data").iterdir())[0]
    with gzip.open(victim, "rb") as f:
        lines = f.readlines()
    with gzip.open(victim, "wb") as f:
        f.writelines(lines[:-1])
    with pytest.raises(ValidationError, match="md5Checksum"):
        list(ExportSource(out).iter_items())
    with pytest.raises(ValidationError, match="manifest says"):
        list(ExportSource(out, check_md5=False).iter_items())


def test_numbers_are_read_as_written(tmp_path: Path) -> None:
    """Numbers keep their text until the port normalises them, so check can see what would change."""
    out = tmp_path / "e"
    (out / "data").mkdir(parents=True)
    with gzip.open(out / "data" / "f.json.gz", "wt") as f:
        f.write(json.dumps({"Item": {"pk": {"N": "1.50"}, "ns": {"NS": ["2.0", "3"]}}}) + "\n")
    (out / "manifest-files.json").write_text(json.dumps({"itemCount": 1, "dataFileS3Key": "x/data/f.json.gz"}) + "\n")
    (out / "manifest-summary.json").write_text(json.dumps({"outputFormat": "DYNAMODB_JSON", "itemCount": 1}))
    (item,) = ExportSource(out, partition_key=KeyAttribute("pk", "N")).iter_items()
    assert str(item["pk"]) == "1.50"
    target = MemoryStore()
    copy_table(ExportSource(out, partition_key=KeyAttribute("pk", "N")), target, "nums")
    assert target.get("nums", {"pk": Decimal("1.5")}) == {"pk": Decimal("1.5"), "ns": {Decimal(2), Decimal(3)}}


def _hand_written(out: Path, lines: list[str], key: str = "x/data/f.json.gz", summary: object = None) -> Path:
    (out / "data").mkdir(parents=True)
    with gzip.open(out / "data" / "f.json.gz", "wt") as f:
        f.writelines(line + "\n" for line in lines)
    items = sum(1 for line in lines if line.strip())
    (out / "manifest-files.json").write_text(json.dumps({"itemCount": items, "dataFileS3Key": key}) + "\n")
    (out / "manifest-summary.json").write_text(json.dumps(summary or {"outputFormat": "DYNAMODB_JSON"}))
    return out


_ITEM = json.dumps({"Item": {"pk": {"S": "a"}}})


@pytest.mark.parametrize(("lines", "match"), [
    ([json.dumps({"item": {}})], 'line 1: a line is a JSON object {"Item": ...}'),
    (["[1]"], "line 1: a line is a JSON object"),
    ([_ITEM, '{"Item": {"pk": {"S": "b"}, "d": ' + '{"L": [' * 5000 + "]}" * 5000 + "}}"], "line 2: nested too deeply"),
])
def test_a_malformed_line_is_a_validation_error_naming_it(tmp_path: Path, lines: list[str], match: str) -> None:
    out = _hand_written(tmp_path / "e", lines)
    with pytest.raises(ValidationError, match=re.escape(match)):
        list(ExportSource(out, partition_key=KeyAttribute("pk", "S")).iter_items())


def test_a_manifest_key_outside_the_export_is_refused(tmp_path: Path) -> None:
    # A file that exists outside the export: the manifest's key must not reach it.
    with gzip.open(tmp_path / "outside.json.gz", "wt") as f:
        f.write(_ITEM + "\n")
    out = _hand_written(tmp_path / "e", [_ITEM], key="x/../../outside.json.gz")
    with pytest.raises(ConfigurationError, match=re.escape("names a file outside it ('..')")):
        ExportSource(out, partition_key=KeyAttribute("pk", "S"))


def test_a_summary_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    out = _hand_written(tmp_path / "e", [_ITEM], summary=["DYNAMODB_JSON"])
    with pytest.raises(ConfigurationError, match="is not a JSON object"):
        ExportSource(out, partition_key=KeyAttribute("pk", "S"))


@pytest.mark.parametrize("spec", [
    [1], "pk", {"Table": 5}, {}, {"name": "x"}, {"partition_key": 7}, {"partition_key": None},
    {"partition_key": {"name": "pk", "type": "Q"}}, {"partition_key": {"name": "pk", "type": "S"}, "global_indexes": 5},
    {"KeySchema": 5}, {"Table": {"KeySchema": [{"AttributeName": "pk"}]}},
], ids=repr)
def test_a_spec_json_of_the_wrong_shape_is_a_configuration_error(tmp_path: Path, spec: object) -> None:
    out = _hand_written(tmp_path / "e", [_ITEM])
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ConfigurationError, match="JSON"):
        ExportSource(out, spec_json=tmp_path / "spec.json").describe("tab")


@pytest.mark.parametrize("victim", ["manifest-files.json", "manifest-summary.json", "storeswap-table-spec.json"])
def test_a_manifest_or_spec_that_is_not_text_is_a_configuration_error(tmp_path: Path, victim: str) -> None:
    out = _hand_written(tmp_path / "e", [_ITEM])
    (out / "storeswap-table-spec.json").write_text(json.dumps(TableSpec("tab", KeyAttribute("pk")).to_dict()))
    (out / victim).write_bytes(b"\xff\xfe{not json")
    with pytest.raises(ConfigurationError, match="cannot read"):
        ExportSource(out).describe("tab")


_DEEP = "[" * 200_000 + "]" * 200_000  # nested beyond the JSON parser's stack


@pytest.mark.parametrize(("victim", "content"), [
    ("manifest-summary.json", _DEEP),
    ("manifest-files.json", _DEEP + "\n"),
    ("storeswap-table-spec.json", _DEEP),
    ("manifest-files.json", json.dumps({"itemCount": 1e999, "dataFileS3Key": "x/data/f.json.gz"}) + "\n"),
    ("manifest-files.json", json.dumps({"itemCount": 1.7, "dataFileS3Key": "x/data/f.json.gz"}) + "\n"),
    ("manifest-files.json", json.dumps({"itemCount": True, "dataFileS3Key": "x/data/f.json.gz"}) + "\n"),
    ("manifest-files.json", json.dumps({"itemCount": 1, "dataFileS3Key": "x/" + "n" * 300 + "/f.json.gz"}) + "\n"),
], ids=["deep summary", "deep manifest", "deep spec", "itemCount 1e999", "itemCount 1.7", "itemCount true",
        "key part too long for the file system"])
def test_a_manifest_or_spec_file_of_any_content_is_one_configuration_error(
    tmp_path: Path, victim: str, content: str
) -> None:
    out = _hand_written(tmp_path / "e", [_ITEM])
    (out / "storeswap-table-spec.json").write_text(json.dumps(TableSpec("tab", KeyAttribute("pk")).to_dict()))
    (out / victim).write_text(content)
    with pytest.raises(ConfigurationError):
        ExportSource(out).describe("tab")


def test_corrupt_compressed_data_is_a_validation_error(tmp_path: Path) -> None:
    out = _hand_written(tmp_path / "e", [_ITEM] * 50)
    data = out / "data" / "f.json.gz"
    raw = bytearray(data.read_bytes())
    raw[20:60] = bytes(b ^ 0xFF for b in raw[20:60])  # inside the deflate stream: zlib.error, not an OSError
    data.write_bytes(bytes(raw))
    with pytest.raises(ValidationError, match="unreadable"):
        list(ExportSource(out, partition_key=KeyAttribute("pk", "S")).iter_items())


def test_an_empty_line_is_no_item(tmp_path: Path) -> None:
    out = _hand_written(tmp_path / "e", [_ITEM, "", json.dumps({"Item": {"pk": {"S": "b"}}})])
    assert [i["pk"] for i in ExportSource(out, partition_key=KeyAttribute("pk", "S")).iter_items()] == ["a", "b"]


def test_ion_and_incremental_exports_are_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest-summary.json").write_text(json.dumps({"outputFormat": "ION"}))
    with pytest.raises(ConfigurationError, match="ION"):
        ExportSource(tmp_path)
    (tmp_path / "manifest-summary.json").write_text(json.dumps({"exportType": "INCREMENTAL_EXPORT"}))
    with pytest.raises(ConfigurationError, match="incremental"):
        ExportSource(tmp_path)


def test_tests_data_sample_export_is_generated(tmp_path: Path) -> None:
    """The tiny sample export under tests/data/ is written at run time, never committed."""
    data = Path(__file__).parent / "data" / "sample-export"
    store = MemoryStore()
    store.create_table(TableSpec("tiny", KeyAttribute("pk"), KeyAttribute("sk", "N")))
    store.bulk_put("tiny", [{"pk": "a", "sk": 1, "v": "x"}, {"pk": "b", "sk": 2, "v": b"\0"}])
    write_export(store, "tiny", data, export_id="01700000000000-sample")
    target = MemoryStore()
    copy_table(ExportSource(data), target, "tiny")
    assert verify_tables(store, target, "tiny").identical


def test_one_manifest_reader_for_full_and_incremental_exports(sample_export: tuple[MemoryStore, Path]) -> None:
    """Both readers parse manifest-files.json with export_format.read_manifest_files: same errors, file and line named."""
    from storeswap.migrate.incremental import IncrementalExport

    _, out = sample_export
    listing = out / "manifest-files.json"
    good = listing.read_text().splitlines()
    listing.write_text("\n".join([good[0], '{"itemCount": 3}', *good[1:]]) + "\n")
    with pytest.raises(ConfigurationError, match=r"manifest-files.json line 2 is not a manifest entry"):
        ExportSource(out)
    summary = json.loads((out / "manifest-summary.json").read_text())
    summary.update(
        exportType="INCREMENTAL_EXPORT", exportFromTime="2026-01-01T00:00:00Z", exportToTime="2026-01-02T00:00:00Z"
    )
    (out / "manifest-summary.json").write_text(json.dumps(summary))
    with pytest.raises(ConfigurationError, match=r"manifest-files.json line 2 is not a manifest entry"):
        IncrementalExport(out)
    listing.unlink()
    with pytest.raises(ConfigurationError, match=r"has no manifest-files.json"):
        IncrementalExport(out)
