"""DynamoDB's "Export to S3" layout (DYNAMODB_JSON): the file names, and the one reader of its file list.

Its own module so that :mod:`.export` (the writer, which reads through
:mod:`.sources`), :mod:`.export_source` (the full-export reader, which
:mod:`.sources` opens) and :mod:`.incremental` (the incremental reader)
share the names and the manifest parsing without importing each other.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import define

from storeswap.core.errors import ConfigurationError

__all__ = ["SPEC_FILE", "SUMMARY_FILE", "FILES_FILE", "ManifestEntry", "read_manifest_files"]

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


def read_manifest_files(export_dir: Any) -> list[ManifestEntry]:
    """The entries of ``export_dir / manifest-files.json`` (a local :class:`~pathlib.Path` or an S3 path).

    Raises :class:`ConfigurationError` naming the export when the file is
    missing, and the file and line when a line is not a manifest entry.
    """
    listing = export_dir / FILES_FILE
    if not listing.is_file():
        raise ConfigurationError(f"the export at {export_dir} has no {FILES_FILE}")
    out = []
    for n, line in enumerate(listing.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            key, count = entry["dataFileS3Key"], int(entry["itemCount"])
            if not isinstance(key, str) or count < 0:
                raise ValueError(key)
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(f"{listing} line {n} is not a manifest entry") from None
        out.append(ManifestEntry(key, count, entry.get("md5Checksum"), entry.get("etag")))
    return out
