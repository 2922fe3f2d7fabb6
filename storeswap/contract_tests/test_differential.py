"""Differential test: random operation sequences against the store under test and the memory reference.

A hypothesis state machine drives put / update / delete (with random
conditions and return values), get, query (paged, filtered, both
directions, on the table and a global index), scan, batch_write and
transact_write over a small key space, and compares every observable result
of the two stores: returned items, pages, cursor presence, error types
(``TransactionCanceled`` by its reason codes, ``ConditionFailed`` by the item
it carries) and, after every step, the whole table.  Against ``memory`` it is
a self-check of determinism.

Known gaps: a store's strict gap markers pin what it gets wrong on targeted
tests; a random sequence would only rediscover those.  So the strategies
(:class:`Strategies`) leave out, for that store only, the features named in
``STRATEGY_GAPS[store]`` (:mod:`storeswap.contract_tests.markers`, declared
next to the markers, each name citing its marked test).  For ``dynamodb``
(moto) that means: no booleans, no =/<>/IN against NULL, no cross-type
ordering or BETWEEN, no size(), no binary contains/begins_with operands,
no list_append of a possibly missing attribute, no SET through a list
index, no UPDATED_OLD / UPDATED_NEW, no updates of the index key attributes
(nor conditions on them in updates), only numbers whose arithmetic stays
within 38 digits, no projections with a list index, and in transactions
only updates that cannot fail on the stored item.  Memory and postgres get
the full strategies.  The token variant (T3) is a strict ``notyet`` xfail on
dynamodb (moto ignores ``ClientRequestToken``).

``--diff-examples N`` (else ``STORESWAP_DIFF_EXAMPLES``, default 50) sets the number of examples.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from storeswap import settings as storeswap_settings
from storeswap.adapters.memory import MemoryStore
from storeswap.contract_tests.helpers import eventually, typed
from storeswap.contract_tests.markers import notyet, strategy_gaps
from storeswap.contract_tests.tables import unique_table_name
from storeswap.core.errors import ConditionFailed, StoreError, TransactionCanceled
from storeswap.core.port import BatchDelete, BatchPut, ItemStore, TxCheck, TxDelete, TxPut, TxUpdate
from storeswap.core.schema import GlobalIndex, IndexProjection, KeyAttribute, TableSpec
from storeswap.core.values import BinarySet, NumberSet, StringSet

EXAMPLES = storeswap_settings.get_int(storeswap_settings.DIFF_EXAMPLES)
#: tox sets STORESWAP_DIFF_DERANDOMIZE=1 so CI replays the same sequences every run (a red CI is then a
#: regression, not a new random find); run without it locally to explore new sequences.
DERANDOMIZE = storeswap_settings.get(storeswap_settings.DIFF_DERANDOMIZE) == "1"

# ------------------------------------------------------------------ strategies

PKS = st.sampled_from(["a", "b", "a\x00", "é😀"])
SKS = st.sampled_from([Decimal(0), Decimal(1), Decimal(-1), Decimal("1.5"), Decimal(10)])
ATTRS = st.sampled_from(["x", "y", "z", "g", "gs"])  # g / gs are the global index's key attributes
PLAIN_ATTRS = st.sampled_from(["x", "y", "z"])  # not an index key attribute

keys = st.builds(lambda pk, sk: {"pk": pk, "sk": sk}, PKS, SKS)

#: Update templates that can fail on a stored item (wrong type, missing list element, ...).
FAILING_UPDATES = frozenset(
    {
        "SET #a = #a + :v",
        "SET #a = :v - #b",
        "SET #a = list_append(if_not_exists(#a, :e), :v)",
        "SET #a = list_append(:v, #a)",
        "SET #a[1] = :v",
        "SET #a.k = :v",
        "REMOVE #a[0], #b",
        "ADD #a :v",
        "DELETE #a :v",
        "SET #a = size(#b)",
    }
)


class Strategies:
    """The value, expression and request strategies, minus the features in ``gaps``.

    ``gaps`` are the feature names of :data:`storeswap.contract_tests.markers.STRATEGY_GAPS`
    for the store under test; each is a behaviour a strict gap marker already
    covers, so generating it again would only rediscover that gap.
    """

    def __init__(self, gaps: frozenset[str] = frozenset()) -> None:
        self.gaps = gaps
        texts = st.text(alphabet=st.sampled_from(["a", "b", "\x00", "é", "😀", "%", "_", " "]), max_size=5)
        if "wide_numbers" in gaps:
            # results of arithmetic on these stay within 38 digits
            numbers = st.one_of(
                st.integers(-1000, 1000).map(Decimal),
                st.builds(lambda m, e: Decimal(f"{m}E{e}"), st.integers(-999, 999), st.integers(-3, 3)),
            )
        else:
            numbers = st.one_of(
                st.integers(-1000, 1000).map(Decimal),
                st.builds(
                    lambda m, e: Decimal(f"{m}E{e}"), st.integers(-(10**38) + 1, 10**38 - 1), st.integers(-140, 100)
                ),
                st.sampled_from(
                    [Decimal("1E-130"), Decimal("9.9999999999999999999999999999999999999E+125"), Decimal("-0")]
                ),
            )
        binaries = st.binary(max_size=4)
        if "bool_values" in gaps:
            scalars = st.one_of(texts, numbers, binaries, st.none())
        else:
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
        no_binary = "binary_contains_begins_with" in gaps
        # what an attribute is compared with by =, <> and IN
        if "null_equals_missing" in gaps:
            compared, compared_scalars = values.filter(lambda v: v is not None), scalars.filter(lambda v: v is not None)
        else:
            compared, compared_scalars = values, scalars
        self.texts, self.numbers, self.binaries, self.scalars, self.sets, self.values = (
            texts,
            numbers,
            binaries,
            scalars,
            sets,
            values,
        )
        conditions: list[tuple[str, dict[str, Any]]] = [
            ("attribute_exists(#a)", {}),
            ("attribute_not_exists(#a)", {}),
            ("attribute_not_exists(pk)", {}),
            ("#a = :v", {":v": compared}),
            ("#a <> :v", {":v": compared}),
            ("#a IN (:v, :w)", {":v": compared, ":w": compared_scalars}),
            ("contains(#a, :v)", {":v": st.one_of(texts, numbers, st.none()) if no_binary else scalars}),
            ("begins_with(#a, :v)", {":v": texts if no_binary else st.one_of(texts, binaries)}),
            (
                "attribute_type(#a, :t)",
                {":t": st.sampled_from(["S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"])},
            ),
            ("NOT #a = :v OR attribute_exists(#b)", {":v": compared_scalars}),
            (
                "(#a = :v OR #b = :w) AND NOT attribute_type(#a, :t)",
                {":v": compared_scalars, ":w": compared_scalars, ":t": st.just("N")},
            ),
        ]
        if "ordering_conditions" not in gaps:
            conditions += [
                ("#a < :v", {":v": orderable}),
                ("#a >= :v", {":v": st.one_of(orderable, values)}),
                ("#a BETWEEN :v AND :w", {":v": orderable, ":w": orderable}),
            ]
        if "size_conditions" not in gaps:
            conditions.append(("size(#a) > :n", {":n": st.integers(0, 4)}))
        updates: list[tuple[str, dict[str, Any]]] = [
            ("SET #a = :v", {":v": values}),
            ("SET #a = :v, #b = :w", {":v": values, ":w": values}),
            ("SET #a = #a + :v", {":v": numbers}),
            ("SET #a = :v - #b", {":v": numbers}),
            ("SET #a = if_not_exists(#a, :v)", {":v": values}),
            (
                "SET #a = list_append(if_not_exists(#a, :e), :v)",
                {":e": st.just([]), ":v": st.lists(scalars, max_size=2)},
            ),
            ("REMOVE #a", {}),
            ("ADD #a :v", {":v": st.one_of(numbers, sets)}),
            ("DELETE #a :v", {":v": sets}),
            ("SET #a = :v REMOVE #b", {":v": values}),
            ("SET #a = size(#b)", {}),  # size() is not allowed in SET: both must reject it
        ]
        if "list_append_missing" not in gaps:
            updates.append(("SET #a = list_append(:v, #a)", {":v": st.lists(scalars, max_size=2)}))
        if "set_through_string" not in gaps:
            updates.append(("SET #a.k = :v", {":v": values}))
        if "remove_list_element" not in gaps:
            updates.append(("REMOVE #a[0], #b", {}))
        if "set_list_element" not in gaps:
            updates.append(("SET #a[1] = :v", {":v": scalars}))
        self.conditions = conditions
        self.updates = updates
        self.tx_updates = (
            [u for u in updates if u[0] not in FAILING_UPDATES] if "failing_transaction_updates" in gaps else updates
        )
        self.update_attrs = PLAIN_ATTRS if "update_index_keys" in gaps else ATTRS
        self.returns_put = st.sampled_from(["NONE", "ALL_OLD"])
        self.returns_update = st.sampled_from(
            ["NONE", "ALL_OLD", "ALL_NEW"]
            if "updated_return_values" in gaps
            else ["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"]
        )
        self.projections = st.sampled_from(
            [None, "x", "#a.k", "pk, z"] if "projection_list_index" in gaps else [None, "x", "x, y[0]", "#a.k", "pk, z"]
        )

    def expression(
        self, templates: list[tuple[str, dict[str, Any]]], attrs: st.SearchStrategy[str] = ATTRS
    ) -> st.SearchStrategy[tuple[str, dict[str, str], dict[str, Any]]]:
        @st.composite
        def draw_expression(draw: Any) -> tuple[str, dict[str, str], dict[str, Any]]:
            text, value_strategies = draw(st.sampled_from(templates))
            names = {}
            if "#a" in text:
                names["#a"] = draw(attrs)
            if "#b" in text:
                names["#b"] = draw(attrs)
            vals = {k: draw(v) for k, v in value_strategies.items()}
            return text, names, vals

        return draw_expression()

    def condition(
        self, attrs: st.SearchStrategy[str] = ATTRS
    ) -> st.SearchStrategy[tuple[str, dict[str, str], dict[str, Any]] | None]:
        """A condition or None; an update's condition shares its placeholders, so it takes ``update_attrs``."""
        return st.one_of(st.none(), self.expression(self.conditions, attrs))

    def update(self, transactional: bool = False) -> st.SearchStrategy[tuple[str, dict[str, str], dict[str, Any]]]:
        return self.expression(self.tx_updates if transactional else self.updates, self.update_attrs)

    def items(self) -> st.SearchStrategy[dict[str, Any]]:
        values = self.values

        @st.composite
        def draw_item(draw: Any) -> dict[str, Any]:
            item = {"pk": draw(PKS), "sk": draw(SKS)}
            for name in draw(st.lists(ATTRS, max_size=3, unique=True)):
                if name == "g" and draw(st.booleans()):
                    item[name] = draw(st.sampled_from(["g1", "g2"]))
                elif name == "gs" and draw(st.booleans()):
                    item[name] = draw(st.integers(0, 3).map(Decimal))
                else:
                    item[name] = draw(values)
            return item

        return draw_item()


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


def make_machine(S: Strategies) -> type[RuleBasedStateMachine]:
    """The state machine class whose rules draw from ``S``."""

    class Differential(RuleBasedStateMachine):
        """The store under test (``sut``) against a fresh MemoryStore (``ref``), drawing from ``S``."""

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
                global_indexes=(
                    GlobalIndex("by_g", KeyAttribute("g", "S"), KeyAttribute("gs", "N"), IndexProjection("ALL")),
                ),
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

        @rule(item=S.items(), cond=S.condition(), rv=S.returns_put, return_old=st.booleans())
        def put(self, item, cond, rv, return_old):
            self.both(
                lambda s: s.put(self.t, item, return_values=rv, return_old_on_failure=return_old, **_cond_kwargs(cond))
            )

        @rule(
            key=keys,
            upd=S.update(),
            cond=S.condition(S.update_attrs),
            rv=S.returns_update,
            return_old=st.booleans(),
        )
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

        @rule(key=keys, cond=S.condition(), rv=S.returns_put)
        def delete(self, key, cond, rv):
            self.both(lambda s: s.delete(self.t, key, return_values=rv, **_cond_kwargs(cond)))

        @rule(key=keys, projection=S.projections, names_attr=ATTRS)
        def get(self, key, projection, names_attr):
            names = {"#a": names_attr} if projection and "#a" in projection else None
            self.both(lambda s: s.get(self.t, key, projection=projection, names=names, consistent=True))

        @rule(
            pk=PKS,
            sort=st.sampled_from(
                [None, "sk = :s", "sk < :s", "sk >= :s", "sk BETWEEN :s AND :t", "begins_with(sk, :s)"]
            ),
            s=SKS,
            t=SKS,
            forward=st.booleans(),
            limit=st.one_of(st.none(), st.integers(1, 4)),
            flt=S.condition(),
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

        @rule(limit=st.one_of(st.none(), st.integers(1, 5)), flt=S.condition())
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

        @rule(ops=st.lists(st.tuples(st.sampled_from(["put", "delete"]), S.items()), min_size=1, max_size=5))
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
                    S.items(),
                    S.update(transactional=True),
                    S.condition(S.update_attrs),
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

    return Differential


def _page(page: Any) -> Any:
    # Cursors are opaque: compare only whether there is one (P2); resuming is checked separately (P4).
    return [typed(i) for i in page.items], page.cursor is not None


def _run(store: ItemStore, store_name: str, tokens: bool, examples: int | None) -> None:
    class Machine(make_machine(Strategies(strategy_gaps(store_name)))):  # type: ignore[misc]
        sut = store
        use_tokens = tokens

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=EXAMPLES if examples is None else examples,
            derandomize=DERANDOMIZE,
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
def test_differential_against_memory(store, store_name, request):
    _run(store, store_name, tokens=False, examples=request.config.getoption("storeswap_diff_examples"))


@pytest.mark.req("T3", "T2")
@notyet(
    ["dynamodb"],
    reason="moto 5.2.5: ClientRequestToken ignored, a repeated transaction is applied twice",
    raises=AssertionError,
)
def test_differential_with_idempotency_tokens(store, store_name, request):
    _run(store, store_name, tokens=True, examples=request.config.getoption("storeswap_diff_examples"))
