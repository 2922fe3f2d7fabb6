"""Tables for contract tests: unique names, a factory that cleans up after the test, the index-rich template."""

from __future__ import annotations

import contextlib
import uuid

import attrs

from storeswap.core.errors import TableNotFound
from storeswap.core.port import ItemStore
from storeswap.core.schema import GlobalIndex, KeyAttribute, LocalIndex, Projection, TableSpec

__all__ = ["unique_table_name", "TableFactory", "GSI_SPEC"]


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
