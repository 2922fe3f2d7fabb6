"""Read-only S3 paths for the export readers: ``s3://bucket/prefix/`` seen through the part of pathlib they use.

The full-export reader (:mod:`.export_source`) and the incremental reader
(:mod:`.incremental`) walk an export with ``/``, ``is_file``, ``is_dir``,
``glob``, ``read_text`` and ``open("rb")``.  :class:`S3Path` offers exactly
those over boto3, so both readers take a local directory or an S3 prefix
through one code path (decision 0028):

- listings are ``ListObjectsV2`` per "directory" (``Delimiter="/"``),
  cached for the life of the :class:`S3Files` (an export does not change
  while it is read);
- ``open("rb")`` downloads the object into a spooled temporary file (memory
  up to :data:`SPOOL_BYTES`, then disk) and returns it rewound, so a reader
  can check the file's MD5 *before* it yields a single item of it, with one
  GET per data file;
- endpoint, region and credentials come from boto3's usual chain:
  ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``, the
  shared config files, instance roles.  Nothing here reads the environment
  itself, and no error message carries a credential (they pass through
  :func:`storeswap.redaction.redact`).

A missing bucket, an empty prefix and a denied access are one
:class:`ConfigurationError` each, raised when the export is opened, before
anything is written.
"""

from __future__ import annotations

import fnmatch
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

from storeswap.core.errors import ConfigurationError, StoreError, StoreUnavailable, Throttled
from storeswap.redaction import redact

__all__ = ["S3Path", "S3Files", "parse_s3_url", "is_s3_url", "SPOOL_BYTES"]

S3_SCHEME = "s3://"
#: A downloaded object stays in memory up to this size, then spills to a temporary file.
SPOOL_BYTES = 8 * 1024 * 1024
_CHUNK = 1 << 20


def is_s3_url(text: object) -> bool:
    """True for an ``s3://`` string."""
    return isinstance(text, str) and text.startswith(S3_SCHEME)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` as ``("bucket", "some/prefix")`` (no slashes at either end of the key)."""
    if not is_s3_url(url):
        raise ConfigurationError(f"not an s3:// URL: {redact(url)}")
    bucket, _, key = url[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise ConfigurationError(f"an S3 URL names a bucket: s3://BUCKET/prefix/, not {redact(url)}")
    return bucket, key.strip("/")


#: S3 error codes that say "try again later", not "your input is wrong".
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "500", "503"}
)


def _client_error(e: Exception, where: str) -> Exception:
    """A botocore exception as one typed, redacted storeswap error.

    Wrong input (no bucket, no object, no credentials, access denied) is a
    ConfigurationError (exit 2: fix the command); an unreachable endpoint,
    a timeout, a broken read or a 5xx is StoreUnavailable / Throttled (exit
    3: the copy may be resumed), never "your input is wrong"; anything else
    is a StoreError.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(e, NoCredentialsError):
        return ConfigurationError(f"no AWS credentials to read {where} (set AWS_PROFILE or the AWS_* variables)")
    if isinstance(e, BotoConnectionError):  # endpoint unreachable, connect / read timeouts, connection closed
        return StoreUnavailable(f"cannot reach S3 for {where}: {redact(str(e))}")
    if isinstance(e, ClientError):
        code = str(e.response.get("Error", {}).get("Code", ""))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in ("NoSuchBucket", "404", "NotFound"):
            return ConfigurationError(f"{where}: the bucket does not exist")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return ConfigurationError(f"{where}: access denied ({code})")
        if code == "NoSuchKey":
            return ConfigurationError(f"{where}: no such object")
        if code == "SlowDown":
            return Throttled(f"{where}: S3 asked to slow down (SlowDown); rerun to resume")
        if code in _TRANSIENT_CODES or status >= 500:
            return StoreUnavailable(f"{where}: S3 error {code or status}, try again (rerun to resume)")
        return StoreError(f"{where}: S3 error {code}: {redact(str(e))}")
    if isinstance(e, BotoCoreError):  # e.g. a response cut short (IncompleteReadError)
        return StoreUnavailable(f"{where}: reading from S3 failed: {redact(str(e))}")
    return StoreError(f"{where}: {redact(str(e))}")


class S3Files:
    """One S3 client and the listings read through it (shared by every :class:`S3Path` it made)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._dirs: dict[tuple[str, str], tuple[dict[str, tuple[int, str]], set[str]]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 S3 client (made on first use, from boto3's default chain)."""
        with self._lock:
            if self._client is None:
                try:
                    import boto3
                except ImportError:
                    raise ConfigurationError("reading an export from S3 needs boto3: pip install boto3") from None
                self._client = boto3.session.Session().client("s3")
            return self._client

    def path(self, url: str) -> S3Path:
        """The :class:`S3Path` of ``s3://bucket/key``."""
        bucket, key = parse_s3_url(url)
        return S3Path(self, bucket, key)

    def listing(self, bucket: str, prefix: str) -> tuple[dict[str, tuple[int, str]], set[str]]:
        """Objects (name -> (size, etag)) and sub-"directories" directly under ``prefix`` (cached)."""
        with self._lock:
            hit = self._dirs.get((bucket, prefix))
        if hit is not None:
            return hit
        files: dict[str, tuple[int, str]] = {}
        dirs: set[str] = set()
        start = f"{prefix}/" if prefix else ""
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=start, Delimiter="/")
            for page in pages:
                for obj in page.get("Contents", ()):
                    name = obj["Key"][len(start) :]
                    if name:
                        files[name] = (int(obj.get("Size", 0)), str(obj.get("ETag", "")))
                for common in page.get("CommonPrefixes", ()):
                    name = common["Prefix"][len(start) :].rstrip("/")
                    if name:
                        dirs.add(name)
        except Exception as e:  # botocore raises several unrelated types; each becomes one typed error
            raise _client_error(e, f"s3://{bucket}/{start}") from None
        with self._lock:
            self._dirs[(bucket, prefix)] = (files, dirs)
        return files, dirs

    def download(self, bucket: str, key: str) -> IO[bytes]:
        """The object's bytes in a rewound spooled temporary file (closed by the caller)."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned to the caller
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
            for chunk in iter(lambda: body.read(_CHUNK), b""):
                spool.write(chunk)
        except Exception as e:
            spool.close()
            raise _client_error(e, f"s3://{bucket}/{key}") from None
        spool.seek(0)
        return spool


class S3Path:
    """An object or "directory" under a bucket, with the read-only pathlib subset the export readers use."""

    __slots__ = ("_files", "bucket", "key")

    def __init__(self, files: S3Files, bucket: str, key: str) -> None:
        self._files = files
        self.bucket = bucket
        self.key = key.strip("/")

    # ---------------------------------------------------------------- naming

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def __repr__(self) -> str:
        return f"S3Path({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Path) and (self.bucket, self.key) == (other.bucket, other.key)

    def __lt__(self, other: S3Path) -> bool:
        return (self.bucket, self.key) < (other.bucket, other.key)

    def __hash__(self) -> int:
        return hash((self.bucket, self.key))

    def __truediv__(self, part: str) -> S3Path:
        return self.joinpath(part)

    def joinpath(self, *parts: str) -> S3Path:
        """This path with ``parts`` appended (``/``-separated)."""
        segs = [self.key] if self.key else []
        segs += [p.strip("/") for p in parts if p.strip("/")]
        return S3Path(self._files, self.bucket, "/".join(segs))

    @property
    def name(self) -> str:
        """The last segment of the key."""
        return self.key.rpartition("/")[2]

    @property
    def parent(self) -> S3Path:
        """The "directory" above (the bucket root is its own parent)."""
        return S3Path(self._files, self.bucket, self.key.rpartition("/")[0])

    def _split(self) -> tuple[str, str]:
        head, _, name = self.key.rpartition("/")
        return head, name

    # --------------------------------------------------------------- queries

    def is_file(self) -> bool:
        """True when an object has exactly this key."""
        if not self.key:
            return False
        head, name = self._split()
        return name in self._files.listing(self.bucket, head)[0]

    def is_dir(self) -> bool:
        """True when some object's key starts with ``key/`` (the bucket root: when the bucket exists)."""
        files, dirs = self._files.listing(self.bucket, self.key)
        return bool(files or dirs) or not self.key

    def etag(self) -> str | None:
        """The object's ETag as S3 lists it (quotes removed), None when it does not exist."""
        head, name = self._split()
        found = self._files.listing(self.bucket, head)[0].get(name)
        return None if found is None else found[1].strip('"')

    def iterdir(self) -> Iterator[S3Path]:
        """Objects and "directories" directly below."""
        files, dirs = self._files.listing(self.bucket, self.key)
        for name in sorted(set(files) | dirs):
            yield self / name

    def glob(self, pattern: str) -> Iterator[S3Path]:
        """Paths matching ``pattern``, one ``fnmatch`` pattern per ``/`` segment (no ``**``)."""
        segments = [s for s in pattern.split("/") if s]
        level = [self]
        for i, seg in enumerate(segments):
            last = i == len(segments) - 1
            nxt: list[S3Path] = []
            for base in level:
                files, dirs = self._files.listing(base.bucket, base.key)
                names = (set(files) | dirs) if last else dirs
                nxt.extend(base / n for n in sorted(names) if fnmatch.fnmatchcase(n, seg))
            level = nxt
        yield from level

    # ----------------------------------------------------------------- reads

    def open(self, mode: str = "rb") -> IO[bytes]:
        """The object's bytes, downloaded once into a seekable spooled file (binary read only)."""
        if mode != "rb":
            raise ValueError("S3 paths are read-only: open(path, 'rb')")
        return self._files.download(self.bucket, self.key)

    def read_bytes(self) -> bytes:
        """The whole object."""
        with self.open("rb") as f:
            return f.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        """The whole object, decoded."""
        return self.read_bytes().decode(encoding)
