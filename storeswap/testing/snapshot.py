"""Known state for tests: load a table snapshot (a DynamoDB export directory) into a fresh table per test.

A snapshot is what ``storeswap export --source URL --table NAME --out DIR``
writes (DynamoDB's "Export to S3" layout, DYNAMODB_JSON), or an AWS export
synced from S3; it is read with :class:`storeswap.migrate.ExportSource`.

Opt in per project (nothing here is registered globally)::

    # conftest.py
    pytest_plugins = ["storeswap.testing"]

    # or on the command line:  pytest -p storeswap.testing

Then, in a test::

    def test_report(load_snapshot):
        snap = load_snapshot("tests/data/orders-export")     # a fresh, uniquely named table
        run_report(snap.store, snap.table)
        snap.reset()                                        # back to the snapshot, as often as needed

    @pytest.mark.snapshot("tests/data/orders-export")
    def test_cleanup(snapshot_table):                       # the same, declared by a marker
        ...

The store under test is the ``snapshot_store`` fixture: by default each
store named by ``--snapshot-store URL|NAME`` (repeatable) or
``STORESWAP_SNAPSHOT_STORES`` (comma separated), else ``STORESWAP_URL``,
else ``memory://`` — every test using it runs once per store.  Override the
fixture in a conftest to hand in a store of your own.  Tables are deleted
after each test; parsed snapshots are cached for the session.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from storeswap import settings
from storeswap.core.errors import TableNotFound
from storeswap.core.port import ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import Item
from storeswap.migrate.export_source import ExportSource

__all__ = ["Snapshot", "LoadedSnapshot", "read_snapshot", "snapshot_store", "load_snapshot", "snapshot_table"]

ENV_STORES = settings.SNAPSHOT_STORES.name


@attrs.define(frozen=True)
class Snapshot:
    """A parsed snapshot: the table spec it records and its items."""

    path: Path
    spec: TableSpec
    items: tuple[Item, ...]


_cache: dict[tuple[Path, TableSpec | None, KeyAttribute | None, KeyAttribute | None], Snapshot] = {}
_cache_lock = threading.Lock()


def read_snapshot(
    path: Path | str,
    *,
    spec: TableSpec | None = None,
    partition_key: KeyAttribute | None = None,
    sort_key: KeyAttribute | None = None,
) -> Snapshot:
    """Read an export directory (cached per process); the spec as :class:`ExportSource` finds it.

    Every data file is checked against the manifest (item count, MD5), so a
    truncated snapshot fails here rather than giving a test half its data.
    """
    resolved = Path(path).resolve()
    key = (resolved, spec, partition_key, sort_key)
    with _cache_lock:
        found = _cache.get(key)
    if found is not None:
        return found
    source = ExportSource(resolved, spec=spec, partition_key=partition_key, sort_key=sort_key)
    table_spec = source.describe("snapshot")
    snap = Snapshot(resolved, table_spec, tuple(source.iter_items()))
    with _cache_lock:
        _cache[key] = snap
    return snap


class LoadedSnapshot:
    """A snapshot loaded into ``table`` on ``store``; :meth:`reset` restores it."""

    def __init__(self, store: ItemStore, table: str, snapshot: Snapshot) -> None:
        self.store = store
        self.table = table
        self.snapshot = snapshot
        self.spec = attrs.evolve(snapshot.spec, name=table)
        self.resets = 0

    def __repr__(self) -> str:
        return f"LoadedSnapshot({self.snapshot.path.name!r} -> {self.table!r}, {len(self.snapshot.items)} items)"

    def load(self) -> None:
        """Create the table and write every item of the snapshot."""
        self.store.create_table(self.spec)
        if self.snapshot.items:
            self.store.bulk_load(self.table, self.snapshot.items)  # a fixture's load, not an application write

    def reset(self) -> None:
        """Put the table back to exactly the snapshot (recreated, so items and indexes hold nothing else)."""
        self.drop()
        self.load()
        self.resets += 1

    def drop(self) -> None:
        """Delete the table (done after each test)."""
        with contextlib.suppress(TableNotFound):
            self.store.delete_table(self.table)

    def items(self) -> list[Item]:
        """The snapshot's items (copies a test may change)."""
        import copy

        return [copy.deepcopy(i) for i in self.snapshot.items]


# ----------------------------------------------------------------------- pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("storeswap-snapshot", "storeswap snapshots (storeswap.testing)")
    group.addoption(
        "--snapshot-store",
        action="append",
        dest="storeswap_snapshot_stores",
        default=[],
        metavar="URL",
        help="a store to load snapshots into (URL or memory/postgres/dynamodb); repeatable. "
        f"Default: ${ENV_STORES}, else $STORESWAP_URL, else memory://",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "snapshot(path, spec=None, partition_key=None, sort_key=None): the snapshot of `snapshot_table`"
    )


def _snapshot_store_urls(config: pytest.Config) -> list[str]:
    urls = list(config.getoption("storeswap_snapshot_stores") or [])
    if not urls:
        urls = settings.get_list(settings.SNAPSHOT_STORES)
    return urls or [settings.get(settings.URL) or "memory://"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "snapshot_store_url" in metafunc.fixturenames:
        urls = _snapshot_store_urls(metafunc.config)
        metafunc.parametrize("snapshot_store_url", urls, ids=[u.split("://")[0] for u in urls], scope="session")


@pytest.fixture(scope="session")
def snapshot_store(snapshot_store_url: str) -> Iterator[ItemStore]:
    """The store snapshots are loaded into (one per selected store, for the session)."""
    from storeswap.connect import open_store

    store = open_store(snapshot_store_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def load_snapshot(snapshot_store: ItemStore, request: pytest.FixtureRequest) -> Iterator[Callable[..., LoadedSnapshot]]:
    """``load_snapshot(path, *, table=None, spec=None, partition_key=None, sort_key=None)`` -> :class:`LoadedSnapshot`.

    Each call loads the snapshot into a new table (``table``, else a unique
    name) on the store under test; every table is deleted after the test.
    A relative path is taken from the test file's directory when it exists
    there, else from the working directory.
    """
    loaded: list[LoadedSnapshot] = []
    here = Path(str(request.node.path)).parent

    def load(
        path: Path | str,
        *,
        table: str | None = None,
        spec: TableSpec | None = None,
        partition_key: KeyAttribute | None = None,
        sort_key: KeyAttribute | None = None,
    ) -> LoadedSnapshot:
        p = Path(path)
        if not p.is_absolute() and (here / p).exists():
            p = here / p
        snap = read_snapshot(p, spec=spec, partition_key=partition_key, sort_key=sort_key)
        target = LoadedSnapshot(snapshot_store, table or f"snap_{uuid.uuid4().hex[:16]}", snap)
        target.load()
        loaded.append(target)
        return target

    try:
        yield load
    finally:
        for target in reversed(loaded):
            target.drop()


@pytest.fixture
def snapshot_table(request: pytest.FixtureRequest, load_snapshot: Callable[..., LoadedSnapshot]) -> LoadedSnapshot:
    """The snapshot named by the test's ``@pytest.mark.snapshot(path, ...)``, loaded into a fresh table."""
    marker = request.node.get_closest_marker("snapshot")
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{request.node.nodeid}: snapshot_table needs @pytest.mark.snapshot(path)")
    return load_snapshot(marker.args[0], **marker.kwargs)
