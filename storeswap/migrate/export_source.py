"""Read DynamoDB's "Export to S3" files (DYNAMODB_JSON, full export) as a migration source.

``--source dynamodb-export:PATH``: ``PATH`` is the export directory holding
``manifest-summary.json`` (or a directory above it holding exactly one,
e.g. the ``AWSDynamoDB/`` folder synced from S3).  ``PATH`` may be an
``s3://bucket/prefix/`` as well: the export is then read straight from S3
(:mod:`.s3_files`, boto3's usual endpoint and credential chain), each data
file downloaded once and checked before any of its items is yielded.  ``dataFileS3Key`` values
are resolved against the directory by their longest suffix that exists, so
the usual ``aws s3 sync s3://bucket/prefix/AWSDynamoDB/<id>/ ./x`` works.

An AWS export does not record the key schema, so the spec comes from, in
order: a :class:`TableSpec` passed in, ``--spec-json FILE`` (the
``TableSpec.to_dict`` form or a DynamoDB ``DescribeTable`` response),
``--partition-key name:T [--sort-key name:T]``, or the
``storeswap-table-spec.json`` that storeswap's own writer adds.

Parallel segments are sets of data files (file ``i`` belongs to segment
``i % N``; :meth:`ExportSource.default_segments` is one file per segment, so
each file is one task of a distributed engine); a cursor is the position (file, line) inside the segment, so a
killed copy resumes mid-file.  Every file's line count is checked against
the manifest's ``itemCount`` and its MD5 against ``md5Checksum`` (before its
first item is yielded), so a truncated download fails loudly instead of
migrating part of the table.  Every data file the manifest lists must exist
when the source is opened, so a missing one is refused before anything is
written.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
from attrs import define

from storeswap.core.errors import ConfigurationError, ValidationError
from storeswap.core.jsontext import describe
from storeswap.core.requests import Page
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import Item
from storeswap.migrate.ddbjson import unmarshal_item
from storeswap.migrate.export_format import (
    GZIP_ERRORS,
    LINE_ERRORS,
    SPEC_FILE,
    SUMMARY_FILE,
    export_path,
    find_data_file,
    read_json_file,
    read_manifest_files,
    read_summary,
)

__all__ = ["ExportSource", "ExportFile", "spec_from_json"]


@define(frozen=True)
class ExportFile:
    """One data file of an export, as the manifest lists it (``path``: a local Path or an S3 path)."""

    path: Any
    item_count: int
    md5: str | None


def _find_export_dir(path: Any) -> Any:
    if (path / SUMMARY_FILE).is_file():
        return path
    if not path.is_dir():
        what = "nothing under that prefix" if str(path).startswith("s3://") else "not a directory"
        raise ConfigurationError(f"no DynamoDB export at {path}: {what}")
    found = sorted(
        {p.parent for p in path.glob(f"*/{SUMMARY_FILE}")} | {p.parent for p in path.glob(f"*/*/{SUMMARY_FILE}")}
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigurationError(f"no {SUMMARY_FILE} in {path} or the two levels below it")
    raise ConfigurationError(f"{path} holds several exports; name one of: {', '.join(str(p) for p in found)}")


def _resolve(export_dir: Any, key: str) -> Any:
    found = find_data_file((export_dir,), key)
    if found is None:
        raise ConfigurationError(f"data file {key} of the export is not under {export_dir}")
    return found


def spec_from_json(data: Mapping[str, Any], name: str) -> TableSpec:
    """A spec from ``TableSpec.to_dict`` JSON or a DynamoDB ``DescribeTable`` response, renamed to ``name``.

    JSON of any other shape is a :class:`ConfigurationError` (it comes from a file the user names).
    """
    if isinstance(data, Mapping) and "Table" in data:
        data = data["Table"]
    if not isinstance(data, Mapping):
        raise ConfigurationError("the table spec JSON is not an object (a TableSpec or a DescribeTable response)")
    if "KeySchema" in data:
        try:
            # An AWS export carries no TTL setting, so none is taken from the description either.
            return TableSpec.from_describe(data, name=name)
        except ValidationError as e:
            raise ConfigurationError(f"the DescribeTable JSON: {e}") from None
    try:
        return TableSpec.from_dict({**data, "name": name})
    except ValidationError as e:
        raise ConfigurationError(f"the table spec JSON: {e}") from None


def _spec_file(path: Any, table: str) -> TableSpec:
    """:func:`spec_from_json` of a file's JSON (a :class:`ConfigurationError` naming it when it cannot be read)."""
    return spec_from_json(read_json_file(path, f"the spec file {path}"), table)


def _encode_position(file_index: int, line: int) -> str:
    raw = json.dumps({"f": file_index, "l": line}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_position(cursor: str) -> tuple[int, int]:
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        f, line = int(body["f"]), int(body["l"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationError("the export cursor is malformed") from None
    if f < 0 or line < 0:
        raise ValidationError("the export cursor is malformed")
    return f, line


class ExportSource:
    """A DynamoDB table export (DYNAMODB_JSON) on disk, read as a :class:`ScanSource`."""

    kind = "dynamodb-export"

    def __init__(
        self,
        path: Any,
        *,
        spec: TableSpec | None = None,
        spec_json: Path | str | None = None,
        partition_key: KeyAttribute | None = None,
        sort_key: KeyAttribute | None = None,
        check_md5: bool = True,
    ) -> None:
        self.path = _find_export_dir(export_path(path))
        self.check_md5 = check_md5
        self.summary = read_summary(self.path)
        fmt = self.summary.get("outputFormat", "DYNAMODB_JSON")
        if fmt != "DYNAMODB_JSON":
            raise ConfigurationError(f"export format {fmt} is not supported; export with DYNAMODB_JSON")
        if self.summary.get("exportType", "FULL_EXPORT") != "FULL_EXPORT":
            raise ConfigurationError("incremental exports are not supported; use a full export")
        self.files = self._read_files()
        self._spec = spec
        self._spec_json = None if spec_json is None else Path(spec_json)
        if sort_key is not None and partition_key is None:
            raise ConfigurationError("--sort-key needs --partition-key")
        self._keys = (partition_key, sort_key)

    def __repr__(self) -> str:
        return f"ExportSource({str(self.path)!r}, files={len(self.files)})"

    def _read_files(self) -> list[ExportFile]:
        return [ExportFile(_resolve(self.path, e.key), e.item_count, e.md5) for e in read_manifest_files(self.path)]

    # ------------------------------------------------------------ ScanSource

    def describe(self, table: str) -> TableSpec:
        """The spec for ``table`` (see the module docstring for where it comes from)."""
        if self._spec is not None:
            return attrs.evolve(self._spec, name=table)
        if self._spec_json is not None:
            return _spec_file(self._spec_json, table)
        pk, sk = self._keys
        if pk is not None:
            return TableSpec(table, pk, sk)
        own = self.path / SPEC_FILE
        if own.is_file():
            return _spec_file(own, table)
        raise ConfigurationError(
            "a DynamoDB export does not record its key schema: give --spec-json FILE "
            "or --partition-key name:S [--sort-key name:N]"
        )

    def default_segments(self) -> int:
        """One segment per data file: each file is one unit of work (one task on a distributed engine)."""
        return max(1, len(self.files))

    def estimate_count(self, table: str) -> int | None:
        """The manifest's item count (exact)."""
        return sum(f.item_count for f in self.files)

    def pages(self, table: str, segment: int, total_segments: int, cursor: str | None, limit: int) -> Iterator[Page]:
        """Pages of the files of one segment, from a (file, line) cursor."""
        if not 0 <= segment < total_segments:
            raise ValidationError("segment must be from 0 to total_segments - 1")
        mine = self.files[segment::total_segments]
        start_file, start_line = (0, 0) if cursor is None else _decode_position(cursor)
        if start_file > len(mine):
            raise ValidationError("the export cursor points past the segment's files")
        batch: list[Item] = []
        position: tuple[int, int] | None = None
        emitted = False
        for fi in range(start_file, len(mine)):
            for line_no, item in self._read(mine[fi], start_line if fi == start_file else 0):
                if len(batch) >= limit:
                    assert position is not None
                    yield Page(batch, _encode_position(*position))
                    emitted = True
                    batch = []
                batch.append(item)
                position = (fi, line_no)
        # After an emitted page the batch always holds the item that triggered it.
        if batch or not emitted:
            yield Page(batch, None)

    def _read(self, f: ExportFile, skip: int) -> Iterator[tuple[int, Item]]:
        n = 0  # lines read (a cursor's position)
        items = 0  # of them, the items (an empty line is none)
        try:
            # One open per file (one GET from S3): the MD5 is checked on the same bytes before any item is read.
            with f.path.open("rb") as raw:
                if self.check_md5 and f.md5 and skip == 0:
                    digest = hashlib.md5(usedforsecurity=False)
                    for chunk in iter(lambda: raw.read(1 << 20), b""):
                        digest.update(chunk)
                    if base64.b64encode(digest.digest()).decode() != f.md5:
                        raise ValidationError(
                            f"export file {f.path} does not match its md5Checksum (truncated or altered copy?); "
                            "fetch it again, or pass --no-checksums to read it anyway"
                        )
                    raw.seek(0)
                with gzip.GzipFile(fileobj=raw, mode="rb") as lines:
                    for raw_line in lines:
                        n += 1
                        if not raw_line.strip():
                            continue
                        items += 1
                        if n <= skip:
                            continue
                        try:
                            record = json.loads(raw_line)
                            if not isinstance(record, dict) or "Item" not in record:
                                raise ValueError('a line is a JSON object {"Item": ...}')
                            item = unmarshal_item(record["Item"])
                        except LINE_ERRORS as e:
                            raise ValidationError(f"export file {f.path.name} line {n}: {describe(e)}") from None
                        yield n, item
        except GZIP_ERRORS as e:
            raise ValidationError(f"export file {f.path.name} is unreadable: {e}") from None
        if items != f.item_count:
            raise ValidationError(
                f"export file {f.path.name} holds {items} items but the manifest says {f.item_count} (truncated?)"
            )

    def iter_items(self) -> Iterator[Item]:
        """Every item of the export, file by file."""
        for page in self.pages("export", 0, 1, None, 1000):
            yield from page.items

    def close(self) -> None:
        """Nothing to release (files are opened per read)."""
