"""The compiled fast paths (storeswap/core/cvalues.c, storeswap/adapters/postgres/ccodec.c) against their
pure-Python references: the same canonical items, the same errors, the same bytes.

The extensions are optional at install time; here they must be built (``python setup.py build_ext
--inplace`` in a source tree, any ``pip install`` with a compiler) unless ``STORESWAP_PURE=1`` asks for
the pure-Python path on purpose, which the ``pure`` tox env runs.
"""

from __future__ import annotations

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
from storeswap.core import values
from storeswap.core.errors import StoreError
from storeswap.core.keys import partition_bucket
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import BinarySet, NumberSet, StringSet
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
