"""X1, X2: an argument of the wrong type is a ValidationError, never a Python error, and changes nothing.

The port validates argument types before anything else, so a caller who
passes a list for a table name, a number for a list of keys or a generator
for a list of actions gets one typed storeswap error — not ``TypeError``,
``AssertionError``, ``RecursionError`` or ``decimal.InvalidOperation`` from
deep inside — and every table is left as it was.

The first tests pin the cases found by hand (issue 12); the fuzz test then
calls every public method of the port with arguments of random types
(hypothesis, a fixed number of examples: ``STORESWAP_FUZZ_EXAMPLES``,
default 100) and checks three things per call: only storeswap errors, the
call returns (a hang bound, not a speed threshold), and a failed call left
the seeded tables and the table list untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeswap import settings as storeswap_settings
from storeswap.contract_tests.helpers import snapshot, unchanged
from storeswap.contract_tests.tables import tables_of_this_run
from storeswap.core.errors import StoreError, ValidationError
from storeswap.core.expressions.builders import Attr
from storeswap.core.port import ItemStore
from storeswap.core.requests import BatchDelete, BatchPut, TxCheck, TxDelete, TxGet, TxPut, TxUpdate

EXAMPLES = storeswap_settings.get_int(storeswap_settings.FUZZ_EXAMPLES)
#: A call that has not returned after this long is hung (a bound on hangs, far above any real call).
HANG_SECONDS = 120.0

K = {"pk": "p", "sk": "a"}
SEED = [{"pk": "p", "sk": "a", "n": 1, "s": "x"}, {"pk": "q", "sk": "b", "l": [1, {"m": b"\x00"}]}]


def _gen(*values: Any) -> Any:
    return (v for v in values)


# The cases of issue 12, each of which escaped as a plain Python error before.
SEEN: list[tuple[str, Callable[[ItemStore, str], Any]]] = [
    ("put-table-list", lambda s, t: s.put([t], {**K})),
    ("table-exists-list", lambda s, t: s.table_exists([t])),
    ("batch-get-keys-int", lambda s, t: s.batch_get({t: 5})),
    ("tx-check-without-condition", lambda s, t: s.transact_write([TxCheck(t, K, None)])),  # type: ignore[arg-type]
    ("transact-write-generator", lambda s, t: s.transact_write(_gen(TxPut(t, {**K, "n": 2})))),
    ("bulk-put-int", lambda s, t: s.bulk_put(t, 5)),  # type: ignore[arg-type]
    ("spec-table-dict", lambda s, t: s.spec({t: 1})),  # type: ignore[arg-type]
    ("forget-table-list", lambda s, t: s.forget([t])),  # type: ignore[list-item]
    ("get-table-set", lambda s, t: s.get({t}, K)),  # type: ignore[arg-type]
    ("transact-get-generator", lambda s, t: s.transact_get(_gen(TxGet(t, K)))),
    ("batch-get-keys-generator", lambda s, t: s.batch_get({t: _gen(K)})),
    ("batch-get-keys-string", lambda s, t: s.batch_get({t: "pk"})),
    ("bulk-put-string", lambda s, t: s.bulk_put(t, "pk")),
    ("bulk-put-mapping", lambda s, t: s.bulk_put(t, {**K})),  # type: ignore[arg-type]
    ("consistent-not-bool", lambda s, t: s.get(t, K, consistent="yes")),  # type: ignore[arg-type]
    ("forward-not-bool", lambda s, t: s.query(t, "pk = :p", values={":p": "p"}, forward=[])),  # type: ignore[arg-type]
    ("return-old-not-bool", lambda s, t: s.put(t, {**K}, return_old_on_failure=1)),  # type: ignore[arg-type]
    ("index-name-list", lambda s, t: s.scan(t, index=["x"])),  # type: ignore[arg-type]
    ("return-values-list", lambda s, t: s.update(t, K, "SET n = :v", values={":v": 1}, return_values=[])),  # type: ignore[arg-type]
    ("tx-put-table-list", lambda s, t: s.transact_write([TxPut([t], {**K})])),  # type: ignore[arg-type]
    ("batch-put-table-list", lambda s, t: s.batch_write([BatchPut([t], {**K})])),  # type: ignore[arg-type]
]


@pytest.fixture
def seeded(store: ItemStore, table: str) -> str:
    for item in SEED:
        store.put(table, item)
    return table


@pytest.mark.req("X1", "X2")
@pytest.mark.parametrize("call", [c for _, c in SEEN], ids=[i for i, _ in SEEN])
def test_a_wrong_argument_type_is_a_validation_error(store, seeded, call):
    tables_before = tables_of_this_run(store)
    with unchanged(store, seeded), pytest.raises(ValidationError) as caught:
        call(store, seeded)
    assert type(caught.value) is ValidationError, type(caught.value).__name__
    assert tables_of_this_run(store) == tables_before


# ------------------------------------------------------------------------ fuzz


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**38, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("sNaN"), Decimal("-0"), Decimal("1E+126"), Decimal("1E-131")]),
    st.complex_numbers(max_magnitude=10),
    st.text(max_size=10),
    st.binary(max_size=10),
    st.sampled_from(["", "\x00", "tbl", "no_such_table_fz", ":v", "#n", "pk", "n = :v", "SET n = :v", "ALL_OLD"]),
)
_junk = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.tuples(_scalars),
    st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), _scalars, max_size=3),
    st.frozensets(st.integers(), max_size=3),
    st.integers(min_value=30, max_value=300).map(_nested),
    st.builds(object),
    st.just(lambda: None),
    st.builds(lambda: _gen(1, 2)),
    st.builds(lambda: iter([K])),
    st.just(Attr("n").eq(1)),
    st.just(Attr("n")),
)


def _fuzz_arguments(table: str) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies for each parameter name: junk of any type, mixed with values that are (nearly) right."""
    key = st.one_of(_junk, st.just(dict(K)), st.dictionaries(st.sampled_from(["pk", "sk", "n"]), _junk, max_size=3))
    item = st.one_of(
        _junk, st.dictionaries(st.sampled_from(["pk", "sk", "n", "", "m"]), _junk, max_size=4).map(lambda d: {**K, **d})
    )
    expr = st.one_of(
        _junk, st.sampled_from(["attribute_exists(n)", "n = :v", "#n = :v", "pk = :p", "size(s) > :v", ""])
    )
    names = st.one_of(st.none(), _junk, st.dictionaries(st.sampled_from(["#n", "n", "#x"]), _junk, max_size=2))
    values = st.one_of(st.none(), _junk, st.dictionaries(st.sampled_from([":v", ":p", "v"]), _junk, max_size=2))
    name = st.one_of(_junk, st.just(table), st.just("no_such_table_fz"))
    tx_action = st.one_of(
        st.builds(TxPut, name, item, expr, names, values, _junk),
        st.builds(TxUpdate, name, key, expr, expr, names, values, _junk),
        st.builds(TxDelete, name, key, expr, names, values, _junk),
        st.builds(TxCheck, name, key, expr, names, values, _junk),
        _junk,
    )
    return {
        "table": name,
        "key": key,
        "item": item,
        "condition": expr,
        "filter": expr,
        "key_condition": expr,
        "update": st.one_of(_junk, st.sampled_from(["SET n = :v", "REMOVE s", "ADD n :v", "SET pk = :v", ""])),
        "names": names,
        "values": values,
        "projection": st.one_of(st.none(), _junk, st.lists(st.one_of(st.text(max_size=3), _junk), max_size=3)),
        "return_values": st.one_of(_junk, st.sampled_from(["NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"])),
        "return_old_on_failure": st.one_of(st.booleans(), _junk),
        "consistent": st.one_of(st.booleans(), _junk),
        "forward": st.one_of(st.booleans(), _junk),
        "limit": st.one_of(st.none(), st.integers(min_value=-2, max_value=5), _junk),
        "cursor": st.one_of(st.none(), st.text(max_size=20), _junk),
        "index": st.one_of(st.none(), st.text(max_size=5), _junk),
        "segment": st.one_of(st.none(), st.integers(min_value=-1, max_value=4), _junk),
        "total_segments": st.one_of(st.none(), st.integers(min_value=-1, max_value=4), _junk),
        "token": st.one_of(st.none(), st.text(max_size=40), _junk),
        "batch_get": st.one_of(
            _junk,
            st.dictionaries(
                st.one_of(st.just(table), st.just("no_such_table_fz"), st.integers(), st.text(max_size=3)),
                st.one_of(_junk, st.lists(key, max_size=3)),
                max_size=2,
            ),
        ),
        "batch_write": st.one_of(
            _junk,
            st.lists(st.one_of(st.builds(BatchPut, name, item), st.builds(BatchDelete, name, key), _junk), max_size=3),
        ),
        "transact_get": st.one_of(
            _junk, st.lists(st.one_of(st.builds(TxGet, name, key, expr, names), _junk), max_size=3)
        ),
        "transact_write": st.one_of(_junk, st.lists(tx_action, max_size=3), st.lists(tx_action, max_size=2).map(iter)),
        "bulk_items": st.one_of(_junk, st.lists(st.one_of(item, _junk), max_size=3)),
        "spec": _junk,
        "junk_name": st.one_of(_junk.filter(lambda v: not isinstance(v, str)), st.just("no_such_table_fz")),
    }


#: Each public method: positional parameters, then keyword parameters (strategy names of _fuzz_arguments).
METHODS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "get": (("table", "key"), ("projection", "names", "consistent")),
    "put": (("table", "item"), ("condition", "names", "values", "return_values", "return_old_on_failure")),
    "update": (
        ("table", "key", "update"),
        ("condition", "names", "values", "return_values", "return_old_on_failure"),
    ),
    "delete": (("table", "key"), ("condition", "names", "values", "return_values", "return_old_on_failure")),
    "query": (
        ("table", "key_condition"),
        ("index", "filter", "projection", "names", "values", "limit", "forward", "cursor", "consistent"),
    ),
    "scan": (
        ("table",),
        ("index", "filter", "projection", "names", "values", "limit", "cursor", "segment", "total_segments",
         "consistent"),
    ),
    "query_all": (("table", "key_condition"), ("index", "filter", "names", "values", "limit")),
    "scan_all": (("table",), ("filter", "names", "values", "limit", "segment", "total_segments")),
    "batch_get": (("batch_get",), ("consistent",)),
    "batch_write": (("batch_write",), ()),
    "transact_get": (("transact_get",), ()),
    "transact_write": (("transact_write",), ("token",)),
    "bulk_put": (("table", "bulk_items"), ()),
    "bulk_load": (("table", "bulk_items"), ()),
    "spec": (("table",), ()),
    "table_exists": (("table",), ()),
    "describe_table": (("table",), ()),
    "forget": (("junk_name",), ()),
    # Never a real name here: a fuzz example must not delete or create the seeded table.
    "delete_table": (("junk_name",), ()),
    "create_table": (("spec",), ()),
}


def _call_bounded(fn: Callable[[], Any]) -> tuple[str, Any]:
    """Run ``fn`` in a thread: ("ok", result), ("error", exception), or ("hung", None)."""
    box: list[tuple[str, Any]] = []

    def run() -> None:
        try:
            box.append(("ok", fn()))
        except BaseException as e:  # every outcome is inspected by the caller
            box.append(("error", e))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_SECONDS)
    return box[0] if box else ("hung", None)


@pytest.mark.req("X1", "X2")
def test_every_public_method_takes_arguments_of_any_type(store, seeded):
    strategies = _fuzz_arguments(seeded)
    baseline = {"tables": tables_of_this_run(store), "items": snapshot(store, seeded)}

    @st.composite
    def calls(draw: st.DrawFn) -> tuple[str, list[Any], dict[str, Any]]:
        method = draw(st.sampled_from(sorted(METHODS)))
        positional, keywords = METHODS[method]
        args = [draw(strategies[p]) for p in positional]
        chosen = draw(st.lists(st.sampled_from(keywords), unique=True)) if keywords else []
        return method, args, {k: draw(strategies[k]) for k in chosen}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )
    @given(calls())
    def check(call: tuple[str, list[Any], dict[str, Any]]) -> None:
        method, args, kwargs = call

        def invoke() -> Any:
            result = getattr(store, method)(*args, **kwargs)
            if method in ("query_all", "scan_all"):
                result = [item for _, item in zip(range(100), result)]
            return result

        outcome, value = _call_bounded(invoke)
        assert outcome != "hung", f"{method} did not return within {HANG_SECONDS:.0f} s"
        if outcome == "error":
            assert isinstance(value, StoreError), f"{method} raised {type(value).__name__}: {value}"
            assert tables_of_this_run(store) == baseline["tables"], f"a failed {method} changed the table list"
            assert snapshot(store, seeded) == baseline["items"], f"a failed {method} changed the table"
        else:
            # A call that succeeded may have written; later failures are compared with its result.
            baseline["tables"] = tables_of_this_run(store)
            baseline["items"] = snapshot(store, seeded)

    check()
