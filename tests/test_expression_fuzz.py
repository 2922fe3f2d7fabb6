"""Fuzzing the expression parser and the port's expression arguments (X1, X2).

Random strings, mutations of valid expressions and random nested values go
into the parser, the binder and the stores (memory and PostgreSQL).  The
only acceptable outcomes are a result or a storeswap error (``StoreError``);
a ``RecursionError``, ``TypeError``, ``IndexError`` ... is a failure, and so is
a store that changed after a call raised.  The number of examples is fixed
(``STORESWAP_FUZZ_EXAMPLES``, default 300) and CI derandomizes the run, so it
is bounded and repeatable.  Hypothesis's deadline guards against a hang (a
call that does not return), not against slowness: it is 10 seconds, several
orders of magnitude above any normal call.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeswap.contract_tests.helpers import snapshot
from storeswap.core.errors import StoreError
from storeswap.core.expressions import compile_expressions, parse_condition, parse_projection, parse_update
from storeswap.core.schema import KeyAttribute, TableSpec

EXAMPLES = int(os.environ.get("STORESWAP_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),
    derandomize=os.environ.get("STORESWAP_DIFF_DERANDOMIZE", "") == "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)

VALID = [
    "a = :v",
    "attribute_exists(#n) AND NOT (b.c[2] <> :v OR size(d) >= :w)",
    "x BETWEEN :v AND :w",
    "begins_with(s, :v) OR contains(l, :w) OR attribute_type(m, :t)",
    "a IN (:v, :w, :t)",
    "SET a = :v, b = if_not_exists(b, :w) + :v, l = list_append(l, :w) REMOVE c[1] ADD n :v DELETE ss :w",
    "#n.x[0], a, b.c",
]

# Characters that matter to the grammar, weighted toward the ones that nest.
_GRAMMAR = [*"()()(),.[]=<>:#+- _aAbn0123", "NOT ", " OR ", " AND ", "size(", "if_not_exists(", "IN ("]
fragments = st.lists(st.sampled_from(_GRAMMAR), max_size=200).map("".join)
random_text = st.one_of(st.text(max_size=300), fragments)


_MAX_TEXT = 20_000


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid expression with random edits, deep wrapping, or blown up in length."""
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "wrap", "not", "repeat", "chain"]))
        pos = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:pos] + draw(st.sampled_from(_GRAMMAR)) + text[pos:]
        elif kind == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif kind == "replace":
            text = text[:pos] + draw(st.characters()) + text[pos + 1 :]
        elif kind == "wrap":
            n = draw(st.integers(1, 400))
            text = "(" * n + text + ")" * draw(st.sampled_from([n, n - 1, n + 1]))
        elif kind == "not":
            text = "NOT " * draw(st.integers(1, 1200)) + text
        elif kind == "repeat":
            text = text * draw(st.integers(2, 700))
        else:
            text = f" {draw(st.sampled_from(['OR', 'AND', ',']))} ".join([text] * draw(st.integers(2, 600)))
        # Repeats compound; past a few times the 4 KB limit more length tests nothing new.
        text = text[:_MAX_TEXT]
    return text


expressions = st.one_of(random_text, mutated())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.integers(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.sampled_from([object(), set(), frozenset({1}), b"", "", Decimal("1E+200"), Decimal("-0")]),
)
nested_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), inner, max_size=4),
        st.sets(st.text(max_size=5), max_size=3),
        st.tuples(inner),
    ),
    max_leaves=40,
)
placeholder_names = st.sampled_from(["#n", "#m", "#", "n", ""])
names = st.one_of(st.none(), st.dictionaries(placeholder_names, st.one_of(st.text(max_size=5), st.integers())))
values = st.one_of(st.none(), st.dictionaries(st.sampled_from([":v", ":w", ":t", ":", "v"]), nested_values))


def _only_store_errors(call: Any, *args: Any, **kwargs: Any) -> Exception | None:
    """Run ``call``; return the storeswap error it raised, fail the test on any other exception."""
    try:
        call(*args, **kwargs)
    except StoreError as e:
        return e
    return None


@FUZZ
@given(text=expressions)
def test_the_parser_raises_only_storeswap_errors(text: str) -> None:
    for parse in (parse_condition, parse_update, parse_projection):
        _only_store_errors(parse, text)


@FUZZ
@given(text=expressions, names=names, values=values, where=st.sampled_from(["condition", "update", "projection"]))
def test_compile_raises_only_storeswap_errors(text: str, names: Any, values: Any, where: str) -> None:
    _only_store_errors(compile_expressions, names=names, values=values, **{where: text})


@pytest.fixture(scope="module", params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "memory":
        from storeswap.adapters.memory import MemoryStore

        yield MemoryStore()
        return
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    s = PostgresStore(provision())
    yield s
    s.close()


@pytest.fixture(scope="module")
def table(store: Any) -> Iterator[str]:
    name = f"fuzz-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(name, KeyAttribute("pk", "S"), KeyAttribute("sk", "N")))
    store.put(name, {"pk": "p", "sk": 1, "a": 1, "l": [1, "x"], "m": {"x": b"\x00"}, "ss": {"a"}})
    store.put(name, {"pk": "p", "sk": 2, "a": "s"})
    yield name
    store.delete_table(name)


@FUZZ
@given(
    text=expressions,
    names=names,
    values=values,
    op=st.sampled_from(["put", "update", "delete", "scan", "query", "get"]),
)
def test_stores_raise_only_storeswap_errors_and_stay_unchanged(
    store: Any, table: str, text: str, names: Any, values: Any, op: str
) -> None:
    key = {"pk": "p", "sk": 1}
    before = snapshot(store, table)
    calls = {
        # Writes only ever touch a third item, so a call that succeeds changes nothing that is compared below.
        "put": lambda: store.put(table, {"pk": "p", "sk": 3}, condition=text, names=names, values=values),
        "update": lambda: store.update(table, {"pk": "p", "sk": 3}, text, names=names, values=values),
        "delete": lambda: store.delete(table, {"pk": "p", "sk": 3}, condition=text, names=names, values=values),
        "scan": lambda: store.scan(table, filter=text, names=names, values=values),
        "query": lambda: store.query(table, text, names=names, values=values),
        "get": lambda: store.get(table, key, projection=text, names=names),
    }
    error = _only_store_errors(calls[op])
    store.delete(table, {"pk": "p", "sk": 3})
    after = snapshot(store, table)
    assert after == before, f"{op} with {text[:80]!r} changed the table (raised {error!r})"
