"""E1-E3 and D1-D2: the typed error hierarchy, tables, and table names.

Throttling, lost connections and timeouts need a store that can inject
faults, so the fault tests themselves live with each adapter; here every
store is checked for what the port promises everywhere: every error it raises
is a typed :class:`StoreError` with the right ``retryable`` /
``outcome_unknown`` flags, and no driver exception crosses the port.
"""

from __future__ import annotations

import pytest

from storeswap.contract_tests.helpers import expect, snapshot, typed
from storeswap.contract_tests.tables import GSI_SPEC, tables_of_this_run, unique_table_name
from storeswap.core import errors
from storeswap.core.errors import (
    ConditionFailed,
    StoreError,
    TableExists,
    TableNotFound,
    TransactionCanceled,
    ValidationError,
)
from storeswap.core.port import BatchDelete, BatchPut, TxCheck, TxGet, TxPut
from storeswap.core.schema import KeyAttribute, TableSpec

FLAGS = [
    # (class, retryable, outcome_unknown)
    (errors.Throttled, True, False),
    (errors.TransactionConflict, True, False),
    (errors.StoreUnavailable, True, False),
    (errors.OutcomeUnknown, True, True),
    (errors.ValidationError, False, False),
    (errors.ItemTooLarge, False, False),
    (errors.IdempotencyMismatch, False, False),
    (errors.ConditionFailed, False, False),
    (errors.TransactionCanceled, False, False),
    (errors.TableNotFound, False, False),
    (errors.TableExists, False, False),
    (errors.ConfigurationError, False, False),
]


@pytest.mark.req("E1", "E2")
@pytest.mark.parametrize(("cls", "retryable", "unknown"), FLAGS, ids=[f[0].__name__ for f in FLAGS])
def test_error_types_say_whether_to_retry(store_name, cls, retryable, unknown):
    assert issubclass(cls, StoreError)
    assert cls.retryable is retryable
    assert cls.outcome_unknown is unknown


@pytest.mark.req("E3")
def test_data_a_store_cannot_read_is_neither_the_callers_error_nor_transient(store_name):
    # A damaged row needs a store whose storage a test can damage: the reads themselves are tested with the
    # PostgreSQL adapter's own tests (docs/semantics.md, E3).  Here: the type every store raises for it.
    cls = errors.StoreCorrupted
    assert issubclass(cls, StoreError) and not issubclass(cls, (ValidationError, ValueError))
    assert cls.retryable is False and cls.outcome_unknown is False


@pytest.mark.req("E1", "E2", "X1")
def test_errors_raised_by_the_store_are_typed_and_not_retryable(store, table):
    store.put(table, {"pk": "p", "sk": "s", "n": 1})
    raised: list[StoreError] = []
    for call in [
        lambda: store.put(table, {"pk": "p"}),
        lambda: store.put(table, {"pk": "p", "sk": "s"}, condition="attribute_not_exists(pk)"),
        lambda: store.get("no_such_table_here", {"pk": "p", "sk": "s"}),
        lambda: store.transact_write([TxCheck(table, {"pk": "p", "sk": "s"}, "n = :two", values={":two": 2})]),
        lambda: store.update(table, {"pk": "p", "sk": "s"}, "SET n = n + :v", values={":v": "x"}),
        lambda: store.query(table, "pk = :p", values={":p": "p"}, cursor="garbage"),
    ]:
        with pytest.raises(StoreError) as caught:
            call()
        raised.append(caught.value)
    kinds = [type(e) for e in raised]
    assert kinds == [
        ValidationError,
        ConditionFailed,
        TableNotFound,
        TransactionCanceled,
        ValidationError,
        ValidationError,
    ]
    for e in raised:
        # a definite answer from the store: not worth retrying, and nothing half-applied
        assert e.retryable is False and e.outcome_unknown is False
        assert str(e)


@pytest.mark.req("E1")
def test_a_validation_error_is_also_a_value_error(store, table):
    with pytest.raises(ValueError):
        store.put(table, {"pk": "p", "sk": "s", "f": 1.5})


UNKNOWN_TABLE_CALLS = {
    "get": lambda s, t: s.get(t, {"pk": "p", "sk": "s"}),
    "put": lambda s, t: s.put(t, {"pk": "p", "sk": "s"}),
    "update": lambda s, t: s.update(t, {"pk": "p", "sk": "s"}, "SET v = :v", values={":v": 1}),
    "delete": lambda s, t: s.delete(t, {"pk": "p", "sk": "s"}),
    "query": lambda s, t: s.query(t, "pk = :p", values={":p": "p"}),
    "scan": lambda s, t: s.scan(t),
    "describe_table": lambda s, t: s.describe_table(t),
    "delete_table": lambda s, t: s.delete_table(t),
    "batch_get": lambda s, t: s.batch_get({t: [{"pk": "p", "sk": "s"}]}),
    "batch_write": lambda s, t: s.batch_write(
        [BatchPut(t, {"pk": "p", "sk": "s"}), BatchDelete(t, {"pk": "q", "sk": "s"})]
    ),
    "transact_write": lambda s, t: s.transact_write([TxPut(t, {"pk": "p", "sk": "s"})]),
    "transact_get": lambda s, t: s.transact_get([TxGet(t, {"pk": "p", "sk": "s"})]),
}


@pytest.mark.req("D1", "X1")
@pytest.mark.parametrize("call", list(UNKNOWN_TABLE_CALLS))
def test_unknown_table_raises_table_not_found(store, call):
    name = unique_table_name("missing")
    with pytest.raises(TableNotFound):
        UNKNOWN_TABLE_CALLS[call](store, name)
    assert name not in store.list_tables()


@pytest.mark.req("D1")
def test_deleted_table_is_gone(store, table_factory):
    name = table_factory()
    store.put(name, {"pk": "p", "sk": "s"})
    assert name in store.list_tables()
    store.delete_table(name)
    assert name not in store.list_tables()
    with pytest.raises(TableNotFound):
        store.get(name, {"pk": "p", "sk": "s"})
    with pytest.raises(TableNotFound):
        store.put(name, {"pk": "p", "sk": "s"})
    # a new table of the same name starts empty
    store.create_table(TableSpec(name, KeyAttribute("pk", "S"), KeyAttribute("sk", "S")))
    assert snapshot(store, name) == []


@pytest.mark.req("D1", "X2")
def test_creating_an_existing_table_raises_table_exists(store, table):
    store.put(table, {"pk": "p", "sk": "s", "v": 1})
    before = store.describe_table(table)
    with pytest.raises(TableExists):
        store.create_table(TableSpec(table, KeyAttribute("other_key", "N")))
    assert store.describe_table(table) == before
    assert typed(store.get(table, {"pk": "p", "sk": "s"})) == expect({"pk": "p", "sk": "s", "v": 1})


@pytest.mark.req("D1")
def test_describe_table_round_trips_the_spec(store, gsi_table):
    spec = store.describe_table(gsi_table)
    assert spec.name == gsi_table
    assert spec.partition_key == GSI_SPEC.partition_key and spec.sort_key == GSI_SPEC.sort_key
    assert sorted(spec.global_indexes, key=lambda g: g.name) == sorted(GSI_SPEC.global_indexes, key=lambda g: g.name)
    assert sorted(spec.local_indexes, key=lambda g: g.name) == sorted(GSI_SPEC.local_indexes, key=lambda g: g.name)
    store.forget(gsi_table)
    assert store.describe_table(gsi_table) == spec


@pytest.mark.req("D1")
def test_list_tables_is_sorted_and_complete(store, table_factory):
    names = [table_factory(name=unique_table_name(prefix)) for prefix in ("zz", "aa", "mm")]
    listed = store.list_tables()
    assert listed == sorted(listed)
    assert set(names) <= set(listed)


@pytest.mark.req("D2", "X1")
@pytest.mark.parametrize(
    "name",
    [
        "x'; DROP TABLE t; --",
        "ab",
        "a" * 256,
        "has space",
        "semi;colon",
        'quote"d',
        "dollar$",
        "é_accented",
        "nul\x00char",
        "",
        "tab\tname",
        "slash/name",
    ],
)
def test_illegal_table_names_are_rejected(store, name):
    before = tables_of_this_run(store)
    with pytest.raises(ValidationError):
        _create(store, name)
    with pytest.raises(ValidationError):
        store.get(name, {"pk": "p"})
    with pytest.raises(ValidationError):
        store.delete_table(name)
    assert tables_of_this_run(store) == before


def _create(store, name):
    # TableSpec validates the name itself; the port must reject it either way.
    store.create_table(TableSpec(name, KeyAttribute("pk", "S")))


@pytest.mark.req("D2", "X3")
@pytest.mark.parametrize("prefix", ["a.b-c_d", "A.B-C_D", "0.0-0_0", "..", "--", "__"])
def test_legal_but_odd_table_names_work(store, table_factory, prefix):
    name = table_factory(name=f"{prefix}{unique_table_name('')}", sk=None)
    store.put(name, {"pk": "x'; DROP TABLE t; --", "v": 1})
    assert store.get(name, {"pk": "x'; DROP TABLE t; --"})["v"] == 1
    assert [i["pk"] for i in store.query(name, "pk = :p", values={":p": "x'; DROP TABLE t; --"})] == [
        "x'; DROP TABLE t; --"
    ]
    assert name in store.list_tables()


@pytest.mark.req("D2")
def test_table_name_of_255_characters_works(store, table_factory):
    name = table_factory(name=unique_table_name("t").ljust(255, "x"), sk=None)
    store.put(name, {"pk": "p"})
    assert store.get(name, {"pk": "p"}) == {"pk": "p"}
