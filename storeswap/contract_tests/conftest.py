"""The contract suite's fixtures: they exist for the suite's own tests only.

They live here, in the suite's conftest, and not in the ``pytest11`` plugin
(:mod:`storeswap.contract_tests.plugin`, which keeps the options, markers and
hooks): installing storeswap must not put a ``store`` or ``table`` fixture
into another project's test run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storeswap.contract_tests.plugin import selected_stores
from storeswap.contract_tests.tables import GSI_SPEC, TableFactory
from storeswap.core.port import ItemStore


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_name" in metafunc.fixturenames:
        names = [c.name for c in selected_stores(metafunc.config)]
        metafunc.parametrize("store_name", names, ids=names, scope="session")


@pytest.fixture(scope="session")
def store(request: pytest.FixtureRequest, store_name: str) -> Iterator[ItemStore]:
    """The store under test (one per selected store, shared by the whole session)."""
    choices = {c.name: c for c in selected_stores(request.config)}
    choice = choices[store_name]
    try:
        instance = choice.factory()
    except Exception as e:
        pytest.fail(f"store {store_name!r} was asked for but cannot be started: {type(e).__name__}: {e}", pytrace=False)
    if not isinstance(instance, ItemStore):
        pytest.fail(
            f"store {store_name!r}: the factory returned {type(instance).__name__}, not an ItemStore", pytrace=False
        )
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def table_factory(store: ItemStore) -> Iterator[TableFactory]:
    """Make uniquely named tables (deleted after the test); see :class:`TableFactory`."""
    factory = TableFactory(store)
    yield factory
    factory.cleanup()


@pytest.fixture
def table(table_factory: TableFactory) -> str:
    """A table keyed by pk (S) and sk (S)."""
    return table_factory()


@pytest.fixture
def num_table(table_factory: TableFactory) -> str:
    """A table keyed by pk (S) and sk (N)."""
    return table_factory(sk_type="N")


@pytest.fixture
def bin_table(table_factory: TableFactory) -> str:
    """A table keyed by pk (S) and sk (B)."""
    return table_factory(sk_type="B")


@pytest.fixture
def hash_table(table_factory: TableFactory) -> str:
    """A table keyed by pk (S) only."""
    return table_factory(sk=None)


@pytest.fixture
def gsi_table(table_factory: TableFactory) -> str:
    """pk S + sk S with GSIs ``by_gpk`` (gpk S, gsk N, ALL), ``by_gpk_keys`` (KEYS_ONLY),
    ``by_hpk_incl`` (hpk S, INCLUDE inc) and the LSI ``by_lsk`` (lsk N, ALL)."""
    return table_factory(GSI_SPEC)


@pytest.fixture
def settle(store: ItemStore) -> Callable[..., Any]:
    """``settle(check)``: run an assertion until it passes on stores whose global indexes lag, else once."""
    from storeswap.contract_tests.helpers import eventually

    def run(check: Callable[[], Any], timeout: float = 10.0) -> Any:
        return eventually(store, check, timeout)

    return run
