"""The file names of DynamoDB's "Export to S3" layout (DYNAMODB_JSON), shared by the writer and the reader.

Its own module so that :mod:`.export` (the writer, which reads through
:mod:`.sources`) and :mod:`.export_source` (the reader, which
:mod:`.sources` opens) share the names without importing each other.
"""

from __future__ import annotations

__all__ = ["SPEC_FILE", "SUMMARY_FILE", "FILES_FILE"]

#: The TableSpec storeswap's writer adds (an AWS export does not carry one).
SPEC_FILE = "storeswap-table-spec.json"
#: One JSON object: counts, times, format, where the file list is.
SUMMARY_FILE = "manifest-summary.json"
#: JSON lines, one per data file: itemCount, md5Checksum, etag, dataFileS3Key.
FILES_FILE = "manifest-files.json"
