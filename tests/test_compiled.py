"""The compiled fast paths (storeswap/core/cvalues.c, storeswap/adapters/postgres/ccodec.c,
storeswap/gateway/cwire.c) against their
pure-Python references: the same canonical items, the same errors, the same bytes.

The extensions are optional at install time; here they must be built (``python setup.py build_ext
--inplace`` in a source tree, any ``pip install`` with a compiler) unless ``STORESWAP_PURE=1`` asks for
the pure-Python path on purpose, which the ``pure`` tox env runs.
"""

from __future__ import annotations

import json
import os
import shutil
import sysconfig
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storeswap.adapters.postgres import bulk, codec
from storeswap.adapters.postgres.layout import Layout
from storeswap.core import prepare, values
from storeswap.core.errors import StoreError, ValidationError
from storeswap.core.keys import partition_bucket
from storeswap.core.requests import LentItems
from storeswap.core.schema import GlobalIndex, KeyAttribute, TableSpec
from storeswap.core.values import BinarySet, NumberSet, StringSet
from storeswap.gateway import wire
from storeswap.migrate.sample import bulk_items, sample_items

PURE = bool(os.environ.get("STORESWAP_PURE"))


def _can_compile() -> bool:
    """A C compiler and the Python headers: what the optional extensions need to build."""
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None and os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))


#: Where a compiler exists the install must have built the extensions; on a machine with only Python
#: the package falls back to the pure-Python code, and these tests check that fallback instead.
EXPECT_COMPILED = not PURE and _can_compile()


def test_the_compiled_paths_are_in_use_where_they_can_be_built() -> None:
    assert values.COMPILED is EXPECT_COMPILED, "build the extensions: python setup.py build_ext --inplace"
    assert codec.COMPILED is EXPECT_COMPILED
    assert bulk.COMPILED_ROWS is EXPECT_COMPILED
    assert prepare.COMPILED_BULK_ITEMS is EXPECT_COMPILED
    assert wire.COMPILED is EXPECT_COMPILED


NUMBERS = [
    "0", "-0", "0.0", "1", "-1", "10", "100", "1.5", "1.50", "-1.5", "0.001", "0.0000001", "1E+2", "1.5E+2",
    "12345678901234567890123456789012345678", "123456789012345678901234567890123456789",
    "1234567890123456789012345678901234567.8", "9.9999999999999999999999999999999999999E+125", "1E+126",
    "1E-130", "1E-131", "0.000001", "0.1000", "007", "NaN", "Infinity", "-Infinity",
]

values_st = st.recursive(
    st.one_of(
        st.text(),
        st.binary(),
        st.booleans(),
        st.none(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.sampled_from([Decimal(n) for n in NUMBERS]),
        st.frozensets(st.text(), min_size=1, max_size=3).map(StringSet),
        st.floats(allow_nan=False),
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
items_st = st.dictionaries(st.text(max_size=6), values_st, max_size=6)


def _outcome(fn: Any, arg: Any) -> Any:
    try:
        return ("ok", fn(arg))
    except StoreError as e:
        return ("error", type(e), str(e))


def _same(a: Any, b: Any) -> bool:
    # Canonical items compare equal *and* encode to the same bytes (types included, e.g. Decimal vs int).
    if a[0] != b[0]:
        return False
    if a[0] == "error":
        return bool(a == b)
    return bool(a[1] == b[1] and codec.encode_item_python(a[1]) == codec.encode_item_python(b[1]))


@pytest.mark.parametrize("text", NUMBERS)
def test_numbers_normalise_alike(text: str) -> None:
    item = {"pk": "p", "n": Decimal(text)}
    assert _same(_outcome(values.normalize_item, item), _outcome(values.normalize_item_python, item))


def test_sample_and_bulk_items_normalise_and_encode_alike() -> None:
    for item in [*sample_items(), *bulk_items(200)]:
        fast = values.normalize_item(item)
        assert fast == values.normalize_item_python(item)
        assert codec.encode_item(fast) == codec.encode_item_python(fast)
        for v in fast.values():
            assert codec.encode_value(v) == codec.encode_value_python(v)


@settings(max_examples=300, deadline=None)
@given(items_st)
def test_random_items_normalise_and_encode_alike(item: dict[str, Any]) -> None:
    fast = _outcome(values.normalize_item, item)
    assert _same(fast, _outcome(values.normalize_item_python, item))
    if fast[0] == "ok":
        assert codec.encode_item(fast[1]) == codec.encode_item_python(fast[1])
        assert codec.decode_item(codec.encode_item(fast[1])) == fast[1]


@pytest.mark.parametrize(
    "item",
    [
        {"": "empty name"},
        {1: "int name"},
        {"s": "lone \ud800 surrogate"},
        {"\udc00": "surrogate name"},
        {"big": "x" * 409_600},
        {"f": 1.5},
        {"set": set()},
        {"n": Decimal("1E+200")},
        # Integral Decimals of exponent 0 print every digit and no exponent: 10**125 is in range, 10**126 is not.
        {"n": Decimal(10**125)}, {"n": Decimal(10**126)}, {"n": Decimal(-(10**126))}, {"n": Decimal(10**200)},
        {"ok": "a", "bad": object()},
        {"ns": NumberSet({Decimal("1.50")}), "bs": BinarySet({b"x"}), "i": 7, "ba": bytearray(b"z")},
    ],
    ids=repr,
)
def test_edge_items_take_the_same_decision(item: dict[Any, Any]) -> None:
    fast = _outcome(values.normalize_item, item)
    assert _same(fast, _outcome(values.normalize_item_python, item))
    if fast[0] == "ok":
        assert codec.encode_item(fast[1]) == codec.encode_item_python(fast[1])


def test_a_mapping_that_is_not_a_dict_takes_the_python_path() -> None:
    from types import MappingProxyType

    item = MappingProxyType({"pk": "p", "n": Decimal("1.0")})
    assert values.normalize_item(item) == values.normalize_item_python(item) == {"pk": "p", "n": Decimal(1)}


# ---- the binary COPY row framer (ccodec.copy_rows) against bulk.copy_rows_python

LAYOUTS = [
    Layout.build(TableSpec("framed_ss", KeyAttribute("pk"), KeyAttribute("sk"))),
    Layout.build(TableSpec("framed_s", KeyAttribute("pk"))),
    Layout.build(TableSpec("framed_bs", KeyAttribute("pk", "B"), KeyAttribute("sk"))),
]


def _keyed(lay: Layout, i: int, item: dict[str, Any]) -> dict[str, Any]:
    out = dict(item)
    part = i % 7 if lay.sk is not None else i  # partitions of several items where a sort key tells them apart
    out[lay.pk.attr] = f"p{part}\u00e9" if lay.pk.type == "S" else bytes([part, 0, 255])
    if lay.sk is not None:
        out[lay.sk.attr] = f"s{i:04d}\u2603"
    return out


@pytest.mark.skipif(not bulk.COMPILED_ROWS, reason="the framer is not built (pure-Python run)")
@pytest.mark.parametrize("lay", LAYOUTS, ids=lambda lay: lay.spec.name)
def test_framed_rows_are_the_reference_bytes_and_lock_ids(lay: Layout) -> None:
    every = [values.normalize_item(_keyed(lay, i, it)) for i, it in enumerate([*sample_items(), *bulk_items(50)])]
    # Items with typed sets take the Python encoder, so the framer hands the whole call back.
    items = [it for it in every if not any(isinstance(v, (StringSet, NumberSet, BinarySet)) for v in it.values())]
    assert len(items) > 50 and bulk.copy_rows(lay, every) in (None, bulk.copy_rows_python(lay, every))
    for batch in (items, sorted(items, key=lay.key_params), items[::-1]):
        fast = bulk.copy_rows(lay, batch)
        assert fast is not None
        assert fast == bulk.copy_rows_python(lay, batch)
        assert fast[1] == [lay.lock_id(it) for it in batch]
    assert bulk.copy_rows(lay, sorted(items, key=lay.key_params))[2] is True  # type: ignore[index]


@pytest.mark.skipif(not bulk.COMPILED_ROWS, reason="the framer is not built (pure-Python run)")
@pytest.mark.parametrize("lay", LAYOUTS, ids=lambda lay: lay.spec.name)
def test_a_whole_ordered_chunk_is_the_reference_stream_and_lock_list(lay: Layout) -> None:
    every = [values.normalize_item(_keyed(lay, i, it)) for i, it in enumerate([*sample_items(), *bulk_items(50)])]
    plain = [it for it in every if not any(isinstance(v, (StringSet, NumberSet, BinarySet)) for v in it.values())]
    ordered = sorted(plain, key=lay.key_params)
    fast = bulk.copy_payload(lay, ordered)
    assert fast is not None and fast == bulk.copy_payload_python(lay, ordered)
    assert fast[1] == bulk.lock_list(sorted(lay.lock_id(it) for it in ordered)) and "-" in fast[1]
    assert bulk.copy_payload(lay, []) == bulk.copy_payload_python(lay, []) == (bulk.COPY_SIGNATURE + bulk.COPY_TRAILER, "")
    # Out of key order, a key twice, or an item for the Python encoder: None, and bulk_put frames row by row.
    assert bulk.copy_payload(lay, ordered[::-1]) is None is bulk.copy_payload_python(lay, ordered[::-1])
    twice = [*ordered[:3], ordered[2], *ordered[3:]]
    assert bulk.copy_payload(lay, twice) is None is bulk.copy_payload_python(lay, twice)
    assert bulk.copy_payload(lay, sorted(every, key=lay.key_params)) is None


@pytest.mark.skipif(not bulk.COMPILED_ROWS, reason="the framer is not built (pure-Python run)")
def test_a_chunk_larger_than_the_first_guess_grows_its_stream_to_the_reference_bytes() -> None:
    # The stream is framed into a bytes object sized for ~1 KB rows; rows of 5-300 KB make it grow.
    lay = LAYOUTS[0]
    items = [values.normalize_item({"pk": "p", "sk": f"s{i:03d}", "v": "x" * (5000 * i * i)}) for i in range(1, 9)]
    fast = bulk.copy_payload(lay, items)
    assert fast is not None and fast == bulk.copy_payload_python(lay, items)
    assert len(fast[0]) > 64 + 1100 * len(items)


@pytest.mark.skipif(not bulk.COMPILED_ROWS, reason="the framer is not built (pure-Python run)")
@settings(max_examples=200, deadline=None)
@given(st.lists(items_st, max_size=5), st.lists(st.text(min_size=1, max_size=5), min_size=5, max_size=5))
def test_random_items_frame_like_the_reference_or_take_the_python_path(
    raw: list[dict[str, Any]], keys: list[str]
) -> None:
    lay = LAYOUTS[0]
    items = []
    for it, k in zip(raw, keys):
        try:
            items.append(values.normalize_item({**it, "pk": k, "sk": k[::-1]}))
        except StoreError:
            continue
    fast = bulk.copy_rows(lay, items)
    if fast is not None:  # None: some item needs the Python encoder (sets, lone surrogates); bulk_put uses write_row
        assert fast == bulk.copy_rows_python(lay, items)
        assert bulk.copy_payload(lay, items) == bulk.copy_payload_python(lay, items)


@pytest.mark.parametrize(
    "spec",
    [TableSpec("framed_n", KeyAttribute("pk", "N")), TableSpec("framed_ttl", KeyAttribute("pk"), ttl_attribute="exp")],
    ids=lambda s: s.name,
)
def test_layouts_with_number_keys_or_more_columns_take_the_write_row_path(spec: TableSpec) -> None:
    lay = Layout.build(spec)
    pk = Decimal(1) if spec.partition_key.type == "N" else "p"
    assert bulk.copy_rows(lay, [values.normalize_item({"pk": pk, "exp": Decimal(5)})]) is None


@pytest.mark.skipif(not bulk.COMPILED_ROWS, reason="the framer is not built (pure-Python run)")
@pytest.mark.parametrize(
    "item",
    [{"pk": "lone \ud800", "sk": "s"}, {"pk": "p", "sk": "s", "set": StringSet({"a"})}, {"pk": b"bytes", "sk": "s"}],
    ids=repr,
)
def test_items_the_framer_cannot_frame_take_the_python_path(item: dict[str, Any]) -> None:
    assert bulk.copy_rows(LAYOUTS[0], [item]) is None


@pytest.mark.skipif(not bulk.COMPILED_ROWS, reason="the framer is not built (pure-Python run)")
def test_framed_buckets_and_lock_ids_match_hashlib_across_block_boundaries() -> None:
    # The framer's BLAKE2b is its own C code: keys whose hashed input spans 0-3 blocks of 128 bytes, both edges.
    lay = LAYOUTS[0]
    lengths = [1, 2, 100, 126, 127, 128, 129, 200, 255, 256, 257, 383, 384, 385, 1024]
    items = [{"pk": "p" * n, "sk": "s" * m, "v": "x"} for n in lengths for m in (1, 128 - len(lay.physical) % 128, 1000)]
    frames, locks, _ = bulk.copy_rows(LAYOUTS[0], items)  # type: ignore[misc]
    assert locks == [lay.lock_id(it) for it in items]
    assert [int.from_bytes(f[6:14], "big") for f in frames] == [partition_bucket(it["pk"]) for it in items]


# ---- a bulk's items (prepare.bulk_items: cvalues.normalize_items) against prepare.bulk_items_python

BULK_SPECS = [
    TableSpec("bulk_ss", KeyAttribute("pk"), KeyAttribute("sk")),
    TableSpec("bulk_s", KeyAttribute("pk")),
    TableSpec("bulk_bn", KeyAttribute("pk", "B"), KeyAttribute("sk", "N")),
    TableSpec(
        "bulk_gsi",
        KeyAttribute("pk"),
        KeyAttribute("sk"),
        global_indexes=[GlobalIndex("by_g", KeyAttribute("g"), KeyAttribute("gn", "N")), GlobalIndex("by_sk", KeyAttribute("sk"))],
    ),
]

key_st = st.one_of(
    st.text(max_size=4),
    st.text(alphabet="\U0001f600x", min_size=255, max_size=260),  # 4-byte characters around the 1024-byte limit
    st.sampled_from(["", "x" * 511, "x" * 512, "x" * 513, "x" * 1024, "x" * 1025, "x" * 2048, "x" * 2049]),
    st.binary(max_size=3),
    st.sampled_from([Decimal(1), Decimal("1.50"), 7, True, None]),
)
keyed_items_st = st.builds(
    lambda base, keys: {**base, **keys},
    items_st,
    st.dictionaries(st.sampled_from(["pk", "sk", "g", "gn"]), key_st, max_size=4),
)


def _bulk_outcome(fn: Any, spec: TableSpec, items: list[Any]) -> Any:
    try:
        out = fn(spec, iter(items))  # any iterable, read once
    except StoreError as e:
        return ("error", type(e), str(e))
    return ("ok", out, [codec.encode_item_python(it) for it in out])


@pytest.mark.parametrize("spec", BULK_SPECS, ids=lambda s: s.name)
def test_bulk_items_are_the_reference_items_and_errors(spec: TableSpec) -> None:
    def keyed(i: int, item: dict[str, Any]) -> dict[str, Any]:
        pk: Any = f"p{i % 3}" if spec.partition_key.type == "S" else bytes([i % 3])
        sk: Any = f"s{i}" if spec.sort_key is None or spec.sort_key.type == "S" else Decimal(i)
        return {**item, "pk": pk, **({} if spec.sort_key is None else {"sk": sk})}

    good = [keyed(i, it) for i, it in enumerate([*sample_items(), *bulk_items(20)])]
    fast = _bulk_outcome(prepare.bulk_items, spec, good)
    assert fast[0] == "ok" and fast == _bulk_outcome(prepare.bulk_items_python, spec, good)
    assert all(a is not b for a, b in zip(fast[1], good))  # canonical copies, never the caller's dicts
    bad_items = [
        {"sk": "s"},  # no partition key
        {"pk": "", "sk": "s"},
        {"pk": "p", "sk": ""},
        {"pk": "x" * 2049, "sk": "s"},
        {"pk": "p", "sk": "x" * 1025},
        {"pk": "\U0001f600" * 513, "sk": "s"},
        {"pk": Decimal(1), "sk": "s"},
        {"pk": "p", "sk": "s", "g": Decimal(1)},
        {"pk": "p", "sk": "s", "gn": "not a number"},
        {"pk": "p", "sk": "s", "f": 1.5},
        "not an item",
        ["pk", "p"],
    ]
    for bad in bad_items:
        batch = [*good[:3], bad, *good[3:6]]
        assert _bulk_outcome(prepare.bulk_items, spec, batch) == _bulk_outcome(prepare.bulk_items_python, spec, batch)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BULK_SPECS), st.lists(keyed_items_st, max_size=4))
def test_random_bulks_take_the_reference_decisions(spec: TableSpec, items: list[dict[str, Any]]) -> None:
    assert _bulk_outcome(prepare.bulk_items, spec, items) == _bulk_outcome(prepare.bulk_items_python, spec, items)


@pytest.mark.skipif(not prepare.COMPILED_BULK_ITEMS, reason="the compiled loop is not built (pure-Python run)")
def test_lent_canonical_items_are_taken_as_they_are_anything_else_is_copied() -> None:
    spec = BULK_SPECS[3]  # with index keys: absent index attributes pass, present ones are checked
    canonical = LentItems(
        {"pk": f"p{i}", "sk": f"s{i}", "n": Decimal(i), "b": b"x", "t": True, "z": None} for i in range(5)
    )
    out = prepare.bulk_items(spec, canonical)
    assert out == prepare.bulk_items_python(spec, canonical)
    assert all(a is b for a, b in zip(out, canonical)) and out is not canonical
    # A caller's plain list of the same items is copied while it is validated: its owner may still change them.
    plain = list(canonical)
    assert all(a is not b for a, b in zip(prepare.bulk_items(spec, plain), plain))
    # An iterator may hand out one dict it mutates: copies, as before.
    assert all(a is not b for a, b in zip(prepare.bulk_items(spec, iter(canonical)), canonical))
    # One item the C pass does not decide (a nested map, an int, a number index key): every item is copied.
    for odd in ({"m": {"a": "b"}}, {"n": 1}, {"n": Decimal("1.50")}, {"gn": Decimal(1)}):
        batch = LentItems([*canonical[:2], {**canonical[2], **odd}, *canonical[3:]])
        got = prepare.bulk_items(spec, batch)
        assert got == prepare.bulk_items_python(spec, batch)
        assert all(a is not b for a, b in zip(got, batch))
    # A bad item after canonical ones: the reference's error, whichever loop finds it.
    for bad in ({"pk": "", "sk": "s"}, {"pk": "p", "sk": "s", "g": Decimal(1)}, {"pk": "p"}):
        batch = LentItems([*canonical, bad])
        assert _bulk_outcome(prepare.bulk_items, spec, batch) == _bulk_outcome(prepare.bulk_items_python, spec, batch)
        with pytest.raises(StoreError):
            prepare.bulk_items(spec, batch)


def test_a_bulk_is_one_request_that_gives_put_requests_on_demand() -> None:
    spec = BULK_SPECS[0]
    req = prepare.prepare_bulk_puts(spec, [{"pk": "a", "sk": "1", "n": 1}, {"pk": "a", "sk": "1", "n": 2}])
    assert len(req) == 2 and req.items[1] == {"pk": "a", "sk": "1", "n": Decimal(2)}
    assert req.keys() == [{"pk": "a", "sk": "1"}] * 2
    assert [(p.item, p.key, p.condition) for p in req.puts()] == [(i, k, None) for i, k in zip(req.items, req.keys())]


# ---- the item copy (values.copy_value: cvalues.copy_item) against values.copy_value_python


class _SubDict(dict):  # type: ignore[type-arg]
    pass


class _SubList(list):  # type: ignore[type-arg]
    pass


COPY_CASES = [
    {},
    {"pk": "p", "n": Decimal(1), "b": b"x", "t": True, "z": None, "ss": StringSet({"a"})},
    {"m": {"l": [1, {"deep": [[], {}]}], "e": {}}, "l": [[["x"]], {"k": "v"}]},
    {"m": _SubDict(a=[1]), "l": _SubList([{"x": 1}])},
    {"l": [_SubDict(a=1)], "m": {"l": _SubList()}},
]


@pytest.mark.parametrize("item", COPY_CASES, ids=repr)
def test_item_copies_are_the_reference_copies_and_share_no_container(item: dict[str, Any]) -> None:
    fast, ref = values.copy_value(item), values.copy_value_python(item)
    assert fast == ref == item
    assert _types(fast) == _types(ref)

    def containers(v: Any) -> list[int]:
        if isinstance(v, dict):
            return [id(v), *(i for x in v.values() for i in containers(x))]
        if isinstance(v, list):
            return [id(v), *(i for x in v for i in containers(x))]
        return []

    assert not set(containers(fast)) & set(containers(item))


@settings(max_examples=300, deadline=None)
@given(items_st)
def test_random_item_copies_are_the_reference_copies(item: dict[str, Any]) -> None:
    assert _types(values.copy_value(item)) == _types(values.copy_value_python(item))


def _types(v: Any) -> Any:
    """A value with every container and scalar's exact type spelled out (== alone ignores dict subclasses)."""
    if isinstance(v, dict):
        return (type(v).__name__, sorted((k, _types(x)) for k, x in v.items()))
    if isinstance(v, list):
        return (type(v).__name__, [_types(x) for x in v])
    return (type(v).__name__, repr(v))


# ------------------------------------------------------------------ the gateway's wire decoder (cwire.c)

wire_scalars = st.one_of(
    st.text().map(lambda t: {"S": t}),
    st.sampled_from([*NUMBERS, "", "1e", " 1 ", "1_0", "0x10", "--1", "+1", "١٢"]).map(lambda t: {"N": t}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.sampled_from([True, False, None, 1]).map(lambda b: {"NULL": b}),
    st.binary(max_size=4).map(lambda b: {"B": wire.encode_value(b)["B"]}),
    st.sampled_from(["AA==", "!!", "", 1]).map(lambda b: {"B": b}),
    st.lists(st.text(max_size=3), max_size=3).map(lambda xs: {"SS": xs}),
    st.lists(st.sampled_from(["1", "2", "x"]), max_size=3).map(lambda xs: {"NS": xs}),
    st.sampled_from([{"S": 1}, {"N": 1}, {"BOOL": 1}, {"X": "1"}, {}, {"S": "a", "N": "1"}, "plain", None, 1]),
)
wire_values = st.recursive(
    wire_scalars,
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: {"L": xs})
    | st.dictionaries(st.text(max_size=4), inner, max_size=3).map(lambda m: {"M": m})
    | st.sampled_from([{"L": {}}, {"M": []}]),
    max_leaves=10,
)
wire_items = st.dictionaries(st.text(max_size=6), wire_values, max_size=6)


def _typed(value: Any) -> Any:
    """A decoded value with its exact types (Decimal('1') and True differ, None and {} too)."""
    if isinstance(value, dict):
        return ("M", sorted((k, _typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("L", [_typed(v) for v in value])
    return (type(value).__name__, value if not isinstance(value, Decimal) else str(value))


@settings(max_examples=400, deadline=None)
@given(wire_items)
def test_wire_items_decode_like_the_reference(typed: dict[str, Any]) -> None:
    ours, ref = _outcome(wire.decode_item, typed), _outcome(wire.decode_item_python, typed)
    assert ours[0] == ref[0]
    if ours[0] == "ok":
        assert _typed(ours[1]) == _typed(ref[1])
    else:
        assert ours == ref


def test_the_wire_fast_path_decides_only_what_it_can() -> None:
    if not EXPECT_COMPILED:
        pytest.skip("built without the compiled extensions (STORESWAP_PURE or no compiler)")
    from storeswap.gateway import cwire

    plain = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "t": {"BOOL": True}, "z": {"NULL": True},
             "l": {"L": [{"N": "1"}, {"M": {"k": {"S": ""}, "z": {"NULL": True}}}]}}  # fmt: skip
    out = cwire.decode_item(plain)
    assert out == wire.decode_item_python(plain) and out is not None
    assert type(out["n"]) is Decimal and str(out["n"]) == "1.50" and out["z"] is None and out["l"][1]["z"] is None
    for other in ({"b": {"B": "AA=="}}, {"s": {"SS": ["a"]}}, {"n": {"N": "x"}}, {"n": {"N": 1}},
                  {"z": {"NULL": False}}, {"x": {"S": "a", "N": "1"}}, {"x": {}}, {"x": "plain"}):  # fmt: skip
        assert cwire.decode_item(other) is None, other
    deep: dict[str, Any] = {"S": "leaf"}
    for _ in range(40):
        deep = {"L": [deep]}
    assert cwire.decode_item({"d": deep}) is None  # deeper than the fast path walks: the Python decoder decides
    assert wire.decode_item({"d": deep}) == wire.decode_item_python({"d": deep})
    assert cwire.decode_item([plain]) is None and cwire.decode_item(None) is None


# ------------------------------------------------ item sizes (values.item_size: cvalues.item_size) and the encoder

SIZE_CASES = [
    {},
    {"pk": "q", "sk": Decimal(0), "payload": "x" * 100},
    {"n": Decimal("1.50"), "e": Decimal("1E+2"), "i": 7, "neg": Decimal("-0.001"), "b": b"\x00\x01", "t": False},
    {"é": "ü€", "z": None, "m": {"k": [1, "a", {"x": b""}]}, "s": StringSet({"a", "bc"}), "ns": NumberSet({Decimal(1)})},
    {"lone": "a\ud800b"}, {"a\udc00": "x"},
    {"f": 1.5}, {"x": object()},
    # Not numbers: the same ValidationError as everywhere else, at the top level and nested.
    {"n": Decimal("NaN")}, {"n": Decimal("-Infinity")}, {"m": {"x": Decimal("sNaN")}}, {"l": [Decimal("Infinity")]},
    {"ns": NumberSet({Decimal("NaN")})},
    {"n": Decimal("1E+999999999")}, {"m": {"x": Decimal("-9E+1000000")}}, {"l": [Decimal("1E+2000000")]},
]


@pytest.mark.parametrize(
    "value",
    [Decimal("NaN"), Decimal("Infinity"), "abc", None, [1], 1.5, 0.0,
     # Finite, but beyond even the working context: normalising them overflows to Infinity.
     Decimal("1E+999999999"), Decimal("-9E+1000000"), Decimal("1E+2000000"), 10**200, True],
    ids=repr,
)
def test_a_size_of_what_is_not_a_number_is_a_validation_error(value: Any) -> None:
    with pytest.raises(ValidationError):
        values.number_size(value)
    if isinstance(value, (Decimal, float, int)) and not isinstance(value, bool):  # the others: other value types
        with pytest.raises(ValidationError):
            values.value_size(value)


@pytest.mark.parametrize("item", [None, "pk", 7, [("pk", "a")], Decimal("NaN")], ids=repr)
def test_the_size_of_what_is_not_an_item_is_a_validation_error(item: Any) -> None:
    for size in (values.item_size, values.item_size_python):
        with pytest.raises(ValidationError, match="an item must be a mapping"):
            size(item)


def _size_outcome(fn: Any, item: Any) -> Any:
    try:
        return ("ok", fn(item))
    except Exception as e:  # a value the size rules refuse (or, like Decimal('NaN'), do not expect): the same way
        return ("error", type(e), str(e))


@pytest.mark.parametrize("item", SIZE_CASES, ids=repr)
def test_item_sizes_are_the_reference_sizes(item: dict[str, Any]) -> None:
    assert _size_outcome(values.item_size, item) == _size_outcome(values.item_size_python, item)


@settings(max_examples=400, deadline=None)
@given(items_st)
def test_random_item_sizes_are_the_reference_sizes(item: dict[str, Any]) -> None:
    assert _size_outcome(values.item_size, item) == _size_outcome(values.item_size_python, item)
    try:
        canonical = values.normalize_item_python(item)
    except StoreError:
        return
    assert values.item_size(canonical) == values.item_size_python(canonical)


def test_the_size_fast_path_decides_only_what_it_can() -> None:
    if not EXPECT_COMPILED:
        pytest.skip("built without the compiled extensions (STORESWAP_PURE or no compiler)")
    from storeswap.core import cvalues

    plain = {"pk": "q", "sk": Decimal(0), "n": Decimal("1.50"), "m": {"a": [1]}, "é": "ü"}
    assert cvalues.item_size(plain, values.value_size) == values.item_size_python(plain)
    for other in ({"s": "a\ud800"}, {"a\ud800": 1}, {1: "x"}):
        assert cvalues.item_size(other, values.value_size) is None, other
    assert cvalues.item_size([("a", "b")], values.value_size) is None


def _json(encoded: Any) -> Any:
    """What the gateway writes for an encoded item, with the exact types that went into it."""
    return json.dumps(encoded, separators=(",", ":")), _types(encoded)


def _encoded(fn: Any, item: Any) -> Any:
    try:
        return ("ok", _json(fn(item)))
    except TypeError as e:
        return ("error", str(e))


ENCODE_CASES = [
    {},
    {"pk": "q", "sk": Decimal(0), "payload": "x" * 100, "n": Decimal("-1.5E+3"), "i": 10**30, "t": True, "z": None},
    {"m": {"l": [1, {"deep": [[], {}]}], "e": {}}, "b": b"\x00", "ss": StringSet({"b", "a"}), "lone": "\ud800"},
    {"ns": NumberSet({Decimal(2), Decimal(1)}), "bs": BinarySet({b"b", b"a"}), "tu": (1, "a"), "ba": bytearray(b"x")},
    {"m": _SubDict(a=[1]), "l": _SubList([{"x": 1}])}, {"l": [_SubDict(a=1)]}, {"f": 1.5}, {"l": [object()]},
]


@pytest.mark.parametrize("item", ENCODE_CASES, ids=repr)
def test_items_encode_to_the_reference_json(item: dict[str, Any]) -> None:
    assert _encoded(wire.encode_item, item) == _encoded(wire.encode_item_python, item)


@settings(max_examples=400, deadline=None)
@given(items_st)
def test_random_items_encode_to_the_reference_json(item: dict[str, Any]) -> None:
    assert _encoded(wire.encode_item, item) == _encoded(wire.encode_item_python, item)
    try:
        canonical = values.normalize_item_python(item)
    except StoreError:
        return
    assert _encoded(wire.encode_item, canonical) == _encoded(wire.encode_item_python, canonical)


def test_the_encoder_fast_path_decides_only_what_it_can() -> None:
    if not EXPECT_COMPILED:
        pytest.skip("built without the compiled extensions (STORESWAP_PURE or no compiler)")
    from storeswap.gateway import cwire

    plain = {"pk": "q", "n": Decimal("1.5"), "i": 3, "t": False, "z": None, "m": {"l": [{"s": "x"}, []]}}
    out = cwire.encode_item(plain)
    assert out is not None and _json(out) == _json(wire.encode_item_python(plain))
    for other in ({"b": b"x"}, {"s": StringSet({"a"})}, {"t": (1,)}, {"m": _SubDict()}, {"f": 1.5}):
        assert cwire.encode_item(other) is None, other
    deep: Any = "leaf"
    for _ in range(40):
        deep = [deep]
    assert cwire.encode_item({"d": deep}) is None  # deeper than the fast path walks: the Python encoder decides
    assert _json(wire.encode_item({"d": deep})) == _json(wire.encode_item_python({"d": deep}))
    assert cwire.encode_item([plain]) is None
