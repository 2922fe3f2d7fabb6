"""The conventional table of a single-table design: ``pk`` / ``sk`` strings and overloaded ``gsiN`` indexes."""

from __future__ import annotations

from storeswap.core.errors import ValidationError
from storeswap.core.schema import MAX_GLOBAL_INDEXES, GlobalIndex, KeyAttribute, Projection, TableSpec

__all__ = ["single_table_spec"]


def single_table_spec(name: str, *, global_indexes: int = 1, ttl_attribute: str | None = None) -> TableSpec:
    """``pk`` S + ``sk`` S, and ``global_indexes`` GSIs ``gsi1`` .. ``gsiN`` keyed ``gsiNpk`` / ``gsiNsk`` (S, ALL).

    Each GSI is overloaded: every entity type fills its keys with its own
    templates, so one index serves several access patterns.
    """
    if type(global_indexes) is not int or not 0 <= global_indexes <= MAX_GLOBAL_INDEXES:
        # checked before building them: 10**6 indexes took seconds before the spec's own limit refused them
        raise ValidationError(f"global_indexes is an integer from 0 to {MAX_GLOBAL_INDEXES}, not {global_indexes!r}")
    return TableSpec(
        name,
        KeyAttribute("pk", "S"),
        KeyAttribute("sk", "S"),
        global_indexes=tuple(
            GlobalIndex(f"gsi{n}", KeyAttribute(f"gsi{n}pk", "S"), KeyAttribute(f"gsi{n}sk", "S"), Projection("ALL"))
            for n in range(1, global_indexes + 1)
        ),
        ttl_attribute=ttl_attribute,
    )
