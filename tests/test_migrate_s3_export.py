"""``dynamodb-export:s3://bucket/prefix/``: a DynamoDB export read straight from S3 (moto's S3 server).

The export is generated in DynamoDB's layout by storeswap's writer (the same
generator the local reader's tests use), uploaded under the keys its manifest
names, and read back through boto3 from moto's server — the one storeswap
starts for DynamoDB (:func:`storeswap.backends.dynamodb.start_moto`), which
serves S3 on the same port.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storeswap import ConfigurationError, KeyAttribute, StoreUnavailable, TableSpec, ValidationError
from storeswap.adapters.memory import MemoryStore
from storeswap.cli import main
from storeswap.connect import open_store
from storeswap.migrate import ExportSource, copy_table, verify_tables, write_export
from storeswap.migrate.incremental import IncrementalRecord, replay_incrementals, write_incremental_export
from storeswap.migrate.sample import SAMPLE_SPEC, sample_items

SECRET = "s3cr3t-Planted-Key/" + uuid.uuid4().hex
BUCKET = "storeswap-exports"


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    """A boto3 S3 client on moto's server, with the AWS environment every reader (and worker) inherits."""
    from storeswap.backends.dynamodb import start_moto

    url = start_moto()
    endpoint = "http://" + url.removeprefix("dynamodb://")
    mp = pytest.MonkeyPatch()
    mp.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    mp.setenv("AWS_ACCESS_KEY_ID", "AKIDSTORESWAPTEST")
    mp.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
    mp.delenv("AWS_PROFILE", raising=False)
    import boto3

    client = boto3.session.Session().client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    mp.undo()


def _upload(client: Any, local: Path, prefix: str) -> None:
    for path in sorted(local.rglob("*")):
        if path.is_file():
            client.put_object(
                Bucket=BUCKET, Key=f"{prefix}/{path.relative_to(local).as_posix()}", Body=path.read_bytes()
            )


@pytest.fixture(scope="module")
def uploaded(s3: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[MemoryStore, str, str]:
    """The sample table exported in six files, at s3://BUCKET/<prefix>/AWSDynamoDB/<id>/ as DynamoDB writes it."""
    store = MemoryStore()
    store.create_table(SAMPLE_SPEC)
    store.bulk_put("sample", sample_items())
    prefix = f"full-{uuid.uuid4().hex[:6]}"
    out = tmp_path_factory.mktemp("export") / "e"
    written = write_export(store, "sample", out, items_per_file=60, s3_bucket=BUCKET, s3_prefix=prefix)
    _upload(s3, out, f"{prefix}/AWSDynamoDB/{written.export_id}")
    return store, prefix, written.export_id


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out + out.err


def _pg() -> str:
    from storeswap.backends.postgres import provision

    return str(provision())


def test_s3_export_reads_like_the_local_one(uploaded: tuple[MemoryStore, str, str]) -> None:
    store, prefix, export_id = uploaded
    # The export is found from the prefix the export was written to (two levels above its folder).
    source = ExportSource(f"s3://{BUCKET}/{prefix}/")
    assert str(source.path) == f"s3://{BUCKET}/{prefix}/AWSDynamoDB/{export_id}"
    assert source.estimate_count("x") == 330 and source.default_segments() == 6
    assert all(str(f.path).startswith(f"s3://{BUCKET}/{prefix}/AWSDynamoDB/{export_id}/data/") for f in source.files)
    memory = MemoryStore()
    report = copy_table(source, memory, "s3copy", segments=source.default_segments(), batch=25)
    assert report.items == 330 and report.segments == 6
    assert verify_tables(store, memory, "sample", "s3copy").identical
    pg = open_store(_pg())
    table = f"s3pg_{uuid.uuid4().hex[:8]}"
    try:
        copy_table(ExportSource(f"s3://{BUCKET}/{prefix}/AWSDynamoDB/{export_id}"), pg, table, segments=6, batch=40)
        assert verify_tables(memory, pg, "s3copy", table).identical
        assert verify_tables(store, pg, "sample", table).identical
    finally:
        pg.delete_table(table)
        pg.close()


def test_cli_migrates_from_s3_one_file_per_segment(
    uploaded: tuple[MemoryStore, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, prefix, _ = uploaded
    pg_url = _pg()
    table = f"s3cli_{uuid.uuid4().hex[:8]}"
    state = tmp_path / "state.json"
    rc, output = _cli(
        ["migrate", "--source", f"dynamodb-export:s3://{BUCKET}/{prefix}/", "--target", pg_url, "--table", table,
         "--state", str(state), "--verify"],
        capsys,
    )  # fmt: skip
    try:
        assert rc == 0, output
        assert "copied 330 items" in output and "IDENTICAL" in output
        assert len(json.loads(state.read_text())["segments"]) == 6  # one segment per data file
        assert SECRET not in output
    finally:
        store = open_store(pg_url)
        if store.table_exists(table):
            store.delete_table(table)
        store.close()


def _corrupt_one_file(client: Any, prefix: str, export_id: str) -> str:
    """Re-upload one data file with one item changed (same item count): only its MD5 tells."""
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/AWSDynamoDB/{export_id}/data/")
    key = sorted(o["Key"] for o in listing["Contents"])[0]
    lines = gzip.decompress(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()).splitlines(keepends=True)
    record = json.loads(lines[0])
    record["Item"]["tampered"] = {"S": "yes"}
    lines[0] = json.dumps(record).encode() + b"\n"
    client.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(b"".join(lines)))
    return key


def test_bad_checksum_is_reported_and_no_checksums_proceeds(
    s3: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    store = MemoryStore()
    store.create_table(SAMPLE_SPEC)
    store.bulk_put("sample", sample_items())
    prefix = f"bad-{uuid.uuid4().hex[:6]}"
    out = tmp_path_factory.mktemp("bad") / "e"
    written = write_export(store, "sample", out, items_per_file=60, s3_prefix=prefix)
    _upload(s3, out, f"{prefix}/AWSDynamoDB/{written.export_id}")
    key = _corrupt_one_file(s3, prefix, written.export_id)
    with pytest.raises(ValidationError, match="md5Checksum") as e:
        list(ExportSource(f"s3://{BUCKET}/{prefix}/").iter_items())
    assert f"s3://{BUCKET}/{key}" in str(e.value) and SECRET not in str(e.value)
    args = ["migrate", "--source", f"dynamodb-export:s3://{BUCKET}/{prefix}/", "--target", "memory://",
            "--table", "tampered", "--state", str(tmp_path / "s.json")]  # fmt: skip
    rc, output = _cli(args, capsys)
    assert rc != 0 and "md5Checksum" in output and SECRET not in output
    rc, output = _cli([*args, "--no-checksums", "--restart"], capsys)
    assert rc == 0, output
    assert "copied 330 items" in output
    # Tasks on an engine open the export themselves: the checksum setting travels with each task.
    from storeswap.migrate.distributed import copy_table_on
    from storeswap.migrate.engine import ThreadEngine

    pg_url = _pg()
    table = f"s3bad_{uuid.uuid4().hex[:8]}"
    url = f"dynamodb-export:s3://{BUCKET}/{prefix}/"
    try:
        with pytest.raises(ValidationError, match="md5Checksum"):
            copy_table_on(ThreadEngine(2), url, pg_url, table, state_url=pg_url, segments=6)
        report = copy_table_on(ThreadEngine(2), url, pg_url, table, state_url=pg_url, segments=6, checksums=False)
        assert report.items == 330 and report.complete
    finally:
        pg = open_store(pg_url)
        if pg.table_exists(table):
            pg.delete_table(table)
        pg.close()


def test_missing_bucket_prefix_manifest_or_file_is_one_typed_error(
    s3: Any, uploaded: tuple[MemoryStore, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, prefix, export_id = uploaded
    with pytest.raises(ConfigurationError, match="bucket does not exist") as e:
        ExportSource("s3://no-such-bucket-here/x/")
    assert SECRET not in str(e.value)
    with pytest.raises(ConfigurationError, match="nothing under that prefix"):
        ExportSource(f"s3://{BUCKET}/no/such/prefix/")
    with pytest.raises(ConfigurationError, match="an S3 URL names a bucket"):
        ExportSource("s3:///x")
    # A summary without its file list, and a file list naming a data file that is not there.
    base = f"broken-{uuid.uuid4().hex[:6]}/AWSDynamoDB/01"
    summary = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/AWSDynamoDB/{export_id}/manifest-summary.json")["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=f"{base}/manifest-summary.json", Body=summary)
    with pytest.raises(ConfigurationError, match=r"has no manifest-files\.json"):
        ExportSource(f"s3://{BUCKET}/{base}")
    entry = {"itemCount": 1, "md5Checksum": "x", "dataFileS3Key": f"{base}/data/gone.json.gz"}
    s3.put_object(Bucket=BUCKET, Key=f"{base}/manifest-files.json", Body=json.dumps(entry).encode() + b"\n")
    with pytest.raises(ConfigurationError, match=r"gone\.json\.gz"):
        ExportSource(f"s3://{BUCKET}/{base}")
    # Through the CLI: one line, a non-zero exit, and the target untouched (no table created).
    pg_url = _pg()
    table = f"s3none_{uuid.uuid4().hex[:8]}"
    rc, output = _cli(
        ["migrate", "--source", f"dynamodb-export:s3://{BUCKET}/{base}", "--target", pg_url, "--table", table], capsys
    )
    assert rc == 2 and "gone.json.gz" in output and SECRET not in output
    assert len(output.strip().splitlines()) == 1, output
    pg = open_store(pg_url)
    try:
        assert not pg.table_exists(table)
    finally:
        pg.close()


def test_incremental_exports_replay_from_s3(s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--apply-incremental s3://...: the incremental reader walks S3 through the same paths.

    Each data file is downloaded twice: once to check it (MD5, ETag, gzip and item count in one read), once to
    replay it.
    """
    from storeswap.migrate.s3_files import S3Path

    downloads: dict[str, int] = {}
    real_open = S3Path.open

    def counting_open(self: S3Path, mode: str = "rb") -> Any:
        downloads[self.key] = downloads.get(self.key, 0) + 1
        return real_open(self, mode)

    monkeypatch.setattr(S3Path, "open", counting_open)
    spec = TableSpec("orders", KeyAttribute("pk"))
    source = MemoryStore()
    source.create_table(spec)
    source.bulk_put("orders", [{"pk": f"k{i}", "v": i} for i in range(5)])
    prefix = f"inc-{uuid.uuid4().hex[:6]}"
    root = tmp_path / "AWSDynamoDB"
    full = write_export(source, "orders", tmp_path / "full", s3_prefix=prefix)
    t0 = dt.datetime.fromisoformat(json.loads((full.path / "manifest-summary.json").read_text())["exportTime"])
    t1 = t0 + dt.timedelta(minutes=15)
    micros = int(t0.timestamp() * 1_000_000) + 10
    records = [
        IncrementalRecord(micros, {"pk": "k1"}, {"pk": "k1", "v": 100}, {"pk": "k1", "v": 1}),
        IncrementalRecord(micros + 1, {"pk": "k2"}, None, {"pk": "k2", "v": 2}),
        IncrementalRecord(micros + 2, {"pk": "k9"}, {"pk": "k9", "v": 9}),
    ]
    write_incremental_export(root, "orders", records, t0, t1, s3_bucket=BUCKET, s3_prefix=prefix)
    _upload(s3, tmp_path / "full", f"{prefix}/AWSDynamoDB/{full.export_id}")
    _upload(s3, root, f"{prefix}/AWSDynamoDB")
    target = MemoryStore()
    full_source = ExportSource(f"s3://{BUCKET}/{prefix}/AWSDynamoDB/{full.export_id}")
    copy_table(full_source, target, "orders")
    report = replay_incrementals(target, "orders", f"s3://{BUCKET}/{prefix}/AWSDynamoDB/", full_export=full_source)
    assert (report.puts, report.deletes) == (2, 1)
    incremental = [k for k in downloads if k.startswith(f"{prefix}/AWSDynamoDB/data/")]
    assert incremental and all(downloads[k] == 2 for k in incremental), downloads
    assert sorted((i["pk"], int(i["v"])) for i in target.scan_all("orders")) == [
        ("k0", 0), ("k1", 100), ("k3", 3), ("k4", 4), ("k9", 9),
    ]  # fmt: skip


@pytest.mark.slow
def test_processes_engine_reads_one_s3_file_per_task(
    uploaded: tuple[MemoryStore, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--engine processes:2: each data file is one task; the workers read S3 themselves (inherited AWS env)."""
    store, prefix, _ = uploaded
    pg_url = _pg()
    table = f"s3dask_{uuid.uuid4().hex[:8]}"
    rc, output = _cli(
        ["migrate", "--source", f"dynamodb-export:s3://{BUCKET}/{prefix}/", "--target", pg_url, "--table", table,
         "--engine", "processes:2"],
        capsys,
    )  # fmt: skip
    pg = open_store(pg_url)
    try:
        assert rc == 0, output
        assert "copied 330 items" in output and "2 workers" in output and SECRET not in output
        assert verify_tables(store, pg, "sample", table).identical
    finally:
        if pg.table_exists(table):
            pg.delete_table(table)
        pg.close()


def test_unreachable_endpoint_is_store_unavailable_without_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """botocore's message names the endpoint URL; a password in it, or the secret key, is never shown."""
    from storeswap.backends.dynamodb import free_port

    password = SECRET.replace("/", "")  # a URL's userinfo holds no "/"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://ak:{password}@127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTORESWAPTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(StoreUnavailable, match="cannot reach S3") as e:
        ExportSource(f"s3://{BUCKET}/x/")
    assert password not in str(e.value) and SECRET not in str(e.value) and "***" in str(e.value)
    rc, output = _cli(["check", "--source", f"dynamodb-export:s3://{BUCKET}/x/", "--table", "t1x"], capsys)
    assert rc == 3 and "StoreUnavailable" in output and password not in output and SECRET not in output


class _FailingS3:
    """An S3 client whose every GetObject fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_object(self, **kw: Any) -> Any:
        raise self.error


def _client_error(code: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       "GetObject")  # fmt: skip


def _s3_failures() -> list[tuple[Exception, type[Exception]]]:
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, IncompleteReadError, ReadTimeoutError

    from storeswap.core.errors import StoreError, Throttled

    return [
        (_client_error("NoSuchKey", 404), ConfigurationError),
        (_client_error("AccessDenied", 403), ConfigurationError),
        (_client_error("SlowDown", 503), Throttled),
        (_client_error("InternalError", 500), StoreUnavailable),
        (_client_error("SomethingNew", 502), StoreUnavailable),
        (_client_error("SomethingNew", 400), StoreError),
        (EndpointConnectionError(endpoint_url="http://s3"), StoreUnavailable),
        (ReadTimeoutError(endpoint_url="http://s3"), StoreUnavailable),
        (ConnectTimeoutError(endpoint_url="http://s3"), StoreUnavailable),
        (IncompleteReadError(actual_bytes=1, expected_bytes=2), StoreUnavailable),
    ]


def test_s3_failures_are_typed_transient_ones_never_a_usage_error() -> None:
    """A timeout or a 5xx mid-copy is 'try again' (exit 3, resumable), not 'your command is wrong' (exit 2)."""
    from storeswap.migrate.s3_files import S3Files

    for error, expected in _s3_failures():
        with pytest.raises(expected) as got:
            S3Files(client=_FailingS3(error)).download("bucket", "key")
        if expected is not ConfigurationError:
            assert not isinstance(got.value, ConfigurationError), (error, got.value)
