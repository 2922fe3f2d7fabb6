"""Differential test: random operation sequences against the store under test and the memory reference.

A hypothesis state machine drives put / update / delete (with random
conditions and return values), get, query (paged, filtered, both
directions, on the table and a global index), scan, batch_write and
transact_write over a small key space, and compares every observable result
of the two stores: returned items, pages, cursor presence, error types
(``TransactionCanceled`` by its reason codes, ``ConditionFailed`` by the item
it carries) and, after every step, the whole table.  Against ``memory`` it is
a self-check of determinism.

``STORESWAP_DIFF_EXAMPLES`` sets the number of examples (default 50).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from storeswap.adapters.memory import MemoryStore
from storeswap.contract_tests.helpers import eventually, typed
from storeswap.contract_tests.plugin import unique_table_name
from storeswap.core.errors import ConditionFailed, StoreError, TransactionCanceled
from storeswap.core.port import BatchDelete, BatchPut, ItemStore, TxCheck, TxDelete, TxPut, TxUpdate
from storeswap.core.schema import GlobalIndex, KeyAttribute, Projection, TableSpec
from storeswap.core.values import BinarySet, NumberSet, StringSet

EXAMPLES = int(os.environ.get("STORESWAP_DIFF_EXAMPLES", "50"))

# ------------------------------------------------------------------ strategies

PKS = st.sampled_from(["a", "b", "a\x00", "é😀"])
SKS = st.sampled_from([Decimal(0), Decimal(1), Decimal(-1), Decimal("1.5"), Decimal(10)])
ATTRS = st.sampled_from(["x", "y", "z", "g", "gs"])  # g / gs are the global index's key attributes

texts = st.text(alphabet=st.sampled_from(["a", "b", "\x00", "é", "😀", "%", "_", " "]), max_size=5)
numbers = st.one_of(
    st.integers(-1000, 1000).map(Decimal),
    st.builds(lambda m, e: Decimal(f"{m}E{e}"), st.integers(-(10**38) + 1, 10**38 - 1), st.integers(-140, 100)),
    st.sampled_from([Decimal("1E-130"), Decimal("9.9999999999999999999999999999999999999E+125"), Decimal("-0")]),
)
binaries = st.binary(max_size=4)
scalars = st.one_of(texts, numbers, binaries, st.booleans(), st.none())
sets = st.one_of(
    st.frozensets(texts, min_size=1, max_size=3).map(StringSet),
    st.frozensets(st.integers(-5, 5).map(Decimal), min_size=1, max_size=3).map(NumberSet),
    st.frozensets(binaries, min_size=1, max_size=3).map(BinarySet),
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["k", "l", "\x00", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
orderable = st.one_of(texts, numbers, binaries)

CONDITIONS: list[tuple[str, dict[str, Any]]] = [
    ("attribute_exists(#a)", {}),
    ("attribute_not_exists(#a)", {}),
    ("attribute_not_exists(pk)", {}),
    ("#a = :v", {":v": values}),
    ("#a <> :v", {":v": values}),
    ("#a < :v", {":v": orderable}),
    ("#a >= :v", {":v": st.one_of(orderable, values)}),
    ("#a BETWEEN :v AND :w", {":v": orderable, ":w": orderable}),
    ("#a IN (:v, :w)", {":v": values, ":w": scalars}),
    ("size(#a) > :n", {":n": st.integers(0, 4)}),
    ("contains(#a, :v)", {":v": st.one_of(scalars, texts)}),
    ("begins_with(#a, :v)", {":v": st.one_of(texts, binaries)}),
    ("attribute_type(#a, :t)", {":t": st.sampled_from(["S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"])}),
    ("NOT #a = :v OR attribute_exists(#b)", {":v": scalars}),
    ("(#a = :v OR #b = :w) AND NOT attribute_type(#a, :t)", {":v": scalars, ":w": scalars, ":t": st.just("N")}),
]

UPDATES: list[tuple[str, dict[str, Any]]] = [
    ("SET #a = :v", {":v": values}),
    ("SET #a = :v, #b = :w", {":v": values, ":w": values}),
    ("SET #a = #a + :v", {":v": numbers}),
    ("SET #a = :v - #b", {":v": numbers}),
    ("SET #a = if_not_exists(#a, :v)", {":v": values}),
    ("SET #a = list_append(if_not_exists(#a, :e), :v)", {":e": st.just([]), ":v": st.lists(scalars, max_size=2)}),
    ("SET #a = list_append(:v, #a)", {":v": st.lists(scalars, max_size=2)}),
    ("SET #a[1] = :v", {":v": scalars}),
    ("SET #a.k = :v", {":v": values}),
    ("REMOVE #a", {}),
    ("REMOVE #a[0], #b", {}),
    ("ADD #a :v", {":v": st.one_of(numbers, sets)}),
    ("DELETE #a :v", {":v": sets}),
    ("SET #a = :v REMOVE #b", {":v": values}),
    ("SET #a = size(#b)", {}),  # size() is not allowed in SET: both must reject it
]

RETURNS_PUT = st.sampled_from(["NONE", "ALL_OLD"])
RETURNS_UPDATE = st.sampled_from(["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"])


@st.composite
def expression(draw: Any, templates: list[tuple[str, dict[str, Any]]]) -> tuple[str, dict[str, str], dict[str, Any]]:
    text, value_strategies = draw(st.sampled_from(templates))
    names = {}
    if "#a" in text:
        names["#a"] = draw(ATTRS)
    if "#b" in text:
        names["#b"] = draw(ATTRS)
    vals = {k: draw(v) for k, v in value_strategies.items()}
    return text, names, vals


@st.composite
def conditions(draw: Any) -> tuple[str, dict[str, str], dict[str, Any]] | None:
    if draw(st.booleans()):
        return None
    return draw(expression(CONDITIONS))


@st.composite
def items(draw: Any) -> dict[str, Any]:
    item = {"pk": draw(PKS), "sk": draw(SKS)}
    for name in draw(st.lists(ATTRS, max_size=3, unique=True)):
        if name == "g" and draw(st.booleans()):
            item[name] = draw(st.sampled_from(["g1", "g2"]))
        elif name == "gs" and draw(st.booleans()):
            item[name] = draw(st.integers(0, 3).map(Decimal))
        else:
            item[name] = draw(values)
    return item


keys = st.builds(lambda pk, sk: {"pk": pk, "sk": sk}, PKS, SKS)


# ------------------------------------------------------------------ comparing


def outcome(fn: Any) -> Any:
    """A comparable summary of a call: its typed result, or its error type and details."""
    try:
        return ("ok", typed(fn()))
    except TransactionCanceled as e:
        return ("error", "TransactionCanceled", tuple(e.codes), tuple(typed(r.item) for r in e.reasons))
    except ConditionFailed as e:
        return ("error", "ConditionFailed", typed(e.item))
    except StoreError as e:
        return ("error", type(e).__name__)


def _cond_kwargs(cond: Any) -> dict[str, Any]:
    if cond is None:
        return {}
    text, names, vals = cond
    return {"condition": text, "names": names or None, "values": vals or None}


class Differential(RuleBasedStateMachine):
    """The store under test (``sut``) against a fresh MemoryStore (``ref``)."""

    sut: ItemStore
    #: Give transactions idempotency tokens (T3); off in the plain run so stores with a T3 gap still run it.
    use_tokens = False

    def __init__(self) -> None:
        super().__init__()
        self.ref = MemoryStore()
        self.spec = TableSpec(
            unique_table_name("diff"),
            KeyAttribute("pk", "S"),
            KeyAttribute("sk", "N"),
            global_indexes=(GlobalIndex("by_g", KeyAttribute("g", "S"), KeyAttribute("gs", "N"), Projection("ALL")),),
        )
        self.t = self.spec.name
        self.sut.create_table(self.spec)
        self.ref.create_table(self.spec)
        if self.use_tokens:
            # A fixed opening, so a store that ignores tokens fails on the first example, every time.
            opening = [TxUpdate(self.t, {"pk": "a", "sk": Decimal(0)}, "ADD x :one", values={":one": 1})]
            for _ in range(2):
                self.both(lambda s: s.transact_write(opening, token=f"{self.t}-0"))
            self.same_contents()

    def teardown(self) -> None:
        self.sut.delete_table(self.t)

    def both(self, fn: Any) -> Any:
        got, want = outcome(lambda: fn(self.sut)), outcome(lambda: fn(self.ref))
        assert got == want
        return want

    @rule(item=items(), cond=conditions(), rv=RETURNS_PUT, return_old=st.booleans())
    def put(self, item, cond, rv, return_old):
        self.both(
            lambda s: s.put(self.t, item, return_values=rv, return_old_on_failure=return_old, **_cond_kwargs(cond))
        )

    @rule(key=keys, upd=expression(UPDATES), cond=conditions(), rv=RETURNS_UPDATE, return_old=st.booleans())
    def update(self, key, upd, cond, rv, return_old):
        text, names, vals = upd
        kwargs = _cond_kwargs(cond)
        all_names = {**names, **(kwargs.get("names") or {})}
        all_values = {**vals, **(kwargs.get("values") or {})}
        self.both(
            lambda s: s.update(
                self.t,
                key,
                text,
                condition=kwargs.get("condition"),
                names=all_names or None,
                values=all_values or None,
                return_values=rv,
                return_old_on_failure=return_old,
            )
        )

    @rule(key=keys, cond=conditions(), rv=RETURNS_PUT)
    def delete(self, key, cond, rv):
        self.both(lambda s: s.delete(self.t, key, return_values=rv, **_cond_kwargs(cond)))

    @rule(key=keys, projection=st.sampled_from([None, "x", "x, y[0]", "#a.k", "pk, z"]), names_attr=ATTRS)
    def get(self, key, projection, names_attr):
        names = {"#a": names_attr} if projection and "#a" in projection else None
        self.both(lambda s: s.get(self.t, key, projection=projection, names=names, consistent=True))

    @rule(
        pk=PKS,
        sort=st.sampled_from([None, "sk = :s", "sk < :s", "sk >= :s", "sk BETWEEN :s AND :t", "begins_with(sk, :s)"]),
        s=SKS,
        t=SKS,
        forward=st.booleans(),
        limit=st.one_of(st.none(), st.integers(1, 4)),
        flt=conditions(),
    )
    def query(self, pk, sort, s, t, forward, limit, flt):
        kc = "pk = :p" if sort is None else f"pk = :p AND {sort}"
        vals: dict[str, Any] = {":p": pk}
        if sort is not None:
            vals[":s"] = s
            if ":t" in sort:
                vals[":t"] = t
        kwargs = _cond_kwargs(flt)
        kwargs["filter"] = kwargs.pop("condition", None)
        kwargs["values"] = {**vals, **(kwargs.get("values") or {})}
        self._compare_pages(
            lambda s_, cursor: s_.query(
                self.t, kc, forward=forward, limit=limit, cursor=cursor, consistent=True, **kwargs
            )
        )

    @rule(g=st.sampled_from(["g1", "g2"]), forward=st.booleans(), limit=st.one_of(st.none(), st.integers(1, 3)))
    def query_index(self, g, forward, limit):
        def check():
            self._compare_pages(
                lambda s_, cursor: s_.query(
                    self.t, "g = :g", index="by_g", values={":g": g}, forward=forward, limit=limit, cursor=cursor
                )
            )

        eventually(self.sut, check)

    def _compare_pages(self, page_fn: Any) -> None:
        """Page through a query on both stores, comparing each page and its cursor's presence."""
        cursors: dict[str, str | None] = {}

        def tracking(which: str, s_: ItemStore, cursor: str | None) -> Any:
            page = page_fn(s_, cursor)
            cursors[which] = page.cursor
            return _page(page)

        cursor_sut = cursor_ref = None
        for _ in range(50):
            got = outcome(lambda c=cursor_sut: tracking("sut", self.sut, c))
            want = outcome(lambda c=cursor_ref: tracking("ref", self.ref, c))
            assert got == want
            if got[0] != "ok":
                return
            cursor_sut, cursor_ref = cursors["sut"], cursors["ref"]
            if cursor_sut is None:
                return
            # P4: a query cursor taken on the store under test resumes on the reference
            cross = outcome(lambda c=cursor_sut: _page(page_fn(self.ref, c)))
            direct = outcome(lambda c=cursor_ref: _page(page_fn(self.ref, c)))
            assert cross == direct
        raise AssertionError("paging never ended")

    @rule(limit=st.one_of(st.none(), st.integers(1, 5)), flt=conditions())
    def scan(self, limit, flt):
        kwargs = _cond_kwargs(flt)
        kwargs["filter"] = kwargs.pop("condition", None)

        def all_pages(s_):
            out = []
            cursor = None
            while True:
                page = s_.scan(self.t, limit=limit, cursor=cursor, consistent=True, **kwargs)
                assert limit is None or len(page.items) <= limit
                out.extend(page.items)
                if page.cursor is None:
                    return sorted(out, key=lambda i: repr(typed(i)))
                cursor = page.cursor

        self.both(all_pages)

    @rule(ops=st.lists(st.tuples(st.sampled_from(["put", "delete"]), items()), min_size=1, max_size=5))
    def batch_write(self, ops):
        reqs = [
            BatchPut(self.t, item) if op == "put" else BatchDelete(self.t, {"pk": item["pk"], "sk": item["sk"]})
            for op, item in ops
        ]
        self.both(lambda s: s.batch_write(reqs))

    @rule(
        ops=st.lists(
            st.tuples(
                st.sampled_from(["put", "update", "delete", "check"]),
                items(),
                expression(UPDATES),
                conditions(),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        ),
        token=st.one_of(st.none(), st.sampled_from(["1", "2"])),  # None means token 0 when use_tokens
    )
    def transact_write(self, ops, token):
        actions = []
        for op, item, upd, cond, return_old in ops:
            key = {"pk": item["pk"], "sk": item["sk"]}
            kw = _cond_kwargs(cond)
            if op == "put":
                actions.append(TxPut(self.t, item, return_old_on_failure=return_old, **kw))
            elif op == "delete":
                actions.append(TxDelete(self.t, key, return_old_on_failure=return_old, **kw))
            elif op == "check":
                if cond is None:
                    continue
                actions.append(
                    TxCheck(
                        self.t,
                        key,
                        kw["condition"],
                        names=kw["names"],
                        values=kw["values"],
                        return_old_on_failure=return_old,
                    )
                )
            else:
                text, names, vals = upd
                actions.append(
                    TxUpdate(
                        self.t,
                        key,
                        text,
                        condition=kw.get("condition"),
                        names={**names, **(kw.get("names") or {})} or None,
                        values={**vals, **(kw.get("values") or {})} or None,
                        return_old_on_failure=return_old,
                    )
                )
        if not actions:
            return
        # the session's store outlives this machine: make tokens unique to it
        tok = f"{self.t}-{token or 0}" if self.use_tokens else None
        self.both(lambda s: s.transact_write(actions, token=tok))

    @invariant()
    def same_contents(self):
        got = sorted((typed(i) for i in self.sut.scan_all(self.t, consistent=True)), key=repr)
        want = sorted((typed(i) for i in self.ref.scan_all(self.t, consistent=True)), key=repr)
        assert got == want


def _page(page: Any) -> Any:
    # Cursors are opaque: compare only whether there is one (P2); resuming is checked separately (P4).
    return [typed(i) for i in page.items], page.cursor is not None


def _run(store: ItemStore, tokens: bool) -> None:
    class Machine(Differential):
        sut = store
        use_tokens = tokens

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[
                HealthCheck.function_scoped_fixture,
                HealthCheck.too_slow,
                HealthCheck.data_too_large,
                HealthCheck.filter_too_much,
            ],
        ),
    )


@pytest.mark.req("P3", "P4", "C1", "C2", "C5", "C6", "C7", "C8", "T1", "T2", "Q3", "Q6", "V1", "V2", "V3")
def test_differential_against_memory(store):
    _run(store, tokens=False)


@pytest.mark.req("T3", "T2")
def test_differential_with_idempotency_tokens(store):
    _run(store, tokens=True)
