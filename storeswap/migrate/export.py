"""Write a table in the layout of DynamoDB's "Export to S3" (DYNAMODB_JSON), from any store.

The layout, as DynamoDB writes it under ``s3://bucket/prefix/AWSDynamoDB/<export-id>/``::

    manifest-summary.json    one JSON object: counts, times, format, where the file list is
    manifest-files.json      JSON lines: {"itemCount", "md5Checksum", "etag", "dataFileS3Key"}
    data/<name>.json.gz      gzip'd JSON lines: {"Item": {"pk": {"S": "..."}, ...}}

The writer adds ``storeswap-table-spec.json`` (the TableSpec, which an AWS
export does not carry) so that its exports are self-describing; the reader
uses that file when present and otherwise needs the key schema from the user.
Data files are gzip'd with a zero mtime, so an export of the same data is
byte-for-byte repeatable.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import IO, Any

from attrs import define

from storeswap.core.port import ItemStore
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.export_format import FILES_FILE, SPEC_FILE, SUMMARY_FILE
from storeswap.migrate.sources import ScanSource, as_source

# The file names are re-exported: callers have imported them from here (they live in .export_format).
__all__ = ["write_export", "ExportWritten", "SPEC_FILE", "SUMMARY_FILE", "FILES_FILE"]



@define(frozen=True)
class ExportWritten:
    """What :func:`write_export` wrote."""

    path: Path
    export_id: str
    item_count: int
    files: tuple[Path, ...]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _DataFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.raw: IO[bytes] = path.open("wb")
        self.gz = gzip.GzipFile(fileobj=self.raw, mode="wb", mtime=0)
        self.count = 0

    def write(self, item: dict[str, Any]) -> None:
        line = json.dumps({"Item": marshal_item(item)}, ensure_ascii=True, separators=(",", ":"))
        self.gz.write(line.encode("ascii") + b"\n")
        self.count += 1

    def close(self) -> None:
        self.gz.close()
        self.raw.close()


def write_export(
    source: ItemStore | ScanSource,
    table: str,
    out_dir: Path | str,
    *,
    items_per_file: int = 50_000,
    export_id: str | None = None,
    s3_bucket: str = "storeswap-export",
    s3_prefix: str = "",
    batch: int = 1000,
    include_spec: bool = True,
) -> ExportWritten:
    """Write every item of ``table`` as a DYNAMODB_JSON export in ``out_dir`` (created if needed).

    Streams: at most one page of ``batch`` items is held.  Manifests are
    written last, so a crash leaves no export that looks complete.
    """
    src = as_source(source)
    out = Path(out_dir)
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    export_id = export_id or f"{int(dt.datetime.now(dt.UTC).timestamp() * 1000):013d}-{uuid.uuid4().hex[:8]}"
    base_key = f"{s3_prefix.strip('/') + '/' if s3_prefix.strip('/') else ''}AWSDynamoDB/{export_id}"
    spec = src.describe(table)
    start = _now()
    files: list[_DataFile] = []
    current: _DataFile | None = None
    total = 0
    try:
        for page in src.pages(table, 0, 1, None, batch):
            for item in page.items:
                if current is None or current.count >= items_per_file:
                    if current is not None:
                        current.close()
                    current = _DataFile(data_dir / f"{uuid.uuid4().hex[:26]}.json.gz")
                    files.append(current)
                current.write(item)
                total += 1
    finally:
        if current is not None:
            current.close()
    lines = []
    for f in files:
        blob = f.path.read_bytes()
        lines.append(
            json.dumps(
                {
                    "itemCount": f.count,
                    "md5Checksum": base64.b64encode(hashlib.md5(blob, usedforsecurity=False).digest()).decode(),
                    "etag": hashlib.md5(blob, usedforsecurity=False).hexdigest(),
                    "dataFileS3Key": f"{base_key}/data/{f.path.name}",
                },
                separators=(",", ":"),
            )
        )
    (out / FILES_FILE).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    if include_spec:
        (out / SPEC_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n", encoding="utf-8")
    summary = {
        "version": "2020-06-30",
        "exportArn": f"arn:aws:dynamodb:local:000000000000:table/{table}/export/{export_id}",
        "startTime": start,
        "endTime": _now(),
        "tableArn": f"arn:aws:dynamodb:local:000000000000:table/{table}",
        "tableId": str(uuid.uuid5(uuid.NAMESPACE_URL, table)),
        "exportTime": start,
        "s3Bucket": s3_bucket,
        "s3Prefix": s3_prefix or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{base_key}/{FILES_FILE}",
        "billedSizeBytes": sum(f.path.stat().st_size for f in files),
        "itemCount": total,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return ExportWritten(out, export_id, total, tuple(f.path for f in files))
