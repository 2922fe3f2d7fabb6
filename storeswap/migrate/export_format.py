"""DynamoDB's "Export to S3" layout (DYNAMODB_JSON): the file names, and the one reader of its file list.

Its own module so that :mod:`.export` (the writer, which reads through
:mod:`.sources`), :mod:`.export_source` (the full-export reader, which
:mod:`.sources` opens) and :mod:`.incremental` (the incremental reader)
share the names and the manifest parsing without importing each other.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from attrs import define

from storeswap.core.errors import ConfigurationError
from storeswap.core.jsontext import JSON_ERRORS, describe

__all__ = [
    "SPEC_FILE",
    "SUMMARY_FILE",
    "FILES_FILE",
    "ManifestEntry",
    "read_manifest_files",
    "read_summary",
    "find_data_file",
    "read_json_file",
    "LINE_ERRORS",
    "GZIP_ERRORS",
    "export_path",
    "open_gzip",
]

#: The TableSpec storeswap's writer adds (an AWS export does not carry one).
SPEC_FILE = "storeswap-table-spec.json"
#: One JSON object: counts, times, format, where the file list is.
SUMMARY_FILE = "manifest-summary.json"
#: JSON lines, one per data file: itemCount, md5Checksum, etag, dataFileS3Key.
FILES_FILE = "manifest-files.json"


@define(frozen=True)
class ManifestEntry:
    """One line of ``manifest-files.json``: a data file's S3 key, item count and checksums as recorded."""

    key: str
    item_count: int
    md5: str | None
    etag: str | None


#: What reading a damaged or truncated gzip data file raises (zlib.error: corrupt deflate data, not an OSError).
GZIP_ERRORS = (OSError, EOFError, zlib.error)

#: What parsing one malformed line of a data file raises: the JSON errors, and a record of the wrong shape.
LINE_ERRORS = (*JSON_ERRORS, KeyError, TypeError)


def read_json_file(path: Any, what: str | None = None) -> Any:
    """The JSON of a file a user hands storeswap (a local or an S3 path); a :class:`ConfigurationError` naming it
    (``what``, else the path) when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"cannot read {what or path}: {e}") from None
    except JSON_ERRORS as e:
        raise ConfigurationError(f"cannot read {what or path}: {describe(e)}") from None


def read_summary(export_dir: Any) -> dict[str, Any]:
    """``export_dir / manifest-summary.json``, a JSON object (:class:`ConfigurationError` naming it otherwise)."""
    summary_path = export_dir / SUMMARY_FILE
    summary = read_json_file(summary_path)
    if not isinstance(summary, dict):
        raise ConfigurationError(f"{summary_path} is not a JSON object")
    return summary


def find_data_file(bases: tuple[Any, ...], key: str) -> Any:
    """The file of a manifest's ``dataFileS3Key`` under one of ``bases``: the longest suffix of the key that exists
    under the first base that has one (so ``aws s3 sync`` of any prefix works); None when none does.

    A key with a ``..`` part is refused (:class:`ConfigurationError`): an export names files under it, and such a
    key would read one outside it.
    """
    parts = [p for p in key.split("/") if p]
    if ".." in parts:
        raise ConfigurationError(f"data file {key} of the export names a file outside it ('..')")
    for base in bases:
        for i in range(len(parts)):
            candidate = base.joinpath(*parts[i:])
            try:
                if candidate.is_file():
                    return candidate
            except OSError:  # a name the file system cannot hold (too long): no such file here
                continue
    return None


def read_manifest_files(export_dir: Any) -> list[ManifestEntry]:
    """The entries of ``export_dir / manifest-files.json`` (a local :class:`~pathlib.Path` or an S3 path).

    Raises :class:`ConfigurationError` naming the export when the file is
    missing, and the file and line when a line is not a manifest entry.
    """
    listing = export_dir / FILES_FILE
    if not listing.is_file():
        raise ConfigurationError(f"the export at {export_dir} has no {FILES_FILE}")
    try:
        text = listing.read_text(encoding="utf-8")
    except (OSError, ValueError) as e:  # ValueError: not UTF-8 text
        raise ConfigurationError(f"cannot read {listing}: {e}") from None
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key, count = entry["dataFileS3Key"], entry["itemCount"]
            if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(key)
        except (*JSON_ERRORS, KeyError, TypeError):
            raise ConfigurationError(f"{listing} line {n} is not a manifest entry") from None
        out.append(ManifestEntry(key, count, entry.get("md5Checksum"), entry.get("etag")))
    return out


def export_path(where: Any) -> Any:
    """Where an export lives: a :class:`~pathlib.Path`, or an :class:`~storeswap.migrate.s3_files.S3Path` for
    ``s3://bucket/prefix/`` (an S3 path is returned as it is)."""
    if isinstance(where, str) and where.startswith("s3://"):
        from storeswap.migrate.s3_files import S3Files

        return S3Files().path(where)
    if isinstance(where, (str, Path)):
        return Path(where)
    return where


@contextmanager
def open_gzip(path: Any) -> Iterator[IO[bytes]]:
    """The decompressed bytes of a gzip data file (local or S3), read once from the file's own handle."""
    with path.open("rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as lines:
        yield lines  # type: ignore[misc]
