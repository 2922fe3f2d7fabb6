"""The pytest plugin of the contract suite (registered through the ``pytest11`` entry point).

Options:

``--store NAME`` or ``--store NAME=URL``
    Run the suite against a built-in store: ``memory``, ``postgres``,
    ``dynamodb``.  Repeatable; also ``STORESWAP_STORES=memory,postgres``.
    With ``=URL`` the store is opened from that URL (``--store
    postgres=postgresql://user@host/db``) instead of the default
    provisioning; the test id stays ``NAME``.
``--store-factory module:callable`` (or ``path/to/file.py:callable``)
    Run the suite against a third-party adapter: ``callable()`` returns a
    fresh :class:`~storeswap.core.port.ItemStore`.  Its test id is the
    factory's ``store_name`` attribute, else the callable's name.  A
    ``gaps`` attribute (``{test function name or requirement id: reason}``)
    declares the adapter's known gaps as strict ``notimpl`` xfails.

With neither, the suite runs against ``memory``.  A store that was asked for
and cannot be started fails the run; nothing is ever skipped.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.register_assert_rewrite("storeswap.contract_tests.helpers")

from storeswap.contract_tests.factory import factory_name, load_factory  # noqa: E402
from storeswap.contract_tests.markers import GAP_KINDS, GAP_MARK  # noqa: E402
from storeswap.contract_tests.requirements import is_known  # noqa: E402
from storeswap.core.errors import ConfigurationError  # noqa: E402
from storeswap.core.port import ItemStore  # noqa: E402
from storeswap.core.schema import (  # noqa: E402
    GlobalIndex,
    KeyAttribute,
    LocalIndex,
    Projection,
    TableSpec,
)

__all__ = [
    "BUILTIN_STORES",
    "StoreChoice",
    "selected_stores",
    "TableFactory",
    "CONTRACT_DIR",
]

CONTRACT_DIR = Path(__file__).resolve().parent
GAPS_KEY = pytest.StashKey[list[tuple[str, str]]]()
_REQ_ID = re.compile(r"^[A-Z]\d+[a-z]?$")


def _memory() -> ItemStore:
    from storeswap.adapters.memory import MemoryStore

    return MemoryStore()


def _provisioned(module: str) -> Callable[[], ItemStore]:
    """A factory that asks ``module.provision()`` for a URL and opens it."""

    def factory() -> ItemStore:
        from storeswap.connect import open_store

        backend = importlib.import_module(module)
        return open_store(backend.provision())

    factory.__name__ = f"provision_{module.rsplit('.', 1)[-1]}"
    return factory


#: Built-in store names and their factories (each returns a fresh store).
BUILTIN_STORES: dict[str, Callable[[], ItemStore]] = {
    "memory": _memory,
    "postgres": _provisioned("storeswap.backends.postgres"),
    "dynamodb": _provisioned("storeswap.backends.dynamodb"),
}


@attrs.define(frozen=True)
class StoreChoice:
    """One store the run asked for: its test id, factory and declared gaps."""

    name: str
    factory: Callable[[], ItemStore]
    gaps: Mapping[str, Any] = attrs.field(factory=dict)


def _from_url(url: str) -> Callable[[], ItemStore]:
    """A factory opening ``url`` (``--store NAME=URL``)."""

    def factory() -> ItemStore:
        from storeswap.connect import open_store

        return open_store(url)

    return factory


def _load_factory(spec: str) -> Callable[[], ItemStore]:
    try:
        return load_factory(spec)
    except ConfigurationError as e:
        raise pytest.UsageError(f"--store-factory {spec!r}: {e}") from e


def selected_stores(config: pytest.Config) -> list[StoreChoice]:
    """The stores this run asked for, in order (``memory`` when none was named)."""
    cached = getattr(config, "_storeswap_stores", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    names: list[str] = list(config.getoption("storeswap_stores") or [])
    if not names:
        env = os.environ.get("STORESWAP_STORES", "")
        names = [n.strip() for n in env.split(",") if n.strip()]
    factories: list[str] = list(config.getoption("storeswap_factories") or [])
    if not names and not factories:
        names = ["memory"]
    choices: list[StoreChoice] = []
    for entry in names:
        name, sep, url = entry.partition("=")
        if name not in BUILTIN_STORES:
            raise pytest.UsageError(
                f"--store {name!r}: unknown store; built-in stores are {', '.join(BUILTIN_STORES)} "
                "(use --store-factory module:callable for your own adapter)"
            )
        if sep and not url:
            raise pytest.UsageError(f"--store {entry!r}: give a URL after '=' (or just the name)")
        choices.append(StoreChoice(name, _from_url(url) if url else BUILTIN_STORES[name]))
    for spec in factories:
        factory = _load_factory(spec)
        name = factory_name(factory, spec)
        gaps = getattr(factory, "gaps", None) or {}
        if not isinstance(gaps, Mapping):
            raise pytest.UsageError(
                f"--store-factory {spec!r}: `gaps` must map test names or requirement ids to reasons"
            )
        choices.append(StoreChoice(str(name), factory, dict(gaps)))
    seen = [c.name for c in choices]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise pytest.UsageError(f"store {', '.join(dupes)} selected twice")
    config._storeswap_stores = choices  # type: ignore[attr-defined]
    return choices


# --------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("storeswap", "storeswap contract suite")
    group.addoption(
        "--store",
        action="append",
        dest="storeswap_stores",
        default=[],
        metavar="NAME[=URL]",
        help="run the contract suite against a built-in store (memory, postgres, dynamodb), opened from URL "
        "when given; repeatable. Default: $STORESWAP_STORES (comma separated) or memory.",
    )
    group.addoption(
        "--store-factory",
        action="append",
        dest="storeswap_factories",
        default=[],
        metavar="MODULE:CALLABLE",
        help="run the contract suite against a third-party ItemStore: CALLABLE() returns a fresh store; repeatable.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "req(*ids): the docs/semantics.md requirement ids a contract test checks")
    config.addinivalue_line(
        "markers", f"{GAP_MARK}(kind, stores, reason, raises): a known gap (use storeswap.contract_tests.markers)"
    )
    # Validate the selection early, so a typo fails before anything runs.
    selected_stores(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_name" in metafunc.fixturenames:
        names = [c.name for c in selected_stores(metafunc.config)]
        metafunc.parametrize("store_name", names, ids=names, scope="session")


def _is_contract_test(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(CONTRACT_DIR)
    except (OSError, ValueError):
        return False


def _store_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    value = callspec.params.get("store_name")
    return value if isinstance(value, str) else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    choices = {c.name: c for c in selected_stores(config)}
    missing: list[str] = []
    unknown: list[str] = []
    for item in items:
        if not _is_contract_test(item):
            continue
        reqs = [str(r) for m in item.iter_markers("req") for r in m.args]
        if not reqs:
            missing.append(item.nodeid)
        unknown.extend(f"{item.nodeid}: {r}" for r in reqs if not is_known(r))
        store = _store_of(item)
        if store is None:
            continue
        gaps: list[tuple[str, str]] = []
        for mark in item.iter_markers(GAP_MARK):
            kind = mark.kwargs["kind"]
            assert kind in GAP_KINDS
            if store in mark.kwargs["stores"]:
                gaps.append((kind, mark.kwargs["reason"]))
                item.add_marker(
                    pytest.mark.xfail(
                        strict=True, reason=f"{kind}: {mark.kwargs['reason']}", raises=mark.kwargs["raises"]
                    )
                )
        choice = choices.get(store)
        if choice is not None and choice.gaps:
            fn_name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
            for key, declared in choice.gaps.items():
                hit = key == fn_name or key == item.name or (_REQ_ID.match(key) is not None and key in reqs)
                if not hit:
                    continue
                reason, raises = (declared, None) if isinstance(declared, str) else (declared[0], declared[1])
                gaps.append(("notimpl", reason))
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"notimpl: {reason}", raises=raises))
        item.stash[GAPS_KEY] = gaps
    if missing:
        raise pytest.UsageError(
            "contract tests must name their requirement ids with @pytest.mark.req(...); missing on:\n  "
            + "\n  ".join(missing)
        )
    if unknown:
        raise pytest.UsageError("unknown requirement ids (see docs/semantics.md):\n  " + "\n  ".join(unknown))


# ------------------------------------------------------------------------ fixtures


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


def unique_table_name(prefix: str = "ct") -> str:
    """A table name no other test (or concurrent run) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class TableFactory:
    """Creates uniquely named tables for one test and deletes them afterwards.

    ``table_factory()`` gives a pk S + sk S table; keyword arguments change
    it: ``pk``/``pk_type``, ``sk``/``sk_type`` (``sk=None`` for a hash-only
    table), ``global_indexes``, ``local_indexes``; or pass a ``spec`` whose
    name is replaced.  Returns the table name.
    """

    def __init__(self, store: ItemStore) -> None:
        self.store = store
        self.created: list[str] = []

    def __call__(
        self,
        spec: TableSpec | None = None,
        *,
        name: str | None = None,
        pk: str = "pk",
        pk_type: str = "S",
        sk: str | None = "sk",
        sk_type: str = "S",
        global_indexes: tuple[GlobalIndex, ...] = (),
        local_indexes: tuple[LocalIndex, ...] = (),
    ) -> str:
        name = name or unique_table_name()
        if spec is not None:
            spec = attrs.evolve(spec, name=name)
        else:
            spec = TableSpec(
                name=name,
                partition_key=KeyAttribute(pk, pk_type),  # type: ignore[arg-type]
                sort_key=None if sk is None else KeyAttribute(sk, sk_type),  # type: ignore[arg-type]
                global_indexes=global_indexes,
                local_indexes=local_indexes,
            )
        self.store.create_table(spec)
        self.created.append(name)
        return name

    def cleanup(self) -> None:
        from storeswap.core.errors import TableNotFound

        for name in reversed(self.created):
            with contextlib.suppress(TableNotFound):  # the test deleted it itself
                self.store.delete_table(name)


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


#: The index-rich template of the ``gsi_table`` fixture.
GSI_SPEC = TableSpec(
    name="template",
    partition_key=KeyAttribute("pk", "S"),
    sort_key=KeyAttribute("sk", "S"),
    global_indexes=(
        GlobalIndex("by_gpk", KeyAttribute("gpk", "S"), KeyAttribute("gsk", "N"), Projection("ALL")),
        GlobalIndex("by_gpk_keys", KeyAttribute("gpk", "S"), KeyAttribute("gsk", "N"), Projection("KEYS_ONLY")),
        GlobalIndex("by_hpk_incl", KeyAttribute("hpk", "S"), None, Projection("INCLUDE", ("inc",))),
    ),
    local_indexes=(LocalIndex("by_lsk", KeyAttribute("lsk", "N"), Projection("ALL")),),
)


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
