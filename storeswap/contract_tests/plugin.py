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

This plugin holds options, markers and hooks only; the fixtures (``store``,
``table_factory``, ``table``, ... ``settle``) live in the suite's own
``conftest.py``, so another project's test run gets none of them.  Gaps have
one mechanism, the markers of :mod:`storeswap.contract_tests.markers`: a
factory's ``gaps`` become ``notimpl`` markers on the matching tests, and a
marker naming a store that is neither built in nor selected fails collection.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.register_assert_rewrite("storeswap.contract_tests.helpers")

from storeswap import settings  # noqa: E402
from storeswap.contract_tests.factory import factory_name, load_factory  # noqa: E402
from storeswap.contract_tests.markers import GAP_KINDS, GAP_MARK, notimpl  # noqa: E402
from storeswap.contract_tests.requirements import is_known  # noqa: E402
from storeswap.core.errors import ConfigurationError  # noqa: E402
from storeswap.core.port import ItemStore  # noqa: E402

__all__ = [
    "BUILTIN_STORES",
    "StoreChoice",
    "selected_stores",
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
        names = settings.get_list(settings.STORES)
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
    group.addoption(
        "--diff-examples",
        type=int,
        dest="storeswap_diff_examples",
        default=None,
        metavar="N",
        help="examples of the stateful differential test (default: $STORESWAP_DIFF_EXAMPLES, else 50).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "req(*ids): the docs/semantics.md requirement ids a contract test checks")
    config.addinivalue_line(
        "markers", f"{GAP_MARK}(kind, stores, reason, raises): a known gap (use storeswap.contract_tests.markers)"
    )
    # Validate the selection early, so a typo fails before anything runs.
    selected_stores(config)


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
    # A gap names a store of this suite: a built-in one or one selected in this run (a factory's name).
    known = set(BUILTIN_STORES) | set(choices)
    missing: list[str] = []
    unknown: list[str] = []
    unknown_stores: list[str] = []
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
        choice = choices.get(store)
        if choice is not None and choice.gaps:
            _mark_factory_gaps(item, store, choice.gaps, reqs)
        gaps: list[tuple[str, str]] = []
        for mark in item.iter_markers(GAP_MARK):
            kind = mark.kwargs["kind"]
            assert kind in GAP_KINDS
            strangers = [s for s in mark.kwargs["stores"] if s not in known]
            if strangers:
                unknown_stores.append(f"{item.nodeid}: {kind} names {', '.join(map(repr, strangers))}")
            if store in mark.kwargs["stores"]:
                gaps.append((kind, mark.kwargs["reason"]))
                item.add_marker(
                    pytest.mark.xfail(
                        strict=True, reason=f"{kind}: {mark.kwargs['reason']}", raises=mark.kwargs["raises"]
                    )
                )
        item.stash[GAPS_KEY] = gaps
    if missing:
        raise pytest.UsageError(
            "contract tests must name their requirement ids with @pytest.mark.req(...); missing on:\n  "
            + "\n  ".join(missing)
        )
    if unknown:
        raise pytest.UsageError("unknown requirement ids (see docs/semantics.md):\n  " + "\n  ".join(unknown))
    if unknown_stores:
        raise pytest.UsageError(
            f"gap markers name unknown stores (known: {', '.join(sorted(known))}):\n  " + "\n  ".join(unknown_stores)
        )


def _mark_factory_gaps(item: pytest.Item, store: str, declared: Mapping[str, Any], reqs: list[str]) -> None:
    """A factory's ``gaps`` dict, as the same gap markers the suite's tests carry inline (``notimpl``)."""
    fn_name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
    for key, gap in declared.items():
        if key == fn_name or key == item.name or (_REQ_ID.match(key) is not None and key in reqs):
            reason, raises = (gap, None) if isinstance(gap, str) else (gap[0], gap[1])
            item.add_marker(notimpl([store], reason=reason, raises=raises))
