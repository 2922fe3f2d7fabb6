"""Tables for contract tests: unique names, a factory that cleans up after the test, the index-rich template."""

from __future__ import annotations

import contextlib
import re
import uuid

import attrs

from storeswap.core.errors import TableNotFound
from storeswap.core.port import ItemStore
from storeswap.core.schema import GlobalIndex, KeyAttribute, LocalIndex, Projection, TableSpec

__all__ = ["unique_table_name", "tables_of_this_run", "TableFactory", "GSI_SPEC"]

#: This test process's tag, the first half of the hex part of every name :func:`unique_table_name` gives.
RUN_TAG = uuid.uuid4().hex[:8]
_SUITE_NAME = re.compile(r"^.*_([0-9a-f]{8})[0-9a-f]{8}$")


def unique_table_name(prefix: str = "ct") -> str:
    """A table name no other test (or concurrent run) uses: ``{prefix}_{RUN_TAG}{8 random hex digits}``."""
    return f"{prefix}_{RUN_TAG}{uuid.uuid4().hex[:8]}"


def tables_of_this_run(store: ItemStore) -> list[str]:
    """``store.list_tables()`` without the tables of other runs of the suite on the same store.

    X2 checks compare the whole table list before and after a failing call; with ``pytest -n`` (or two
    runs) on one database, another process's tables come and go meanwhile. Those carry another run's tag
    and are left out; every other table, one a bad call might have created under any name included, is kept.
    """
    out = []
    for name in store.list_tables():
        m = _SUITE_NAME.match(name)
        if m is None or m.group(1) == RUN_TAG:
            out.append(name)
    return out


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
        """Delete every table this factory created (those the test deleted itself are fine)."""
        for name in reversed(self.created):
            with contextlib.suppress(TableNotFound):  # the test deleted it itself
                self.store.delete_table(name)


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
