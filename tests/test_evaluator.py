"""Tests of condition evaluation, updates, projections and key conditions on normalised items."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from storeswap.core.errors import ValidationError
from storeswap.core.expressions import (
    MISSING,
    apply_update,
    compile_expressions,
    condition_names,
    evaluate,
    key_condition,
    project,
    resolve,
    values_equal,
)
from storeswap.core.expressions.ast import BeginsWith, Between, Compare, Literal, Path
from storeswap.core.values import BinarySet, NumberSet, StringSet, normalize_item

D = Decimal

ITEM: dict[str, Any] = normalize_item(
    {
        "pk": "u1",
        "s": "hello",
        "n": 5,
        "b": b"\x01\x02\x03",
        "t": True,
        "f": False,
        "z": None,
        "l": [1, "two", [3], {"x": 4}],
        "m": {"a": {"b": [10, 20, 30]}, "c": "see"},
        "ss": {"red", "green"},
        "ns": {1, 2, 3},
        "bs": {b"a", b"b"},
        "num_str": "6",
        "six": 6,
        "uni": "é𝄞",
        "blank": "",
    }
)


def check(expr: str, values: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> bool:
    compiled = compile_expressions(condition=expr, values=values, names=names)
    assert compiled.condition is not None
    return evaluate(compiled.condition, ITEM)


def update(
    expr: str,
    item: dict[str, Any],
    values: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
    **kw: Any,
) -> tuple[dict[str, Any], tuple[Path, ...]]:
    compiled = compile_expressions(update=expr, values=values, names=names)
    assert compiled.update is not None
    return apply_update(compiled.update, item, key_names=frozenset({"pk"}), **kw)


def proj(expr: str, item: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    compiled = compile_expressions(projection=expr, names=names)
    assert compiled.projection is not None
    return project(compiled.projection, item)


# -- resolve and equality --------------------------------------------------------------


def test_resolve() -> None:
    assert resolve(ITEM, Path(("m", "a", "b", 1))) == D(20)
    assert resolve(ITEM, Path(("l", 3, "x"))) == D(4)
    assert resolve(ITEM, Path(("z",))) is None
    assert resolve(ITEM, Path(("nope",))) is MISSING
    assert resolve(ITEM, Path(("l", 9))) is MISSING
    assert resolve(ITEM, Path(("s", "x"))) is MISSING
    assert resolve(ITEM, Path(("m", 0))) is MISSING
    assert not MISSING and repr(MISSING) == "MISSING"


def test_values_equal_is_type_strict() -> None:
    assert values_equal(D(1), D("1.0"))
    assert not values_equal(D(1), True)
    assert not values_equal(True, D(1))
    assert not values_equal("6", D(6))
    assert not values_equal(b"a", "a")
    assert not values_equal(None, False)
    assert values_equal([D(1), {"a": True}], [D(1), {"a": True}])
    assert not values_equal([D(1)], [True])
    assert not values_equal({"a": D(0)}, {"a": False})
    assert not values_equal({"a": D(0)}, {"b": D(0)})
    assert values_equal(StringSet({"a", "b"}), StringSet({"b", "a"}))
    assert not values_equal(NumberSet({D(1)}), StringSet({"1"}))
    assert not values_equal([D(1)], [D(1), D(2)])


# -- comparisons ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ("s = :v", {":v": "hello"}, True),
        ("s = :v", {":v": "hellO"}, False),
        ("n = :v", {":v": D("5.0")}, True),
        ("num_str = :v", {":v": 6}, False),  # "6" is not 6 (C2)
        ("six = :v", {":v": "6"}, False),
        ("six <> :v", {":v": "6"}, True),  # different types are unequal
        ("t = :v", {":v": 1}, False),  # True is not 1
        ("t = :v", {":v": True}, True),
        ("z = :v", {":v": None}, True),
        ("l = :v", {":v": [1, "two", [3], {"x": 4}]}, True),
        ("l = :v", {":v": [True, "two", [3], {"x": 4}]}, False),
        ("m.c = :v", {":v": "see"}, True),
        ("ss = :v", {":v": {"green", "red"}}, True),
        ("ns = :v", {":v": {3, 2, 1}}, True),
        ("ns = :v", {":v": {1, 2}}, False),
        ("n <> :v", {":v": 5}, False),
        ("n <> :v", {":v": 4}, True),
        ("n < :v", {":v": 6}, True),
        ("n <= :v", {":v": 5}, True),
        ("n > :v", {":v": 5}, False),
        ("n >= :v", {":v": 5}, True),
        ("s < :v", {":v": "help"}, True),
        ("s > :v", {":v": "Hello"}, True),
        ("b < :v", {":v": b"\x01\x02\x04"}, True),
        ("b > :v", {":v": b"\x01"}, True),
        ("s < :v", {":v": 7}, False),  # different types never order
        ("n < :v", {":v": "7"}, False),
        ("n < six", None, True),  # two attributes
        ("m.a.b[2] > m.a.b[0]", None, True),
    ],
)
def test_comparisons(expr: str, values: dict[str, Any] | None, expected: bool) -> None:
    assert check(expr, values) is expected


def test_string_order_is_utf8_byte_order() -> None:
    item = normalize_item({"a": "\uffff", "b": "\U00010000"})
    cond = compile_expressions(condition="a < b").condition
    assert cond is not None
    # UTF-16 would order U+10000 (a surrogate pair) before U+FFFF; UTF-8 bytes do not.
    assert evaluate(cond, item)


def test_binary_order_is_unsigned() -> None:
    item = normalize_item({"a": b"\x7f", "b": b"\x80"})
    cond = compile_expressions(condition="a < b").condition
    assert cond is not None and evaluate(cond, item)


def test_non_ordered_item_values_compare_false() -> None:
    assert not check("l < :v", {":v": 1})
    assert not check("t > :v", {":v": 0})
    assert not check("ss >= :v", {":v": "a"})


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ("nope = :v", {":v": 1}, False),
        ("nope <> :v", {":v": 1}, True),  # a missing attribute is unequal to everything
        ("nope < :v", {":v": 1}, False),
        ("nope >= :v", {":v": 1}, False),
        ("nope = nope2", None, False),  # two missing attributes are not equal...
        ("nope <> nope2", None, True),  # ...and are unequal
        ("nope BETWEEN :a AND :b", {":a": 1, ":b": 2}, False),
        ("nope IN (:a)", {":a": 1}, False),
        ("m.nope.x = :v", {":v": 1}, False),
        ("NOT nope = :v", {":v": 1}, True),
    ],
)
def test_missing_operands(expr: str, values: dict[str, Any] | None, expected: bool) -> None:
    assert check(expr, values) is expected


def test_between() -> None:
    assert check("n BETWEEN :a AND :b", {":a": 1, ":b": 5})
    assert check("n BETWEEN :a AND :b", {":a": 5, ":b": 5})
    assert not check("n BETWEEN :a AND :b", {":a": 6, ":b": 9})
    assert check("s BETWEEN :a AND :b", {":a": "a", ":b": "z"})
    assert check("b BETWEEN :a AND :b", {":a": b"\x01", ":b": b"\x02"})
    assert not check("s BETWEEN :a AND :b", {":a": 1, ":b": 9})
    assert not check("l BETWEEN :a AND :b", {":a": 1, ":b": 9})
    assert check("n BETWEEN :a AND six", {":a": 1})


def test_in() -> None:
    assert check("n IN (:a, :b)", {":a": "x", ":b": 5})
    assert not check("n IN (:a, :b)", {":a": "5", ":b": True})
    assert check("l[1] IN (:a)", {":a": "two"})
    assert check("ss IN (:a)", {":a": {"red", "green"}})


# -- functions --------------------------------------------------------------------


def test_attribute_exists_and_not_exists() -> None:
    assert check("attribute_exists(z)")  # NULL is present (V9)
    assert check("attribute_exists(m.a.b[2])")
    assert not check("attribute_exists(m.a.b[3])")
    assert check("attribute_not_exists(nope)")
    assert not check("attribute_not_exists(s)")


@pytest.mark.parametrize(
    ("path", "tag"),
    [
        ("s", "S"),
        ("n", "N"),
        ("b", "B"),
        ("t", "BOOL"),
        ("z", "NULL"),
        ("l", "L"),
        ("m", "M"),
        ("ss", "SS"),
        ("ns", "NS"),
        ("bs", "BS"),
    ],
)
def test_attribute_type(path: str, tag: str) -> None:
    assert check(f"attribute_type({path}, :t)", {":t": tag})
    other = "N" if tag != "N" else "S"
    assert not check(f"attribute_type({path}, :t)", {":t": other})


def test_attribute_type_of_missing_is_false() -> None:
    assert not check("attribute_type(nope, :t)", {":t": "S"})


def test_begins_with() -> None:
    assert check("begins_with(s, :p)", {":p": "hel"})
    assert check("begins_with(s, :p)", {":p": ""})
    assert not check("begins_with(s, :p)", {":p": "help"})
    assert check("begins_with(b, :p)", {":p": b"\x01\x02"})
    assert not check("begins_with(b, :p)", {":p": "\x01"})  # S prefix on B value
    assert not check("begins_with(n, :p)", {":p": "5"})
    assert not check("begins_with(nope, :p)", {":p": "a"})


def test_begins_with_has_no_wildcards() -> None:
    item = normalize_item({"a": "abc", "c": "50%_off"})
    for prefix, expected in (("%", False), ("_", False), ("a%", False), ("50%_", True)):
        cond = compile_expressions(condition="begins_with(a, :p) OR begins_with(c, :p)", values={":p": prefix})
        assert cond.condition is not None
        assert evaluate(cond.condition, item) is expected


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ("contains(s, :v)", {":v": "ell"}, True),
        ("contains(s, :v)", {":v": "xyz"}, False),
        ("contains(b, :v)", {":v": b"\x02\x03"}, True),
        ("contains(b, :v)", {":v": "\x02"}, False),
        ("contains(ss, :v)", {":v": "red"}, True),
        ("contains(ss, :v)", {":v": "blue"}, False),
        ("contains(ns, :v)", {":v": 2}, True),
        ("contains(ns, :v)", {":v": "2"}, False),
        ("contains(ns, :v)", {":v": True}, False),  # True is not 1
        ("contains(bs, :v)", {":v": b"a"}, True),
        ("contains(bs, :v)", {":v": "a"}, False),
        ("contains(l, :v)", {":v": "two"}, True),
        ("contains(l, :v)", {":v": [3]}, True),
        ("contains(l, :v)", {":v": {"x": 4}}, True),
        ("contains(l, :v)", {":v": 2}, False),
        ("contains(l, :v)", {":v": True}, False),
        ("contains(n, :v)", {":v": 5}, False),
        ("contains(m, :v)", {":v": "c"}, False),
        ("contains(nope, :v)", {":v": "a"}, False),
        ("contains(s, num_str)", None, False),
    ],
)
def test_contains(expr: str, values: dict[str, Any] | None, expected: bool) -> None:
    assert check(expr, values) is expected


@pytest.mark.parametrize(
    ("path", "size"),
    [("s", 5), ("uni", 3), ("blank", 0), ("b", 3), ("ss", 2), ("ns", 3), ("bs", 2), ("l", 4), ("m", 2), ("m.a.b", 3)],
)
def test_size(path: str, size: int) -> None:
    assert check(f"size({path}) = :n", {":n": size})
    assert check(f"size({path}) BETWEEN :a AND :b", {":a": size, ":b": size + 1})
    assert not check(f"size({path}) > :n", {":n": size})


def test_size_counts_utf16_code_units() -> None:
    # "é" is one code unit; U+1D11E is a surrogate pair.
    assert check("size(uni) = :n", {":n": 3})
    assert check("size(uni) < :n", {":n": 4})


@pytest.mark.parametrize("path", ["n", "t", "z", "nope"])
def test_size_of_value_without_size_makes_comparisons_false(path: str) -> None:
    assert not check(f"size({path}) = :n", {":n": 1})
    assert not check(f"size({path}) <> :n", {":n": 1})
    assert not check(f"size({path}) >= :n", {":n": 0})
    assert not check(f"size({path}) IN (:n)", {":n": 1})


def test_size_compared_with_non_number_is_false() -> None:
    assert not check("size(s) = :v", {":v": "5"})


def test_logic() -> None:
    t, f = "n = :five", "n = :six"
    all_values = {":five": 5, ":six": 6}

    def run(expr: str) -> bool:
        return check(expr, {k: v for k, v in all_values.items() if k in expr})

    assert run(f"{t} AND {t}")
    assert not run(f"{t} AND {f}")
    assert run(f"{f} OR {t}")
    assert not run(f"{f} OR {f}")
    assert run(f"NOT {f}")
    assert run(f"{t} OR {f} AND {f}")  # AND first
    assert not run(f"({t} OR {f}) AND {f}")
    assert run(f"NOT {f} AND {t}")


def test_condition_on_empty_item() -> None:
    cond = compile_expressions(condition="attribute_not_exists(pk)").condition
    assert cond is not None and evaluate(cond, {})


def test_condition_names() -> None:
    cond = compile_expressions(
        condition="a.b = :v AND (size(#c) > :v OR contains(d[0], e)) AND NOT attribute_exists(f)",
        names={"#c": "c"},
        values={":v": 1},
    ).condition
    assert cond is not None
    assert condition_names(cond) == frozenset({"a", "c", "d", "e", "f"})


# -- updates --------------------------------------------------------------------------


BASE: dict[str, Any] = normalize_item(
    {"pk": "u1", "n": 5, "s": "x", "l": [0, 1, 2, 3, 4, 5], "m": {"a": {"b": 1}, "c": [1, 2]}, "ss": {"a", "b"}}
)


def test_update_does_not_mutate_input_and_shares_untouched_values() -> None:
    snapshot = normalize_item(BASE)
    new, touched = update("SET m.a.b = :v", BASE, {":v": 2})
    assert snapshot == BASE
    assert new["m"]["a"]["b"] == D(2)
    assert new["l"] is BASE["l"]  # untouched values are shared, not copied
    assert new["m"]["c"] is BASE["m"]["c"]
    assert new["m"] is not BASE["m"]
    assert touched == (Path(("m", "a", "b")),)


def test_set_basic_and_copy() -> None:
    new, _ = update("SET a = :v, b = s, c = m.c[1]", BASE, {":v": [1, {"x": 2}]})
    assert new["a"] == [D(1), {"x": D(2)}]
    assert new["b"] == "x"
    assert new["c"] == D(2)


def test_set_operands_read_the_original_item() -> None:
    new, _ = update("SET n = :v, s = n", BASE, {":v": 100})
    assert new["n"] == D(100) and new["s"] == D(5)
    new, _ = update("REMOVE s SET t = s", BASE)
    assert "s" not in new and new["t"] == "x"


def test_set_missing_operand_fails() -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        update("SET a = nope", BASE)
    with pytest.raises(ValidationError, match="does not exist"):
        update("SET a = nope + :one", BASE, {":one": 1})


def test_set_arithmetic() -> None:
    new, _ = update("SET n = n + :v, k = :a - n", BASE, {":v": D("0.5"), ":a": 2})
    assert new["n"] == D("5.5") and new["k"] == D(-3)


def test_set_arithmetic_needs_numbers() -> None:
    with pytest.raises(ValidationError, match="operand type: S"):
        update("SET n = s + :v", BASE, {":v": 1})
    with pytest.raises(ValidationError, match="\\+"):
        update("SET n = n + :v", BASE, {":v": "1"})  # caught at compile time (literal)


def test_set_arithmetic_overflow_is_validation_error() -> None:
    item = normalize_item({"pk": "u", "n": D("9E+125")})
    with pytest.raises(ValidationError, match="larger"):
        update("SET n = n + :v", item, {":v": D("1E+125")})
    item = normalize_item({"pk": "u", "n": D("12345678901234567890123456789012345678")})
    with pytest.raises(ValidationError, match="38"):
        update("SET n = n + :v", item, {":v": D("0.1")})


def test_if_not_exists() -> None:
    new, _ = update("SET a = if_not_exists(a, :d), n = if_not_exists(n, :d)", BASE, {":d": 0})
    assert new["a"] == D(0) and new["n"] == D(5)
    new, _ = update("SET c = if_not_exists(c, :z) + :one", BASE, {":z": 0, ":one": 1})
    assert new["c"] == D(1)


def test_list_append() -> None:
    new, _ = update("SET l = list_append(l, :v), k = list_append(:v, m.c)", BASE, {":v": [9]})
    assert new["l"] == [D(i) for i in (0, 1, 2, 3, 4, 5, 9)]
    assert new["k"] == [D(9), D(1), D(2)]
    assert BASE["l"][-1] == D(5)
    new, _ = update("SET q = list_append(if_not_exists(q, :e), :v)", BASE, {":e": [], ":v": ["a"]})
    assert new["q"] == ["a"]


def test_list_append_needs_lists() -> None:
    with pytest.raises(ValidationError, match="list_append"):
        update("SET l = list_append(s, :v)", BASE, {":v": [1]})
    with pytest.raises(ValidationError):
        update("SET l = list_append(nope, :v)", BASE, {":v": [1]})


def test_set_nested_needs_existing_parent() -> None:
    new, _ = update("SET m.added = :v", BASE, {":v": 1})
    assert new["m"]["added"] == D(1)
    for expr in ("SET nope.x = :v", "SET s.x = :v", "SET s[0] = :v", "SET m[0] = :v", "SET l.x = :v"):
        with pytest.raises(ValidationError, match="document path provided in the update expression is invalid"):
            update(expr, BASE, {":v": 1})


def test_set_list_index_past_end_appends_in_index_order() -> None:
    new, touched = update("SET l[1] = :a, l[84] = :b, l[37] = :c", BASE, {":a": "a", ":b": "b", ":c": "c"})
    assert new["l"] == [D(0), "a", D(2), D(3), D(4), D(5), "c", "b"]
    assert touched == (Path(("l", 1)), Path(("l", 7)), Path(("l", 6)))


def test_remove() -> None:
    new, touched = update("REMOVE s, m.a.b, nope, m.c[0]", BASE)
    assert "s" not in new and new["m"] == {"a": {}, "c": [D(2)]}
    assert len(touched) == 4


def test_remove_list_indexes_refer_to_original_positions() -> None:
    new, _ = update("REMOVE l[1], l[3], l[99]", BASE)
    assert new["l"] == [D(0), D(2), D(4), D(5)]
    new, _ = update("REMOVE l[1] SET l[3] = :v", BASE, {":v": "x"})
    assert new["l"] == [D(0), D(2), "x", D(4), D(5)]


def test_remove_nested_with_missing_parent() -> None:
    with pytest.raises(ValidationError, match="invalid for update"):
        update("REMOVE nope.x", BASE)
    with pytest.raises(ValidationError, match="invalid for update"):
        update("REMOVE s[0]", BASE)
    new, _ = update("REMOVE nope.x", {"pk": "u1"}, item_exists=False)
    assert new == {"pk": "u1"}


def test_add_numbers() -> None:
    new, _ = update("ADD n :v, fresh :v", BASE, {":v": 3})
    assert new["n"] == D(8) and new["fresh"] == D(3)
    new, _ = update("ADD m.a.b :v", BASE, {":v": -1})
    assert new["m"]["a"]["b"] == D(0)


def test_add_sets() -> None:
    new, _ = update("ADD ss :v, fresh :v", BASE, {":v": {"b", "c"}})
    assert new["ss"] == StringSet({"a", "b", "c"}) and isinstance(new["ss"], StringSet)
    assert new["fresh"] == StringSet({"b", "c"})
    assert BASE["ss"] == StringSet({"a", "b"})


def test_add_type_mismatch() -> None:
    with pytest.raises(ValidationError, match="incorrect data type"):
        update("ADD s :v", BASE, {":v": 1})
    with pytest.raises(ValidationError, match="incorrect data type"):
        update("ADD ss :v", BASE, {":v": {1}})
    with pytest.raises(ValidationError, match="incorrect data type"):
        update("ADD n :v", BASE, {":v": {"a"}})
    with pytest.raises(ValidationError, match="ADD"):
        update("ADD n :v", BASE, {":v": "1"})  # compile time
    with pytest.raises(ValidationError, match="ADD"):
        update("ADD l :v", BASE, {":v": [1]})  # compile time


def test_delete_from_sets() -> None:
    item = normalize_item({"pk": "u", "ns": {1, 2, 3}, "bs": {b"a"}})
    new, _ = update("DELETE ns :v, nope :v", item, {":v": {2, 9}})
    assert new["ns"] == NumberSet({D(1), D(3)}) and "nope" not in new
    new, _ = update("DELETE bs :v", item, {":v": {b"a"}})
    assert "bs" not in new  # emptied set removes the attribute
    with pytest.raises(ValidationError, match="incorrect data type"):
        update("DELETE ns :v", item, {":v": {"1"}})
    with pytest.raises(ValidationError, match="DELETE"):
        update("DELETE ns :v", item, {":v": 1})  # compile time
    new, _ = update("DELETE x[0].s :v", normalize_item({"pk": "u", "x": [{"s": {b"q"}}]}), {":v": BinarySet({b"q"})})
    assert new["x"] == [{}]


def test_delete_type_mismatch_on_non_set() -> None:
    with pytest.raises(ValidationError, match="incorrect data type"):
        update("DELETE s :v", BASE, {":v": {"x"}})


@pytest.mark.parametrize("expr", ["SET pk = :v", "REMOVE pk", "ADD pk :v", "DELETE pk :s", "SET pk.x = :v"])
def test_key_attributes_cannot_be_updated(expr: str) -> None:
    values = {":v": 1} if ":v" in expr else {":s": {"a"}} if ":s" in expr else None
    with pytest.raises(ValidationError, match=r"Cannot update attribute pk\. This attribute is part of the key"):
        update(expr, BASE, values)


def test_touched_paths_in_action_order() -> None:
    _, touched = update("DELETE ss :s ADD n :v REMOVE s SET a = :v", BASE, {":v": 1, ":s": {"a"}})
    assert touched == (Path(("a",)), Path(("s",)), Path(("n",)), Path(("ss",)))


def test_update_upsert_from_key_only() -> None:
    new, _ = update("SET a = :v ADD c :v", {"pk": "new"}, {":v": 1}, item_exists=False)
    assert new == {"pk": "new", "a": D(1), "c": D(1)}


# -- projections ------------------------------------------------------------------------


def test_projection_top_level_and_missing() -> None:
    assert proj("s, n, nope", ITEM) == {"s": "hello", "n": D(5)}


def test_projection_nested_and_list_indexes() -> None:
    assert proj("m.a.b[2]", ITEM) == {"m": {"a": {"b": [D(30)]}}}
    assert proj("m.a.b[2], m.a.b[0], m.c", ITEM) == {"m": {"a": {"b": [D(10), D(30)]}, "c": "see"}}
    assert proj("l[3].x, l[1]", ITEM) == {"l": ["two", {"x": D(4)}]}
    assert proj("l[9], m.nope, s.x", ITEM) == {}


def test_projection_with_names() -> None:
    assert proj("#s, #m.#c", ITEM, names={"#s": "s", "#m": "m", "#c": "c"}) == {"s": "hello", "m": {"c": "see"}}


# -- key conditions -------------------------------------------------------------------


def kc(expr: str, values: dict[str, Any], sort: tuple[str, str] | None = ("sk", "S")) -> Any:
    compiled = compile_expressions(key_condition=expr, values=values)
    assert compiled.key_condition is not None
    return key_condition(compiled.key_condition, partition=("pk", "S"), sort=sort)


def test_key_condition_partition_only() -> None:
    result = kc("pk = :p", {":p": "u1"})
    assert result.partition_name == "pk" and result.partition_value == "u1" and result.sort is None


@pytest.mark.parametrize("op", ["=", "<", "<=", ">", ">="])
def test_key_condition_sort_comparisons(op: str) -> None:
    result = kc(f"pk = :p AND sk {op} :s", {":p": "u1", ":s": "a"})
    assert result.sort == Compare(op, Path(("sk",)), Literal("a"))


def test_key_condition_any_order_parentheses_and_reversed_operands() -> None:
    result = kc("(sk > :s) AND (:p = pk)", {":p": "u1", ":s": "a"})
    assert result.partition_value == "u1"
    assert result.sort == Compare(">", Path(("sk",)), Literal("a"))
    result = kc("pk = :p AND :s < sk", {":p": "u1", ":s": "a"})
    assert result.sort == Compare(">", Path(("sk",)), Literal("a"))


def test_key_condition_between_and_begins_with() -> None:
    assert kc("pk = :p AND sk BETWEEN :a AND :b", {":p": "u", ":a": "a", ":b": "b"}).sort == Between(
        Path(("sk",)), Literal("a"), Literal("b")
    )
    assert kc("pk = :p AND begins_with(sk, :a)", {":p": "u", ":a": "x"}).sort == BeginsWith(Path(("sk",)), Literal("x"))
    result = kc("pk = :p AND sk BETWEEN :a AND :b", {":p": "u", ":a": 1, ":b": 2}, sort=("sk", "N"))
    assert isinstance(result.sort, Between)


@pytest.mark.parametrize(
    ("expr", "values", "sort", "words"),
    [
        ("sk = :s", {":s": "a"}, ("sk", "S"), "partition key pk"),
        ("pk < :p", {":p": "a"}, ("sk", "S"), "only the = operator"),
        ("pk = :p AND sk <> :s", {":p": "a", ":s": "b"}, ("sk", "S"), "<>"),
        ("pk = :p OR sk = :s", {":p": "a", ":s": "b"}, ("sk", "S"), "OR"),
        ("NOT pk = :p", {":p": "a"}, ("sk", "S"), "NOT"),
        ("pk = :p AND sk IN (:s)", {":p": "a", ":s": "b"}, ("sk", "S"), "IN"),
        ("pk = :p AND attribute_exists(sk)", {":p": "a"}, ("sk", "S"), "attribute_exists"),
        ("pk = :p AND contains(sk, :s)", {":p": "a", ":s": "b"}, ("sk", "S"), "contains"),
        ("pk = :p AND begins_with(sk, :s)", {":p": "a", ":s": "1"}, ("sk", "N"), "begins_with"),
        ("pk = :p AND sk = :s", {":p": "a", ":s": 1}, ("sk", "S"), "type S"),
        ("pk = :p", {":p": 1}, ("sk", "S"), "type S"),
        ("pk = :p AND q = :s", {":p": "a", ":s": "b"}, ("sk", "S"), "not a key attribute"),
        ("pk = :p AND sk = :s", {":p": "a", ":s": "b"}, None, "not a key attribute"),
        ("pk = :p AND pk = :p", {":p": "a"}, ("sk", "S"), "only one condition"),
        ("pk = :p AND sk > :s AND sk < :s", {":p": "a", ":s": "b"}, ("sk", "S"), "at most two"),
        ("pk.x = :p", {":p": "a"}, ("sk", "S"), "nested"),
        ("pk = :p AND sk = pk", {":p": "a"}, ("sk", "S"), "value"),
        ("pk = :p", {":p": ""}, ("sk", "S"), "empty"),
    ],
)
def test_key_condition_errors(expr: str, values: dict[str, Any], sort: tuple[str, str] | None, words: str) -> None:
    with pytest.raises(ValidationError, match=words.replace("(", "\\(")):
        kc(expr, values, sort=sort)
