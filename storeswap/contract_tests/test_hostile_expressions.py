"""X1-X2 for hostile expressions: the 4 KB length limit and the nesting limit.

Before the limits, 300 nested parentheses, ``NOT`` a thousand times or a
builder tree folded a thousand times raised ``RecursionError`` on every store.
Each case must now raise :class:`ValidationError` (with the offending
position where the string has one) and leave the table untouched; the cases
at the limit must still work.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any

import pytest

from storeswap.contract_tests.helpers import unchanged
from storeswap.core.errors import ValidationError
from storeswap.core.expressions import Attr
from storeswap.core.expressions.parser import MAX_EXPRESSION_BYTES, MAX_EXPRESSION_DEPTH
from storeswap.core.port import ItemStore, TxCheck

K = {"pk": "p", "sk": "a"}
V = {":v": 1}


def _parens(n: int) -> str:
    return "(" * n + "n = :v" + ")" * n


def _nots(n: int) -> str:
    return "NOT " * n + "n = :v"


def _ors(n: int) -> str:
    return " OR ".join(["n = :v"] * n)


def _padded(size: int) -> str:
    """A valid condition of exactly ``size`` bytes: ``n = :v`` padded with blanks."""
    core = "n = :v"
    return core + " " * (size - len(core))


def _deep_builder(n: int) -> Any:
    return functools.reduce(operator.or_, [Attr("n").eq(1)] * n)


def _deep_not_builder(n: int) -> Any:
    cond: Any = Attr("n").eq(1)
    for _ in range(n):
        cond = ~cond
    return cond


Call = Callable[[ItemStore, str], Any]

HOSTILE: list[tuple[str, Call, int | None]] = [
    # (id, call, expected position or None)
    ("300-parens-condition", lambda s, t: s.put(t, {**K}, condition=_parens(300), values=V), MAX_EXPRESSION_DEPTH),
    ("1000-not-condition", lambda s, t: s.put(t, {**K}, condition=_nots(1000), values=V), 4 * MAX_EXPRESSION_DEPTH),
    ("1000-or-condition", lambda s, t: s.delete(t, K, condition=_ors(1000), values=V), MAX_EXPRESSION_BYTES),
    ("bare-a-or-1000", lambda s, t: s.delete(t, K, condition=" OR ".join(["a"] * 1000)), MAX_EXPRESSION_BYTES),
    ("300-parens-filter", lambda s, t: s.scan(t, filter=_parens(300), values=V), MAX_EXPRESSION_DEPTH),
    ("1000-not-filter", lambda s, t: s.query(t, "pk = :p", filter=_nots(1000), values={**V, ":p": "p"}), None),
    ("300-parens-key-condition", lambda s, t: s.query(t, "(" * 300 + "pk = :v" + ")" * 300, values=V), None),
    ("150-or-chain", lambda s, t: s.put(t, {**K}, condition=_ors(150), values=V), None),
    ("4097-bytes", lambda s, t: s.put(t, {**K}, condition=_padded(MAX_EXPRESSION_BYTES + 1), values=V), None),
    ("4097-bytes-multibyte", lambda s, t: s.put(t, {**K}, condition=_padded(4090) + "é" * 4, values=V), None),
    (
        "300-nested-if-not-exists",
        lambda s, t: s.update(t, K, "SET n = " + "if_not_exists(n, " * 300 + ":v" + ")" * 300, values=V),
        None,
    ),
    (
        "long-update",
        lambda s, t: s.update(t, K, "SET " + ", ".join(f"a{i} = :v" for i in range(600)), values=V),
        MAX_EXPRESSION_BYTES,
    ),
    ("long-projection", lambda s, t: s.get(t, K, projection=", ".join(f"a{i}" for i in range(1000))), None),
    ("builder-or-1000", lambda s, t: s.put(t, {**K}, condition=_deep_builder(1000)), None),
    ("builder-not-1000", lambda s, t: s.scan(t, filter=_deep_not_builder(1000)), None),
    ("builder-in-transaction", lambda s, t: s.transact_write([TxCheck(t, K, _deep_builder(1000))]), None),
]


@pytest.fixture
def seeded(store: ItemStore, table: str) -> str:
    store.put(table, {**K, "n": 1})
    store.put(table, {"pk": "p", "sk": "b", "n": 2})
    return table


@pytest.mark.req("X1", "X2")
@pytest.mark.parametrize(("call", "position"), [(c, p) for _, c, p in HOSTILE], ids=[i for i, _, _ in HOSTILE])
def test_hostile_expressions_raise_validation_error(store, seeded, call, position):
    with unchanged(store, seeded), pytest.raises(ValidationError) as caught:
        call(store, seeded)
    # Not a subclass that happens to be raised by accident: the limit itself answered.
    assert "nests deeper" in str(caught.value) or "bytes long" in str(caught.value), str(caught.value)
    if position is not None:
        assert caught.value.position == position


@pytest.mark.req("X1")
def test_an_expression_of_exactly_4_kb_is_accepted(store, seeded):
    store.put(seeded, {**K, "n": 1}, condition=_padded(MAX_EXPRESSION_BYTES), values=V)
    with pytest.raises(ValidationError, match="bytes long"):
        store.put(seeded, {**K, "n": 1}, condition=_padded(MAX_EXPRESSION_BYTES + 1), values=V)


@pytest.mark.req("X1", "C2")
def test_nesting_up_to_the_limit_works(store, seeded):
    # 99 NOTs over one comparison is 100 levels: allowed, and an odd count negates.
    with pytest.raises(ValidationError, match="nests deeper"):
        store.put(seeded, {**K, "n": 5}, condition=_nots(MAX_EXPRESSION_DEPTH), values=V)
    found = store.scan(seeded, filter=_nots(MAX_EXPRESSION_DEPTH - 1), values=V).items
    assert [i["sk"] for i in found] == ["b"]
    # Parentheses make no tree node: 100 of them still hold one comparison.
    found = store.scan(seeded, filter=_parens(MAX_EXPRESSION_DEPTH), values=V).items
    assert [i["sk"] for i in found] == ["a"]
    # A chain of 99 ORs (100 comparisons) is within the limit too.
    store.put(seeded, {**K, "n": 1}, condition=_ors(MAX_EXPRESSION_DEPTH), values=V)
