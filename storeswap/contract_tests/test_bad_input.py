"""X1-X4: every bad input raises its documented error and leaves every table untouched; items are the caller's own.

Each case runs against a table seeded with items of every type; the snapshot
(a consistent scan) must be identical before and after the failed call.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from storeswap.contract_tests.helpers import expect, snapshot, typed, unchanged
from storeswap.contract_tests.tables import tables_of_this_run
from storeswap.core.errors import ItemTooLarge, TableExists, TableNotFound, TransactionCanceled, ValidationError
from storeswap.core.port import BatchPut, TxPut, TxUpdate
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import StringSet

INJECT = "x'; DROP TABLE t; --"
SEED = [
    {"pk": "p", "sk": "a", "n": 1, "s": "text", "l": [1, "x"], "m": {"k": b"\x00"}, "ss": {"a"}, "z": None},
    {"pk": "p", "sk": "b", "n": 2, "flag": True},
    {"pk": "q", "sk": "a"},
]
K = {"pk": "p", "sk": "a"}

BAD = [
    # (id, call, expected error)
    ("oversized-item", lambda s, t: s.put(t, {**K, "big": "x" * 409_600}), ItemTooLarge),
    ("39-digit-number", lambda s, t: s.put(t, {**K, "n": Decimal("1" * 39)}), ValidationError),
    ("number-too-large", lambda s, t: s.put(t, {**K, "n": Decimal("1E+126")}), ValidationError),
    ("empty-set", lambda s, t: s.put(t, {**K, "ss": set()}), ValidationError),
    ("nested-empty-set", lambda s, t: s.put(t, {**K, "m": {"deep": [StringSet()]}}), ValidationError),
    ("float", lambda s, t: s.put(t, {**K, "n": 1.5}), ValidationError),
    ("float-in-update", lambda s, t: s.update(t, K, "SET n = :v", values={":v": 0.1}), ValidationError),
    ("unsupported-type", lambda s, t: s.put(t, {**K, "o": object()}), ValidationError),
    ("non-string-attr-name", lambda s, t: s.put(t, {**K, 1: "x"}), ValidationError),
    ("empty-attr-name", lambda s, t: s.put(t, {**K, "": "x"}), ValidationError),
    ("wrong-key-type", lambda s, t: s.put(t, {"pk": 1, "sk": "a"}), ValidationError),
    ("wrong-sort-key-type", lambda s, t: s.put(t, {"pk": "p", "sk": b"a"}), ValidationError),
    ("missing-sort-key", lambda s, t: s.put(t, {"pk": "p", "n": 5}), ValidationError),
    ("missing-partition-key", lambda s, t: s.put(t, {"sk": "a", "n": 5}), ValidationError),
    ("extra-key-attribute-delete", lambda s, t: s.delete(t, {**K, "n": 1}), ValidationError),
    (
        "extra-key-attribute-update",
        lambda s, t: s.update(t, {**K, "n": 1}, "SET n = :v", values={":v": 5}),
        ValidationError,
    ),
    (
        "missing-key-attribute-update",
        lambda s, t: s.update(t, {"pk": "p"}, "SET n = :v", values={":v": 5}),
        ValidationError,
    ),
    ("empty-key", lambda s, t: s.put(t, {"pk": "p", "sk": ""}), ValidationError),
    ("item-not-a-mapping", lambda s, t: s.put(t, [("pk", "p")]), ValidationError),
    ("key-not-a-mapping", lambda s, t: s.delete(t, "p"), ValidationError),
    ("update-sets-key", lambda s, t: s.update(t, K, "SET pk = :v", values={":v": "q"}), ValidationError),
    ("update-too-large", lambda s, t: s.update(t, K, "SET big = :v", values={":v": "x" * 409_600}), ItemTooLarge),
    ("malformed-update", lambda s, t: s.update(t, K, "SET n = = :v", values={":v": 1}), ValidationError),
    ("empty-update", lambda s, t: s.update(t, K, ""), ValidationError),
    ("update-keyword-only", lambda s, t: s.update(t, K, "SET"), ValidationError),
    ("unknown-clause", lambda s, t: s.update(t, K, "UPSERT n = :v", values={":v": 1}), ValidationError),
    ("malformed-condition", lambda s, t: s.put(t, {**K}, condition="attribute_exists("), ValidationError),
    ("unknown-function", lambda s, t: s.put(t, {**K}, condition="exists(n)"), ValidationError),
    ("function-case", lambda s, t: s.put(t, {**K}, condition="ATTRIBUTE_EXISTS(n)"), ValidationError),
    ("dangling-and", lambda s, t: s.put(t, {**K}, condition="n = :v AND", values={":v": 1}), ValidationError),
    ("undefined-value", lambda s, t: s.put(t, {**K}, condition="n = :v"), ValidationError),
    ("undefined-name", lambda s, t: s.put(t, {**K}, condition="#n = :v", values={":v": 1}), ValidationError),
    ("unused-value", lambda s, t: s.put(t, {**K}, condition="n = :v", values={":v": 1, ":w": 2}), ValidationError),
    ("unused-name", lambda s, t: s.delete(t, K, names={"#n": "n"}), ValidationError),
    ("reserved-word-bare", lambda s, t: s.update(t, K, "SET name = :v", values={":v": 1}), ValidationError),
    ("reserved-word-condition", lambda s, t: s.delete(t, K, condition="attribute_exists(size)"), ValidationError),
    (
        "bad-placeholder-name",
        lambda s, t: s.update(t, K, "SET #n = :v", names={"#n": ""}, values={":v": 1}),
        ValidationError,
    ),
    ("bad-return-values", lambda s, t: s.delete(t, K, return_values="ALL_NEW"), ValidationError),
    ("unknown-table", lambda s, t: s.put("no_such_table_here", {**K}), TableNotFound),
    ("injection-table-name", lambda s, t: s.put(INJECT, {**K}), ValidationError),
    (
        "injection-as-expression",
        lambda s, t: s.update(t, K, f"SET n = :v; {INJECT}", values={":v": 1}),
        ValidationError,
    ),
    (
        "injection-in-placeholder-key",
        lambda s, t: s.update(t, K, "SET n = :v", values={":v": 1, f":{INJECT}": 2}),
        ValidationError,
    ),
    (
        "batch-26",
        lambda s, t: s.batch_write([BatchPut(t, {"pk": "b", "sk": str(i)}) for i in range(26)]),
        ValidationError,
    ),
    (
        "batch-bad-item",
        lambda s, t: s.batch_write([BatchPut(t, {"pk": "b", "sk": "1"}), BatchPut(t, {"pk": "b"})]),
        ValidationError,
    ),
    (
        "transaction-failed-condition",
        lambda s, t: s.transact_write(
            [
                TxPut(t, {"pk": "b", "sk": "1"}),
                TxUpdate(t, K, "SET n = :v", condition="n = :x", values={":v": 9, ":x": 7}),
            ]
        ),
        TransactionCanceled,
    ),
    (
        "transaction-bad-item",
        lambda s, t: s.transact_write([TxPut(t, {"pk": "b", "sk": "1"}), TxPut(t, {"pk": 1})]),
        ValidationError,
    ),
    ("create-existing", lambda s, t: s.create_table(TableSpec(t, KeyAttribute("pk", "S"))), TableExists),
]


@pytest.fixture
def seeded(store, table):
    for item in SEED:
        store.put(table, item)
    return table


@pytest.mark.req("X1", "X2")
@pytest.mark.parametrize(("call", "error"), [(c, e) for _, c, e in BAD], ids=[i for i, _, _ in BAD])
def test_bad_input_raises_its_error_and_changes_nothing(store, seeded, call, error):
    tables_before = tables_of_this_run(store)
    spec_before = store.describe_table(seeded)
    with unchanged(store, seeded), pytest.raises(error) as caught:
        call(store, seeded)
    assert type(caught.value) is error, f"expected exactly {error.__name__}, got {type(caught.value).__name__}"
    assert tables_of_this_run(store) == tables_before
    assert store.describe_table(seeded) == spec_before


@pytest.mark.req("X1", "X2")
def test_bad_input_leaves_other_tables_untouched(store, seeded, hash_table):
    store.put(hash_table, {"pk": "h", "v": 1})
    with unchanged(store, seeded, hash_table), pytest.raises(ValidationError):
        store.batch_write([BatchPut(hash_table, {"pk": "new"}), BatchPut(seeded, {"pk": "p", "sk": "a", "f": 0.5})])


@pytest.mark.req("X3", "V5")
@pytest.mark.parametrize(
    "text",
    [
        INJECT,
        "' OR '1'='1",
        '"; DELETE FROM items; --',
        "$1",
        "%s",
        "?",
        "\\x00",
        '{"$gt": ""}',
        "--",
        "/* */",
        "${jndi:ldap://x}",
        "a\x00'; --",
    ],
)
def test_injection_shaped_names_and_values_are_plain_data(store, seeded, text):
    item = {"pk": text, "sk": text, text: text, "m": {text: [text]}, "ss": {text, "x"}}
    store.put(seeded, item)
    assert typed(store.get(seeded, {"pk": text, "sk": text})) == expect(item)
    found = store.query(seeded, "pk = :p AND begins_with(sk, :s)", values={":p": text, ":s": text[:3]}).items
    assert [typed(i) for i in found] == [expect(item)]
    store.update(
        seeded,
        {"pk": text, "sk": text},
        "SET #a = :v, #m.#a[1] = :v REMOVE #x",
        names={"#a": text, "#m": "m", "#x": "ss"},
        values={":v": text + "!"},
    )
    got = store.get(seeded, {"pk": text, "sk": text})
    assert got[text] == text + "!" and got["m"][text] == [text, text + "!"]
    assert list(store.scan_all(seeded, filter="#a = :v", names={"#a": text}, values={":v": text + "!"})) == [got]
    store.delete(
        seeded, {"pk": text, "sk": text}, condition="contains(#a, :v)", names={"#a": text}, values={":v": text}
    )
    # the seeded items were never touched
    assert snapshot(store, seeded) == sorted((expect(i) for i in SEED), key=repr)


@pytest.mark.req("X3")
def test_reserved_words_work_through_placeholders(store, seeded):
    store.update(
        seeded, K, "SET #name = :v, #size = :w", names={"#name": "name", "#size": "size"}, values={":v": "n", ":w": 3}
    )
    got = store.get(seeded, K, projection="#name, #size", names={"#name": "name", "#size": "size"})
    assert typed(got) == expect({"name": "n", "size": 3})


READS = [
    # (id, read returning items of SEED[0]); every one of them must hand out the caller's own containers
    ("get", lambda s, t: [s.get(t, K)]),
    ("get-projected", lambda s, t: [s.get(t, K, projection="m, l")]),
    ("query", lambda s, t: list(s.query(t, "pk = :p", values={":p": "p"}, limit=1))),
    ("query-projected", lambda s, t: list(s.query(t, "pk = :p", values={":p": "p"}, projection="m, l", limit=1))),
    ("scan", lambda s, t: [i for i in s.scan_all(t, consistent=True) if i["sk"] == "a" and i["pk"] == "p"]),
    ("scan-projected", lambda s, t: [i for i in s.scan_all(t, consistent=True, projection="pk, sk, m, l") if i["sk"] == "a" and i["pk"] == "p"]),
    ("batch-get", lambda s, t: s.batch_get({t: [K]})[t]),
]


@pytest.mark.req("X4")
@pytest.mark.parametrize("read", [r for _, r in READS], ids=[i for i, _ in READS])
def test_a_returned_item_is_the_callers_own(store, seeded, read):
    before = snapshot(store, seeded)
    (got,) = read(store, seeded)
    got["m"]["k"] = b"changed"
    got["m"]["new"] = "x"
    got["l"].append("more")
    got["extra"] = 1
    assert snapshot(store, seeded) == before


@pytest.mark.req("X4")
def test_an_item_changed_after_its_write_changes_nothing_stored(store, table):
    item = {"pk": "p", "sk": "a", "m": {"k": "v"}, "l": [1]}
    store.put(table, item)
    batch = [{"pk": "p", "sk": f"b{i}", "m": {"k": "v"}} for i in range(3)]
    store.bulk_put(table, batch)
    before = snapshot(store, table)
    item["m"]["k"] = "changed"
    item["l"].append(2)
    for b in batch:
        b["m"]["k"] = "changed"
    assert snapshot(store, table) == before
