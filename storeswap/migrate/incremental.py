"""Replay DynamoDB incremental exports (``INCREMENTAL_EXPORT``, format 2023-08-01) onto any store.

An incremental export holds the items that changed in one time window
``[exportFromTime, exportToTime)``, compacted to one record per item (see
``docs/decisions/0023-incremental-export-replay.md`` for the sources)::

    AWSDynamoDB/<export-id>/manifest-summary.json   exportType, exportFromTime, exportToTime, outputView
    AWSDynamoDB/<export-id>/manifest-summary.checksum
    AWSDynamoDB/<export-id>/manifest-files.json     JSON lines: itemCount, md5Checksum, etag, dataFileS3Key
    AWSDynamoDB/<export-id>/manifest-files.checksum
    AWSDynamoDB/data/<name>.json.gz                 shared by every incremental export of the prefix

Each data line is ``{"Metadata": {"WriteTimestampMicros": {"N": ...}}, "Keys": {...},
"NewImage": {...}, "OldImage": {...}}``: ``NewImage`` is absent for a delete,
``OldImage`` present only with the ``NEW_AND_OLD_IMAGES`` view.

:func:`replay_incrementals` applies a chain of them after a full export:
every window must start exactly where the previous one ended (else
:class:`ExportWindowGap`), every manifest checksum must match (else
:class:`ChecksumMismatch`, unless ``checksums=False``), and every record
becomes an idempotent write — the full new image put, or a delete by key —
applied per key in write-timestamp order.  After each acknowledged batch a
:class:`ReplayCheckpoint` goes to ``on_checkpoint``; passing it back as
``checkpoint`` resumes where the replay stopped, and re-applying a batch
that was written but not yet checkpointed is harmless (same images).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field

from storeswap.core.errors import ConfigurationError, ValidationError
from storeswap.core.jsontext import describe
from storeswap.core.port import MAX_BATCH_WRITE, BatchDelete, BatchPut, ItemStore
from storeswap.core.schema import TableSpec
from storeswap.migrate.canonical import canonical_key
from storeswap.migrate.ddbjson import marshal_item, unmarshal_item
from storeswap.migrate.export_format import (
    FILES_FILE,
    GZIP_ERRORS,
    LINE_ERRORS,
    SUMMARY_FILE,
    export_path,
    find_data_file,
    open_gzip,
    read_manifest_files,
    read_summary,
)
from storeswap.migrate.export_source import ExportSource
from storeswap.migrate.s3_files import S3Path

__all__ = [
    "INCREMENTAL_EXPORT",
    "INCREMENTAL_VERSION",
    "ExportWindowGap",
    "ChecksumMismatch",
    "ChecksumProblem",
    "IncrementalRecord",
    "IncrementalFile",
    "IncrementalExport",
    "ReplayCheckpoint",
    "ReplayReport",
    "open_incrementals",
    "check_chain",
    "prepare_chain",
    "replay_incrementals",
    "write_incremental_export",
]

INCREMENTAL_EXPORT = "INCREMENTAL_EXPORT"
#: The manifest ``version`` DynamoDB writes for incremental exports.
INCREMENTAL_VERSION = "2023-08-01"
VIEWS = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")
SUMMARY_CHECKSUM = "manifest-summary.checksum"
FILES_CHECKSUM = "manifest-files.checksum"


class ExportWindowGap(ConfigurationError):
    """An incremental export does not start where the previous window (or the full export) ended."""

    def __init__(self, message: str, *, previous_end: dt.datetime, next_start: dt.datetime) -> None:
        super().__init__(message)
        self.previous_end = previous_end
        self.next_start = next_start


@define(frozen=True)
class ChecksumProblem:
    """One file whose bytes do not match what its manifest recorded (``file``: a local Path or an S3 path)."""

    file: Any
    what: str  # "md5Checksum", "etag", "itemCount", "manifest-files.checksum", ...
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"{self.file}: {self.what} is {self.actual}, the manifest says {self.expected}"


class ChecksumMismatch(ValidationError):
    """Export files do not match their manifests (a truncated or altered download); nothing was written."""

    def __init__(self, problems: Sequence[ChecksumProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(
            f"{len(problems)} checksum mismatch(es): {shown}{more}; "
            "re-download the export, or pass checksums=False (--no-checksums) to replay it anyway"
        )
        self.problems = list(problems)


@define(frozen=True)
class IncrementalRecord:
    """One changed item of an incremental export, decoded (numbers as written)."""

    write_micros: int
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None = None

    @property
    def is_delete(self) -> bool:
        """True when the item did not exist at the end of the window."""
        return self.new_image is None


@define(frozen=True)
class IncrementalFile:
    """One data file of an incremental export, as its manifest lists it (``path``: local or S3)."""

    key: str
    path: Any
    item_count: int
    md5: str | None
    etag: str | None


def _parse_time(value: Any, what: str, where: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ConfigurationError(f"{where}: {what} is missing")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(f"{where}: {what} {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _format_time(t: dt.datetime) -> str:
    # DynamoDB writes milliseconds; keep microseconds only when a time carries them, so no time is rounded.
    text = t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if t.microsecond % 1000 == 0 else text) + "Z"


def _micros(t: dt.datetime) -> int:
    delta = t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _md5(path: Any) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as raw:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            digest.update(chunk)
    return digest.digest()


class _Hashing:
    """A binary reader that adds every byte read through it to ``digest`` (one download checks and counts)."""

    def __init__(self, raw: Any, digest: Any) -> None:
        self.raw, self.digest = raw, digest

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        self.digest.update(data)
        return data


def _digest_and_count(path: Any) -> tuple[bytes, int | None, str | None]:
    """One read of a gzip data file: its MD5, its non-empty line count and, if it does not decompress, why."""
    digest = hashlib.md5(usedforsecurity=False)
    count: int | None = None
    problem: str | None = None
    with path.open("rb") as raw:
        try:
            with gzip.GzipFile(fileobj=_Hashing(raw, digest), mode="rb") as lines:  # type: ignore[call-overload]
                count = sum(1 for line in lines if line.strip())
        except GZIP_ERRORS as e:
            problem = str(e)
        for chunk in iter(lambda: raw.read(1 << 20), b""):  # what gzip left unread still counts for the MD5
            digest.update(chunk)
    return digest.digest(), count, problem


def _checksum_text_matches(text: str, digest: bytes) -> bool:
    # The .checksum files hold the manifest's MD5; accept hex or base64 spelling (AWS does not document which).
    text = text.strip()
    return text.lower() == digest.hex() or text == base64.b64encode(digest).decode()


def _resolve(export_dir: Any, key: str) -> Any:
    """The local file of ``dataFileS3Key``: incremental data lives beside the export dir, in ``AWSDynamoDB/data``."""
    found = find_data_file((export_dir, export_dir.parent, export_dir.parent.parent), key)
    if found is None:
        raise ConfigurationError(f"data file {key} of the export at {export_dir} is not there or in its parent folders")
    return found


class IncrementalExport:
    """One incremental export, on disk or under an ``s3://`` prefix: its manifests, window and data files."""

    def __init__(self, path: Any) -> None:
        self.path = export_path(path)
        summary_path = self.path / SUMMARY_FILE
        self.summary = read_summary(self.path)
        if self.summary.get("exportType") != INCREMENTAL_EXPORT:
            raise ConfigurationError(
                f"{self.path} is a {self.summary.get('exportType', 'FULL_EXPORT')}, not an incremental export"
            )
        fmt = self.summary.get("outputFormat", "DYNAMODB_JSON")
        if fmt != "DYNAMODB_JSON":
            raise ConfigurationError(f"{self.path}: export format {fmt} is not supported; export with DYNAMODB_JSON")
        self.view: str = self.summary.get("outputView") or "NEW_AND_OLD_IMAGES"
        if self.view not in VIEWS:
            raise ConfigurationError(f"{self.path}: unknown outputView {self.view!r}")
        self.from_time = _parse_time(self.summary.get("exportFromTime"), "exportFromTime", summary_path)
        self.to_time = _parse_time(self.summary.get("exportToTime"), "exportToTime", summary_path)
        if self.to_time <= self.from_time:
            raise ConfigurationError(f"{summary_path}: exportToTime is not after exportFromTime")
        arn = self.summary.get("exportArn")
        self.export_id: str = arn.rsplit("/", 1)[-1] if isinstance(arn, str) and arn else self.path.name
        self.table_arn: str | None = self.summary.get("tableArn")
        self.files = self._read_files()

    def __repr__(self) -> str:
        return f"IncrementalExport({str(self.path)!r}, {self.window})"

    @property
    def window(self) -> str:
        """``FROM .. TO`` as written in the manifest (start inclusive, end exclusive)."""
        return f"[{_format_time(self.from_time)}, {_format_time(self.to_time)})"

    def _read_files(self) -> list[IncrementalFile]:
        return [
            IncrementalFile(e.key, _resolve(self.path, e.key), e.item_count, e.md5, e.etag)
            for e in read_manifest_files(self.path)
        ]

    def verify(self) -> list[ChecksumProblem]:
        """Every checksum the manifests record, compared with the files: manifests, data MD5, ETag, item counts."""
        problems: list[ChecksumProblem] = []
        for manifest, checksum in ((SUMMARY_FILE, SUMMARY_CHECKSUM), (FILES_FILE, FILES_CHECKSUM)):
            expected_path = self.path / checksum
            if expected_path.is_file():
                digest = _md5(self.path / manifest)
                expected = expected_path.read_bytes().decode("utf-8", "replace").strip()  # not text: a mismatch
                if not _checksum_text_matches(expected, digest):
                    problems.append(ChecksumProblem(self.path / manifest, checksum, expected, digest.hex()))
        for f in self.files:
            digest, count, unreadable = _digest_and_count(f.path)  # one read (one download from S3) per file
            if f.md5 and base64.b64encode(digest).decode() != f.md5:
                problems.append(ChecksumProblem(f.path, "md5Checksum", f.md5, base64.b64encode(digest).decode()))
            # A multipart ETag ("<hex>-<parts>") is a digest of part digests: not comparable with a local file.
            if f.etag and "-" not in f.etag and f.etag.strip('"').lower() != digest.hex():
                problems.append(ChecksumProblem(f.path, "etag", f.etag, digest.hex()))
            if unreadable is not None:
                problems.append(ChecksumProblem(f.path, "gzip", "a readable gzip file", unreadable))
                continue
            if count != f.item_count:
                problems.append(ChecksumProblem(f.path, "itemCount", str(f.item_count), str(count)))
        return problems

    def records(self, spec: TableSpec) -> Iterator[IncrementalRecord]:
        """Every record of the export, file by file, decoded and checked against the window and ``spec``'s key."""
        lo, hi = _micros(self.from_time), _micros(self.to_time)
        key_names = set(spec.key_names)
        for f in self.files:
            try:
                with open_gzip(f.path) as lines:
                    for n, raw in enumerate(lines, 1):
                        if raw.strip():
                            yield self._record(raw, f"{f.path.name} line {n}", lo, hi, key_names)
            except GZIP_ERRORS as e:
                raise ValidationError(f"export file {f.path} is unreadable: {e}") from None

    def _record(self, raw: bytes, where: str, lo: int, hi: int, key_names: set[str]) -> IncrementalRecord:
        try:
            body = json.loads(raw)
            stamp = body["Metadata"]["WriteTimestampMicros"]
            keys = unmarshal_item(body["Keys"])
            new = body.get("NewImage")
            old = body.get("OldImage")
            new_image = None if new is None else unmarshal_item(new)
            old_image = None if old is None else unmarshal_item(old)
        except LINE_ERRORS as e:
            raise ValidationError(f"incremental export {self.export_id}, {where}: {describe(e)}") from None
        # DynamoDB JSON writes the timestamp as {"N": "<micros>"}; a bare integer is accepted too.
        text: Any = stamp.get("N") if isinstance(stamp, Mapping) else stamp
        try:
            micros = int(text)
        except (TypeError, ValueError):
            raise ValidationError(f"incremental export {self.export_id}, {where}: bad WriteTimestampMicros") from None
        if not lo <= micros < hi:
            raise ValidationError(
                f"incremental export {self.export_id}, {where}: write time {micros} µs is outside the window {self.window}"
            )
        if set(keys) != key_names:
            raise ValidationError(
                f"incremental export {self.export_id}, {where}: Keys names {sorted(keys)}, "
                f"the table's key is {sorted(key_names)}"
            )
        if new_image is not None and any(new_image.get(k) != v for k, v in keys.items()):
            raise ValidationError(f"incremental export {self.export_id}, {where}: NewImage does not hold its Keys")
        return IncrementalRecord(micros, keys, new_image, old_image)


def open_incrementals(paths: Any) -> list[IncrementalExport]:
    """The incremental exports at ``paths``, sorted by window start.

    Each path is one export folder (holding ``manifest-summary.json``) or a
    folder holding several (e.g. the synced ``AWSDynamoDB/`` folder; full
    exports in it are left out), local or ``s3://bucket/prefix/``.
    """
    items = [paths] if isinstance(paths, (str, Path, S3Path)) else list(paths)
    found: list[IncrementalExport] = []
    for raw in items:
        p = export_path(raw)
        if (p / SUMMARY_FILE).is_file():
            found.append(IncrementalExport(p))
            continue
        if not p.is_dir():
            raise ConfigurationError(f"no incremental export at {p}: not a directory")
        candidates = sorted(
            {s.parent for s in p.glob(f"*/{SUMMARY_FILE}")} | {s.parent for s in p.glob(f"*/*/{SUMMARY_FILE}")}
        )
        here = []
        for c in candidates:
            kind = read_summary(c).get("exportType")
            if kind == INCREMENTAL_EXPORT:
                here.append(IncrementalExport(c))
        if not here:
            raise ConfigurationError(f"no incremental export in {p} or the two levels below it")
        found.extend(here)
    return sorted(found, key=lambda e: (e.from_time, e.to_time))


def _full_export_time(full: ExportSource) -> tuple[dt.datetime, str | None]:
    return _parse_time(full.summary.get("exportTime"), "exportTime", full.path / SUMMARY_FILE), full.summary.get(
        "tableArn"
    )


def check_chain(exports: Sequence[IncrementalExport], start: dt.datetime | None = None) -> None:
    """Refuse a chain with a gap or an overlap: each window starts where the previous one (or ``start``) ended."""
    previous_end, previous_name = start, "the full export (exportTime)"
    for e in exports:
        if previous_end is not None and e.from_time != previous_end:
            kind = "a gap" if e.from_time > previous_end else "an overlap"
            raise ExportWindowGap(
                f"incremental export {e.export_id} starts at {_format_time(e.from_time)} but {previous_name} "
                f"ended at {_format_time(previous_end)}: {kind} of {abs(e.from_time - previous_end)}; "
                "changes in between would be lost or replayed out of order",
                previous_end=previous_end,
                next_start=e.from_time,
            )
        previous_end, previous_name = e.to_time, f"the previous window ({e.export_id})"


@define(frozen=True)
class ReplayCheckpoint:
    """Where a replay stands: ``applied`` records of export ``export_id`` are written (all when ``complete``).

    Exports before ``export_id`` in window order are fully applied.  JSON-ready through :meth:`to_dict`.
    """

    export_id: str
    to_time: str
    applied: int
    complete: bool

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as plain JSON values."""
        return {
            "export_id": self.export_id,
            "to_time": self.to_time,
            "applied": self.applied,
            "complete": self.complete,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReplayCheckpoint:
        """The inverse of :meth:`to_dict`."""
        try:
            return cls(str(data["export_id"]), str(data["to_time"]), int(data["applied"]), bool(data["complete"]))
        except (KeyError, TypeError, ValueError):
            raise ValidationError("the incremental replay checkpoint is malformed") from None


@define
class ReplayReport:
    """What :func:`replay_incrementals` did."""

    exports: int = 0
    records: int = 0
    puts: int = 0
    deletes: int = 0
    #: records already applied before a resume, not written again
    resumed_past: int = 0
    #: mismatches found and accepted with ``checksums=False`` (empty when they were checked and matched)
    checksum_problems: list[ChecksumProblem] = field(factory=list)
    checkpoint: ReplayCheckpoint | None = None


def _ordered(records: Iterable[IncrementalRecord], spec: TableSpec) -> list[IncrementalRecord]:
    """One record per key (the latest write wins; a tie keeps the later line), in (write time, key) order."""
    latest: dict[bytes, tuple[IncrementalRecord, bytes]] = {}
    for r in records:
        k = canonical_key(spec, r.keys)
        seen = latest.get(k)
        if seen is None or r.write_micros >= seen[0].write_micros:
            latest[k] = (r, k)
    # The key breaks ties so the order, and therefore a checkpoint's "applied" count, is the same on every run.
    return [r for r, _ in sorted(latest.values(), key=lambda rk: (rk[0].write_micros, rk[1]))]


def _start_index(exports: Sequence[IncrementalExport], checkpoint: ReplayCheckpoint | None) -> tuple[int, int]:
    if checkpoint is None:
        return 0, 0
    for i, e in enumerate(exports):
        if e.export_id == checkpoint.export_id:
            if _format_time(e.to_time) != checkpoint.to_time:
                raise ValidationError(
                    f"the checkpoint's export {checkpoint.export_id} ended at {checkpoint.to_time}, "
                    f"the one given ends at {_format_time(e.to_time)}"
                )
            return (i + 1, 0) if checkpoint.complete else (i, checkpoint.applied)
    raise ValidationError(
        f"the checkpoint names export {checkpoint.export_id}, which is not among the incremental exports given"
    )


def prepare_chain(
    exports: Sequence[IncrementalExport] | Path | str | Iterable[Path | str],
    *,
    full_export: ExportSource | Path | str | None = None,
    start_time: dt.datetime | None = None,
    checksums: bool = True,
) -> tuple[list[IncrementalExport], list[ChecksumProblem]]:
    """Open and check a chain without writing anything: window order, contiguity, one table, checksums.

    Raises :class:`ExportWindowGap` on a gap or overlap (the chain must start
    at the full export's ``exportTime`` or ``start_time``) and
    :class:`ChecksumMismatch` on a checksum that does not match, unless
    ``checksums=False``, when the mismatches are returned instead.
    """
    chain: list[IncrementalExport] = (
        [e for e in exports if isinstance(e, IncrementalExport)]
        if isinstance(exports, Sequence) and exports and all(isinstance(e, IncrementalExport) for e in exports)
        else open_incrementals(exports)
    )
    chain.sort(key=lambda e: (e.from_time, e.to_time))
    if not chain:
        raise ConfigurationError("no incremental exports to replay")
    table_arn: str | None = None
    if full_export is not None:
        full = full_export if isinstance(full_export, ExportSource) else ExportSource(full_export)
        full_time, table_arn = _full_export_time(full)
        if start_time is None:
            start_time = full_time
    arns = {e.table_arn for e in chain if e.table_arn} | ({table_arn} if table_arn else set())
    if len(arns) > 1:
        raise ConfigurationError(f"the exports come from different tables: {', '.join(sorted(arns))}")
    check_chain(chain, start_time)
    problems = [p for e in chain for p in e.verify()]
    if problems and checksums:
        raise ChecksumMismatch(problems)
    return chain, problems


def replay_incrementals(
    target: ItemStore,
    table: str,
    exports: Sequence[IncrementalExport] | Path | str | Iterable[Path | str],
    *,
    full_export: ExportSource | Path | str | None = None,
    start_time: dt.datetime | None = None,
    checksums: bool = True,
    checkpoint: ReplayCheckpoint | Mapping[str, Any] | None = None,
    on_checkpoint: Callable[[ReplayCheckpoint], None] | None = None,
    batch: int = MAX_BATCH_WRITE,
) -> ReplayReport:
    """Apply incremental exports, in window order, to ``table`` on ``target`` (already holding the full export).

    The chain must start at the full export's ``exportTime`` (``full_export``)
    or at ``start_time`` when given, and be contiguous (:func:`check_chain`).
    Checksums of every export are checked before anything is written; with
    ``checksums=False`` mismatches are returned in the report instead of
    raised.  Records of one export are validated before its first write.
    """
    if not 1 <= batch <= MAX_BATCH_WRITE:
        raise ValidationError(f"batch must be from 1 to {MAX_BATCH_WRITE}")
    chain, problems = prepare_chain(exports, full_export=full_export, start_time=start_time, checksums=checksums)
    report = ReplayReport(exports=len(chain))
    report.checksum_problems = problems
    resume = ReplayCheckpoint.from_dict(checkpoint) if isinstance(checkpoint, Mapping) else checkpoint
    first, skip = _start_index(chain, resume)
    report.checkpoint = resume
    spec = target.describe_table(table)
    for e in chain[:first]:
        report.resumed_past += e.summary.get("itemCount", 0) if isinstance(e.summary.get("itemCount"), int) else 0
    for idx in range(first, len(chain)):
        e = chain[idx]
        records = _ordered(e.records(spec), spec)
        start = skip if idx == first else 0
        if start > len(records):
            raise ValidationError(
                f"the checkpoint says {start} records of {e.export_id} are applied; it holds {len(records)}"
            )
        report.resumed_past += start
        to_time = _format_time(e.to_time)
        for lo in range(start, len(records), batch):
            chunk = records[lo : lo + batch]
            target.batch_write(
                [BatchPut(table, r.new_image) if r.new_image is not None else BatchDelete(table, r.keys) for r in chunk]
            )
            for r in chunk:
                if r.is_delete:
                    report.deletes += 1
                else:
                    report.puts += 1
            report.records += len(chunk)
            applied = lo + len(chunk)
            report.checkpoint = ReplayCheckpoint(e.export_id, to_time, applied, applied == len(records))
            if on_checkpoint is not None:
                on_checkpoint(report.checkpoint)
        if start == len(records):
            # Nothing (left) to write in this export: still record that it is done.
            report.checkpoint = ReplayCheckpoint(e.export_id, to_time, len(records), True)
            if on_checkpoint is not None:
                on_checkpoint(report.checkpoint)
    return report


# --------------------------------------------------------------------- writer


def write_incremental_export(
    root: Path | str,
    table: str,
    records: Iterable[IncrementalRecord],
    from_time: dt.datetime,
    to_time: dt.datetime,
    *,
    view: str = "NEW_AND_OLD_IMAGES",
    export_id: str | None = None,
    records_per_file: int = 1000,
    s3_bucket: str = "storeswap-export",
    s3_prefix: str = "",
) -> Path:
    """Write ``records`` as DynamoDB writes an incremental export, under ``root`` (the ``AWSDynamoDB/`` folder).

    Records are written as given (compact them first: DynamoDB keeps one per
    item and window).  Returns the export folder ``root/<export-id>``; data
    files go to the shared ``root/data``.  With the ``NEW_IMAGE`` view old
    images are left out, as DynamoDB does.
    """
    if view not in VIEWS:
        raise ValidationError(f"view must be one of {', '.join(VIEWS)}")
    root = Path(root)
    export_id = export_id or f"{_micros(to_time) // 1000:014d}-{uuid.uuid4().hex[:8]}"
    export_dir = root / export_id
    data_dir = root / "data"
    export_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{s3_prefix.strip('/')}/" if s3_prefix.strip("/") else ""
    (export_dir / "_started").write_bytes(b"")
    files: list[tuple[Path, int]] = []
    current: list[bytes] = []

    def flush() -> None:
        path = data_dir / f"{uuid.uuid4().hex[:26]}.json.gz"
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.writelines(current)
        files.append((path, len(current)))
        current.clear()

    total = 0
    for r in records:
        line: dict[str, Any] = {
            "Metadata": {"WriteTimestampMicros": {"N": str(r.write_micros)}},
            "Keys": marshal_item(r.keys),
        }
        if view == "NEW_AND_OLD_IMAGES" and r.old_image is not None:
            line["OldImage"] = marshal_item(r.old_image)
        if r.new_image is not None:
            line["NewImage"] = marshal_item(r.new_image)
        current.append(json.dumps(line, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n")
        total += 1
        if len(current) >= records_per_file:
            flush()
    if current or not files:
        flush()  # DynamoDB writes a file even when it is empty
    manifest_lines = []
    for path, count in files:
        digest = _md5(path)
        manifest_lines.append(
            json.dumps(
                {
                    "itemCount": count,
                    "md5Checksum": base64.b64encode(digest).decode(),
                    "etag": digest.hex(),
                    "dataFileS3Key": f"{prefix}AWSDynamoDB/data/{path.name}",
                },
                separators=(",", ":"),
            )
        )
    files_bytes = "".join(line + "\n" for line in manifest_lines).encode("utf-8")
    (export_dir / FILES_FILE).write_bytes(files_bytes)
    (export_dir / FILES_CHECKSUM).write_text(
        hashlib.md5(files_bytes, usedforsecurity=False).hexdigest(), encoding="ascii"
    )
    now = _format_time(dt.datetime.now(dt.UTC))
    summary = {
        "version": INCREMENTAL_VERSION,
        "exportArn": f"arn:aws:dynamodb:local:000000000000:table/{table}/export/{export_id}",
        "startTime": now,
        "endTime": now,
        "tableArn": f"arn:aws:dynamodb:local:000000000000:table/{table}",
        "tableId": str(uuid.uuid5(uuid.NAMESPACE_URL, table)),
        "exportFromTime": _format_time(from_time),
        "exportToTime": _format_time(to_time),
        "s3Bucket": s3_bucket,
        "s3Prefix": s3_prefix or None,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{prefix}AWSDynamoDB/{export_id}/{FILES_FILE}",
        "billedSizeBytes": sum(p.stat().st_size for p, _ in files),
        "itemCount": total,
        "outputFormat": "DYNAMODB_JSON",
        "outputView": view,
        "exportType": INCREMENTAL_EXPORT,
    }
    summary_bytes = (json.dumps(summary, indent=2) + "\n").encode("utf-8")
    (export_dir / SUMMARY_FILE).write_bytes(summary_bytes)
    (export_dir / SUMMARY_CHECKSUM).write_text(
        hashlib.md5(summary_bytes, usedforsecurity=False).hexdigest(), encoding="ascii"
    )
    return export_dir
