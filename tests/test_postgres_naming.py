"""Every legal DynamoDB table name maps to a safe, distinct PostgreSQL identifier."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from storeswap.adapters.postgres.layout import index_physical_name, physical_name

ODD_NAMES = [
    "abc",
    "ABC",
    "aBc",
    "a.b",
    "a-b",
    "a_b",
    "...",
    "---",
    "___",
    "0123",
    "select",
    "Table.With-Every_Kind.of-char_09",
    "x" * 255,
    "x" * 254 + "y",
    "X" * 255,
    "." * 255,
    "-" * 255,
    "a" * 36 + "-tail",
    "a" * 36 + ".tail",
]
SAFE = re.compile(r"^[a-z0-9_]+$")


def test_odd_names_map_to_distinct_safe_identifiers() -> None:
    mapped = [physical_name(n) for n in ODD_NAMES]
    assert len(set(mapped)) == len(ODD_NAMES)
    for phys in mapped:
        assert SAFE.match(phys) and phys.startswith("t_")
        assert len(phys.encode()) <= 51
        assert len(index_physical_name(phys, "i" * 255).encode()) <= 63


def test_mapping_is_deterministic() -> None:
    assert physical_name("My.Table-1") == physical_name("My.Table-1")


@given(st.from_regex(r"\A[A-Za-z0-9_.\-]{3,255}\Z"), st.from_regex(r"\A[A-Za-z0-9_.\-]{3,255}\Z"))
def test_any_two_legal_names_stay_distinct(a: str, b: str) -> None:
    pa, pb = physical_name(a), physical_name(b)
    assert SAFE.match(pa) and len(pa) <= 63
    assert (pa == pb) == (a == b)
