"""K1-K3: key order, key-condition operators, prefix matching and index ties."""

from __future__ import annotations

import operator
from decimal import Decimal

import pytest

from storeswap.contract_tests.helpers import drain_query, typed
from storeswap.core.errors import ValidationError

STRING_KEYS = [
    "a_z",
    "ab",
    "Foo",
    "bar",
    "a",
    "A",
    "a\x00",
    "\x00",
    "z",
    "é",
    "e",
    "\u00ff",
    "\u0100",
    "\uffff",
    "😀",
    "\U0010ffff",
    "中",
    "a%",
    "a b",
    "~",
    "0",
    "9",
]
BINARY_KEYS = [b"\x00", b"\x00\x00", b"\x01\x02", b"\x7f", b"\x80", b"\xff", b"\xff\x00", b"a", b"A"]
NUMBER_KEYS = [
    Decimal("-1E+30"),
    Decimal(-100),
    Decimal(-10),
    Decimal("-1.5"),
    Decimal(-1),
    Decimal("-1E-130"),
    Decimal(0),
    Decimal("1E-130"),
    Decimal("0.001"),
    Decimal(1),
    Decimal(9),
    Decimal(10),
    Decimal("1E+2"),
    Decimal("150"),
    Decimal("1E+30"),
    Decimal("9.9999999999999999999999999999999999999E+125"),
]


def _load(store, table, keys):
    for k in keys:
        store.put(table, {"pk": "p", "sk": k})
    store.put(table, {"pk": "other", "sk": keys[0]})


@pytest.mark.req("K1", "P3")
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "reverse"])
def test_strings_order_by_utf8_bytes(store, table, forward):
    _load(store, table, STRING_KEYS)
    expected = sorted(STRING_KEYS, key=lambda s: s.encode("utf-8"), reverse=not forward)
    got = [i["sk"] for i in store.query(table, "pk = :p", values={":p": "p"}, forward=forward)]
    assert got == expected


@pytest.mark.req("K1")
def test_string_order_is_not_utf16_nor_linguistic(store, table):
    _load(store, table, ["a_z", "ab", "Foo", "bar", "\uffff", "😀"])
    got = [i["sk"] for i in store.query(table, "pk = :p", values={":p": "p"})]
    # '_' (0x5F) < 'b' (0x62); 'F' (0x46) < 'b'; U+FFFF (EF BF BF) < U+1F600 (F0 9F 98 80),
    # although UTF-16 puts the surrogate pair D83D DE00 first.
    assert got == ["Foo", "a_z", "ab", "bar", "\uffff", "😀"]


@pytest.mark.req("K1", "P3")
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "reverse"])
def test_binary_orders_by_unsigned_bytes(store, bin_table, forward):
    _load(store, bin_table, BINARY_KEYS)
    expected = sorted(BINARY_KEYS, reverse=not forward)
    got = [i["sk"] for i in store.query(bin_table, "pk = :p", values={":p": "p"}, forward=forward)]
    assert got == expected
    assert got.index(b"\x7f") < got.index(b"\x80") if forward else got.index(b"\x7f") > got.index(b"\x80")


@pytest.mark.req("K1", "P3")
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "reverse"])
def test_numbers_order_numerically(store, num_table, forward):
    _load(store, num_table, NUMBER_KEYS)
    expected = sorted(NUMBER_KEYS, reverse=not forward)
    got = [i["sk"] for i in store.query(num_table, "pk = :p", values={":p": "p"}, forward=forward)]
    assert got == expected


@pytest.mark.req("K1", "P3")
@pytest.mark.parametrize("limit", [1, 2, 5])
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "reverse"])
def test_pages_keep_the_order(store, num_table, limit, forward):
    _load(store, num_table, NUMBER_KEYS)
    pages = drain_query(store, num_table, "pk = :p", limit, values={":p": "p"}, forward=forward)
    got = [i["sk"] for page in pages for i in page]
    assert got == sorted(NUMBER_KEYS, reverse=not forward)


_OPS = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_SAMPLES = {
    "S": (["a", "ab", "b", "é", "😀"], "ab", lambda v: v.encode()),
    "N": ([Decimal(-5), Decimal("0.5"), Decimal(2), Decimal(10), Decimal(100)], Decimal(10), lambda v: v),
    "B": ([b"\x01", b"\x7f", b"\x80", b"\x80\x00", b"\xff"], b"\x80", lambda v: v),
}


@pytest.mark.req("K1", "K2")
@pytest.mark.parametrize("op", list(_OPS))
@pytest.mark.parametrize("sk_type", list(_SAMPLES))
def test_sort_key_comparisons(store, table_factory, sk_type, op):
    t = table_factory(sk_type=sk_type)
    keys, pivot, order = _SAMPLES[sk_type]
    _load(store, t, keys)
    got = [i["sk"] for i in store.query(t, f"pk = :p AND sk {op} :v", values={":p": "p", ":v": pivot})]
    expected = sorted((k for k in keys if _OPS[op](order(k), order(pivot))), key=order)
    assert got == expected


@pytest.mark.req("K2")
@pytest.mark.parametrize("sk_type", list(_SAMPLES))
def test_between_on_sort_keys(store, table_factory, sk_type):
    t = table_factory(sk_type=sk_type)
    keys, _, _ = _SAMPLES[sk_type]
    _load(store, t, keys)
    low, high = keys[1], keys[3]
    got = [
        i["sk"] for i in store.query(t, "pk = :p AND sk BETWEEN :a AND :b", values={":p": "p", ":a": low, ":b": high})
    ]
    assert got == keys[1:4]


@pytest.mark.req("K2")
def test_begins_with_is_not_a_wildcard_match(store, table):
    _load(store, table, ["a%b", "a_b", "axb", "a%", "ab", "a", "a\\b", "a[b"])

    def prefix(p):
        return [i["sk"] for i in store.query(table, "pk = :p AND begins_with(sk, :x)", values={":p": "p", ":x": p})]

    assert prefix("a%") == ["a%", "a%b"]
    assert prefix("a_") == ["a_b"]
    assert prefix("a\\") == ["a\\b"]
    assert prefix("a[") == ["a[b"]
    assert prefix("ax") == ["axb"]
    assert prefix("a") == sorted(["a%b", "a_b", "axb", "a%", "ab", "a", "a\\b", "a[b"], key=str.encode)


@pytest.mark.req("K2")
def test_begins_with_on_binary_and_unicode(store, bin_table, table):
    _load(store, bin_table, [b"\xff\x00", b"\xff", b"\xfe\xff", b"\xff\x01\x02"])
    got = [
        i["sk"] for i in store.query(bin_table, "pk = :p AND begins_with(sk, :x)", values={":p": "p", ":x": b"\xff"})
    ]
    assert got == [b"\xff", b"\xff\x00", b"\xff\x01\x02"]
    _load(store, table, ["é", "éa", "e", "ê"])
    got = [i["sk"] for i in store.query(table, "pk = :p AND begins_with(sk, :x)", values={":p": "p", ":x": "é"})]
    assert got == ["é", "éa"]


@pytest.mark.req("K2", "X1")
def test_begins_with_on_a_number_key_is_rejected(store, num_table):
    _load(store, num_table, [Decimal(1), Decimal(10)])
    with pytest.raises(ValidationError):
        store.query(num_table, "pk = :p AND begins_with(sk, :x)", values={":p": "p", ":x": Decimal(1)})


@pytest.mark.req("K2", "X1")
@pytest.mark.parametrize(
    ("expr", "values"),
    [
        ("sk = :p", {":p": "p"}),  # no partition key
        ("pk = :p AND sk <> :s", {":p": "p", ":s": "s"}),  # <> not allowed
        ("pk = :p OR sk = :s", {":p": "p", ":s": "s"}),
        ("pk = :p AND other = :s", {":p": "p", ":s": "s"}),  # not a key attribute
        ("pk > :p", {":p": "p"}),  # partition key needs equality
        ("pk = :p AND sk = :s AND sk > :s", {":p": "p", ":s": "s"}),
        ("pk = :p", {":p": 5}),  # wrong type for the partition key
        ("pk = :p AND sk > :s", {":p": "p", ":s": 5}),  # wrong type for the sort key
        ("pk = :p AND NOT sk = :s", {":p": "p", ":s": "s"}),
        ("pk = :p AND contains(sk, :s)", {":p": "p", ":s": "s"}),
    ],
    ids=["no-pk", "ne", "or", "non-key", "pk-range", "two-sk", "pk-type", "sk-type", "not", "contains"],
)
def test_invalid_key_conditions_rejected(store, table, expr, values):
    with pytest.raises(ValidationError):
        store.query(table, expr, values=values)


def _gsi_ties(store, gsi_table):
    # Several items share the same index key (gpk, gsk): ties are ordered by the table key.
    items = []
    for pk in ["b", "a", "c", "😀", "\uffff"]:
        for sk in ["2", "1", "10"]:
            items.append({"pk": pk, "sk": sk, "gpk": "g", "gsk": 5})
    items += [{"pk": "z", "sk": "0", "gpk": "g", "gsk": 1}, {"pk": "0", "sk": "0", "gpk": "g", "gsk": 9}]
    for item in items:
        store.put(gsi_table, item)
    expected = sorted(items, key=lambda i: (i["gsk"], i["pk"].encode(), i["sk"].encode()))
    return [(i["pk"], i["sk"]) for i in expected]


@pytest.mark.req("K3", "P3")
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "reverse"])
def test_index_ties_ordered_by_table_key(store, gsi_table, settle, forward):
    expected = _gsi_ties(store, gsi_table)
    if not forward:
        expected.reverse()

    def check():
        got = [
            (i["pk"], i["sk"])
            for i in store.query(gsi_table, "gpk = :g", index="by_gpk", values={":g": "g"}, forward=forward)
        ]
        assert got == expected

    settle(check)


@pytest.mark.req("K3", "P2", "P3")
@pytest.mark.parametrize("limit", [1, 2, 4, 7])
@pytest.mark.parametrize("index", ["by_gpk", "by_gpk_keys"])
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "reverse"])
def test_paging_over_index_ties_neither_skips_nor_repeats(store, gsi_table, settle, limit, index, forward):
    expected = _gsi_ties(store, gsi_table)
    if not forward:
        expected.reverse()

    def check():
        pages = drain_query(store, gsi_table, "gpk = :g", limit, index=index, values={":g": "g"}, forward=forward)
        got = [(i["pk"], i["sk"]) for page in pages for i in page]
        assert got == expected

    settle(check)


@pytest.mark.req("K3", "P3")
def test_local_index_ties_ordered_by_table_sort_key(store, gsi_table):
    for sk in ["c", "a", "b", "é"]:
        store.put(gsi_table, {"pk": "p", "sk": sk, "lsk": 1})
    store.put(gsi_table, {"pk": "p", "sk": "0", "lsk": 0})
    store.put(gsi_table, {"pk": "p", "sk": "no-lsk"})
    pages = drain_query(store, gsi_table, "pk = :p", 1, index="by_lsk", values={":p": "p"}, consistent=True)
    got = [i["sk"] for page in pages for i in page]
    assert got == ["0", "a", "b", "c", "é"]


@pytest.mark.req("K1")
def test_partition_keys_are_exact(store, table):
    # partitions "p", "p ", "P", "p\x00" are all different
    for pk in ["p", "p ", "P", "p\x00"]:
        store.put(table, {"pk": pk, "sk": "s", "v": pk})
    for pk in ["p", "p ", "P", "p\x00"]:
        got = list(store.query(table, "pk = :p", values={":p": pk}))
        assert [typed(i["v"]) for i in got] == [typed(pk)]
