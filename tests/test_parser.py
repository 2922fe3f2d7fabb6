"""Tests of the expression tokenizer and parser (unbound trees)."""

from __future__ import annotations

import pytest

from storeswap.core.errors import ValidationError
from storeswap.core.expressions import parse_condition, parse_projection, parse_update
from storeswap.core.expressions.ast import (
    AddAction,
    And,
    Arith,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Contains,
    DeleteAction,
    IfNotExists,
    In,
    ListAppend,
    NameRef,
    Not,
    Or,
    Path,
    RemoveAction,
    SetAction,
    Size,
    ValueRef,
)
from storeswap.core.expressions.parser import RESERVED_WORDS


def p(*elements: str | int | NameRef) -> Path:
    return Path(tuple(elements))


def v(name: str) -> ValueRef:
    return ValueRef(name)


def eq(path: str, value: str) -> Compare:
    return Compare("=", p(path), v(value))


# -- conditions -----------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "<>", "<", "<=", ">", ">="])
def test_comparators(op: str) -> None:
    assert parse_condition(f"a {op} :v").tree == Compare(op, p("a"), v(":v"))
    assert parse_condition(f"a{op}:v").tree == Compare(op, p("a"), v(":v"))


def test_compare_two_paths_and_value_on_left() -> None:
    assert parse_condition("a < b.c").tree == Compare("<", p("a"), p("b", "c"))
    assert parse_condition(":v >= a").tree == Compare(">=", v(":v"), p("a"))


def test_between_and_in() -> None:
    assert parse_condition("a BETWEEN :lo AND :hi").tree == Between(p("a"), v(":lo"), v(":hi"))
    assert parse_condition("a IN (:x)").tree == In(p("a"), (v(":x"),))
    assert parse_condition("a IN (:x, b, :z)").tree == In(p("a"), (v(":x"), p("b"), v(":z")))


def test_in_accepts_100_operands_and_refuses_101() -> None:
    hundred = ", ".join(f":v{i}" for i in range(100))
    tree = parse_condition(f"a IN ({hundred})").tree
    assert isinstance(tree, In) and len(tree.values) == 100
    text = f"a IN ({hundred}, :v100)"
    with pytest.raises(ValidationError, match="at most 100") as e:
        parse_condition(text)
    assert e.value.position == text.index(":v100")


def test_precedence_and_binds_tighter_than_or() -> None:
    tree = parse_condition("a = :x OR b = :y AND c = :z").tree
    assert tree == Or(eq("a", ":x"), And(eq("b", ":y"), eq("c", ":z")))
    tree = parse_condition("a = :x AND b = :y OR c = :z").tree
    assert tree == Or(And(eq("a", ":x"), eq("b", ":y")), eq("c", ":z"))


def test_precedence_not_binds_tightest() -> None:
    assert parse_condition("NOT a = :x AND b = :y").tree == And(Not(eq("a", ":x")), eq("b", ":y"))
    assert parse_condition("NOT NOT a = :x").tree == Not(Not(eq("a", ":x")))
    assert parse_condition("NOT a BETWEEN :l AND :h").tree == Not(Between(p("a"), v(":l"), v(":h")))


def test_between_and_is_not_a_logical_and() -> None:
    tree = parse_condition("a BETWEEN :l AND :h AND b = :y").tree
    assert tree == And(Between(p("a"), v(":l"), v(":h")), eq("b", ":y"))


def test_parentheses_override_precedence() -> None:
    tree = parse_condition("(a = :x OR b = :y) AND c = :z").tree
    assert tree == And(Or(eq("a", ":x"), eq("b", ":y")), eq("c", ":z"))
    assert parse_condition("((a = :x))").tree == eq("a", ":x")
    assert parse_condition("NOT (a = :x OR b = :y)").tree == Not(Or(eq("a", ":x"), eq("b", ":y")))


def test_and_or_are_left_associative() -> None:
    tree = parse_condition("a = :x AND b = :y AND c = :z").tree
    assert tree == And(And(eq("a", ":x"), eq("b", ":y")), eq("c", ":z"))


@pytest.mark.parametrize("text", ["a = :x and b = :y", "a = :x And b = :y", "a = :x AND b = :y", "a = :x aNd b = :y"])
def test_keywords_are_case_insensitive(text: str) -> None:
    assert parse_condition(text).tree == And(eq("a", ":x"), eq("b", ":y"))


def test_between_in_not_or_case_insensitive() -> None:
    assert parse_condition("a between :l and :h").tree == Between(p("a"), v(":l"), v(":h"))
    assert parse_condition("a in (:x)").tree == In(p("a"), (v(":x"),))
    assert parse_condition("not a = :x or b = :y").tree == Or(Not(eq("a", ":x")), eq("b", ":y"))


def test_functions() -> None:
    assert parse_condition("attribute_exists(a.b)").tree == AttributeExists(p("a", "b"))
    assert parse_condition("attribute_not_exists(#k)").tree == AttributeNotExists(p(NameRef("#k")))
    assert parse_condition("attribute_type(a, :t)").tree == AttributeType(p("a"), v(":t"))
    assert parse_condition("begins_with(a, :p)").tree == BeginsWith(p("a"), v(":p"))
    assert parse_condition("contains(a, b)").tree == Contains(p("a"), p("b"))
    assert parse_condition("attribute_exists ( a )").tree == AttributeExists(p("a"))


def test_size_is_an_operand() -> None:
    assert parse_condition("size(a) > :n").tree == Compare(">", Size(p("a")), v(":n"))
    assert parse_condition(":n < size(a[0])").tree == Compare("<", v(":n"), Size(p("a", 0)))
    assert parse_condition("size(a) BETWEEN :l AND :h").tree == Between(Size(p("a")), v(":l"), v(":h"))
    assert parse_condition("size(a) IN (:x, :y)").tree == In(Size(p("a")), (v(":x"), v(":y")))


def test_functions_combine_with_logic() -> None:
    tree = parse_condition("attribute_not_exists(pk) OR NOT contains(tags, :t)").tree
    assert tree == Or(AttributeNotExists(p("pk")), Not(Contains(p("tags"), v(":t"))))


def test_nested_paths_and_list_indexes() -> None:
    assert parse_condition("a.b[2].c = :v").tree == Compare("=", p("a", "b", 2, "c"), v(":v"))
    assert parse_condition("a[0][1] = :v").tree == Compare("=", p("a", 0, 1), v(":v"))
    tree = parse_condition("#n.x[0][1] = :v").tree
    assert isinstance(tree, Compare)
    assert tree.left == p(NameRef("#n"), "x", 0, 1)
    assert parse_condition("a . b [ 3 ] = :v").tree == Compare("=", p("a", "b", 3), v(":v"))


def test_identifiers_may_hold_digits_and_underscores() -> None:
    assert parse_condition("Alpha_Numeric_123 = :v_1").tree == Compare("=", p("Alpha_Numeric_123"), v(":v_1"))


def test_placeholders_are_collected_with_positions() -> None:
    parsed = parse_condition("#a.#b = :x AND c IN (:y, :x)")
    assert parsed.names == frozenset({"#a", "#b"})
    assert parsed.values == frozenset({":x", ":y"})
    tree = parsed.tree
    assert isinstance(tree, And) and isinstance(tree.left, Compare)
    left = tree.left.left
    assert isinstance(left, Path)
    assert left.position == 0
    assert left.elements[1] == NameRef("#b")
    right = tree.left.right
    assert isinstance(right, ValueRef) and right.position == 8
    # Placeholder names may start with a digit or underscore.
    assert parse_condition("#1 = :_").names == frozenset({"#1"})


def test_parsing_is_cached() -> None:
    assert parse_condition("a = :cache_me") is parse_condition("a = :cache_me")
    assert parse_update("SET a = :cache_me") is parse_update("SET a = :cache_me")
    assert parse_projection("a, b") is parse_projection("a, b")


# -- reserved words -------------------------------------------------------------


def test_reserved_word_list_is_complete() -> None:
    assert len(RESERVED_WORDS) == 573
    for word in ("STATUS", "NAME", "SIZE", "DATA", "KEY", "TTL", "VALUE", "USER", "ZONE", "ABORT"):
        assert word in RESERVED_WORDS
    for word in ("PK", "SK", "BEGINS_WITH", "CONTAINS", "PRICE"):
        assert word not in RESERVED_WORDS


@pytest.mark.parametrize(
    ("text", "position", "word"),
    [
        ("status = :s", 0, "status"),
        ("Status = :s", 0, "Status"),
        ("a = :x AND name = :n", 11, "name"),
        ("size = :n", 0, "size"),
        ("a.name = :n", 2, "name"),
        ("contains(data, :x)", 9, "data"),
    ],
)
def test_reserved_words_need_placeholders(text: str, position: int, word: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_condition(text)
    assert e.value.position == position
    assert "reserved word" in str(e.value) and f"#{word}" in str(e.value)
    assert f"at position {position}" in str(e.value)


def test_reserved_words_through_placeholders() -> None:
    assert parse_condition("#status = :s AND size(#size) > :n").names == frozenset({"#status", "#size"})
    with pytest.raises(ValidationError, match="reserved word"):
        parse_update("SET status = :s")
    with pytest.raises(ValidationError, match="reserved word"):
        parse_projection("a, name")


# -- update expressions -----------------------------------------------------------


def test_update_all_clauses() -> None:
    tree = parse_update("SET a = :a, b.c[1] = :b REMOVE d, e[0] ADD n :one DELETE s :gone").tree
    assert tree.set == (SetAction(p("a"), v(":a")), SetAction(p("b", "c", 1), v(":b")))
    assert tree.remove == (RemoveAction(p("d")), RemoveAction(p("e", 0)))
    assert tree.add == (AddAction(p("n"), v(":one")),)
    assert tree.delete == (DeleteAction(p("s"), v(":gone")),)


def test_update_clauses_in_any_order_and_case() -> None:
    tree = parse_update("delete s :x add n :y remove r set a = :z").tree
    assert tree.set == (SetAction(p("a"), v(":z")),)
    assert tree.remove == (RemoveAction(p("r")),)
    assert tree.add == (AddAction(p("n"), v(":y")),)
    assert tree.delete == (DeleteAction(p("s"), v(":x")),)
    assert [type(a).__name__ for a in tree.actions()] == ["SetAction", "RemoveAction", "AddAction", "DeleteAction"]


def test_update_set_values() -> None:
    tree = parse_update(
        "SET a = b, c = :x + d, e = f - :y, g = if_not_exists(g, :zero) + :one, "
        "h = list_append(if_not_exists(h, :empty), :more), i = if_not_exists(j, if_not_exists(k, :d))"
    ).tree
    values = [a.value for a in tree.set]
    assert values[0] == p("b")
    assert values[1] == Arith("+", v(":x"), p("d"))
    assert values[2] == Arith("-", p("f"), v(":y"))
    assert values[3] == Arith("+", IfNotExists(p("g"), v(":zero")), v(":one"))
    assert values[4] == ListAppend(IfNotExists(p("h"), v(":empty")), v(":more"))
    assert values[5] == IfNotExists(p("j"), IfNotExists(p("k"), v(":d")))


def test_update_placeholders() -> None:
    parsed = parse_update("SET #a = :v REMOVE #b ADD #c :n")
    assert parsed.names == frozenset({"#a", "#b", "#c"})
    assert parsed.values == frozenset({":v", ":n"})


def test_update_repeated_clause_is_refused() -> None:
    with pytest.raises(ValidationError, match="only once") as e:
        parse_update("SET a = :v REMOVE b SET c = :w")
    assert e.value.position == 20


# -- projections ------------------------------------------------------------------


def test_projection() -> None:
    parsed = parse_projection("a, b.c, d[2].#e, f[0][1]")
    assert parsed.tree.paths == (p("a"), p("b", "c"), p("d", 2, NameRef("#e")), p("f", 0, 1))
    assert parsed.names == frozenset({"#e"})
    assert parsed.values == frozenset()


# -- malformed input ----------------------------------------------------------------

MALFORMED = [
    # (parser, text, position, words the message must contain)
    ("c", "", 0, "empty"),
    ("c", "   ", 0, "empty"),
    ("c", "a =", 3, "expected an operand"),
    ("c", "a = :x AND", 10, "expected a condition"),
    ("c", "(a = :x", 0, "unbalanced parentheses"),
    ("c", "a = :x)", 6, "unbalanced parentheses"),
    ("c", "((a = :x)", 0, "unbalanced parentheses"),
    ("c", "a = :x b = :y", 7, "after a complete expression"),
    ("c", "size(a)", 0, "size() is not a condition"),
    ("c", "size(a, b) = :n", 0, "wrong number of arguments for size"),
    ("c", "foo(a) = :v", 0, "unknown function 'foo'"),
    ("c", "BEGINS_WITH(a, :p)", 0, "case-sensitive"),
    ("c", "attribute_exists(a, b)", 0, "wrong number of arguments"),
    ("c", "begins_with(a)", 0, "wrong number of arguments"),
    ("c", "attribute_exists(:v)", 17, "must be an attribute path"),
    ("c", "a[x] = :v", 2, "bad list index"),
    ("c", "a[-1] = :v", 2, "bad list index"),
    ("c", "a[1.5] = :v", 3, "bad list index"),
    ("c", "a[1 = :v", 4, "bad list index"),
    ("c", "a[1", 1, "unterminated list index"),
    ("c", "a = 5", 4, "literal 5 is not allowed"),
    ("c", "a != :v", 2, "<>"),
    ("c", "a IN ()", 6, "at least one operand"),
    ("c", "a IN (:a, :b", 5, "never closed"),
    ("c", "a BETWEEN :a :b", 13, "expected AND"),
    ("c", "begins_with(a, :p", 11, "unterminated call of begins_with"),
    ("c", "a = #", 4, "placeholder name"),
    ("c", "a = :", 4, "placeholder name"),
    ("c", "_a = :v", 0, "must start with a letter"),
    ("c", "a = 'x'", 4, "quoted strings"),
    ("c", "attribute_exists(a) = :v", 20, "cannot be used as an operand"),
    ("c", "if_not_exists(a, :v) = :w", 0, "only allowed in update expressions"),
    ("c", "a", 1, "expected a comparator"),
    ("c", "attribute_type(a, b)", 18, ":value placeholder"),
    ("c", "a. = :v", 3, "expected an attribute name"),
    ("c", "NOT", 3, "expected a condition"),
    ("c", "a = AND", 4, "unexpected keyword AND"),
    ("c", "a = :x AND (b = :y", 11, "unbalanced parentheses"),
    ("c", "a = :x ; b = :y", 7, "unexpected character"),
    ("u", "", 0, "empty"),
    ("u", "SET a = :v SET b = :w", 11, "only once"),
    ("u", "SET", 3, "at least one action"),
    ("u", "SET a = :v REMOVE", 17, "at least one action"),
    ("u", "HELLO a = :v", 0, "expected SET, REMOVE, ADD or DELETE"),
    ("u", "SET a :v", 6, "expected '='"),
    ("u", "SET a = :v + :w + :x", 16, "only one + or -"),
    ("u", "SET a = if_not_exists(:v, :w)", 22, "must be an attribute path"),
    ("u", "SET a = list_append(:a)", 8, "wrong number of arguments for list_append"),
    ("u", "SET a = list_append(list_append(:a, :b), :c)", 20, "cannot be nested"),
    ("u", "SET a = if_not_exists(c, :a + :b)", 28, "expected ',' or ')'"),
    ("u", "SET a = size(b)", 8, "not allowed in an update expression"),
    ("u", "SET a = f(b)", 8, "unknown function 'f'"),
    ("u", "SET :a = :b", 4, "expected an attribute path"),
    ("u", "SET a = :v b = :w", 11, "expected ','"),
    ("u", "REMOVE a,", 9, "expected an attribute path"),
    ("u", "ADD a b", 6, ":value placeholder"),
    ("u", "DELETE a", 8, ":value placeholder"),
    ("u", "SET a[:i] = :v", 6, "bad list index"),
    ("u", "SET a = :v,", 11, "expected an attribute path"),
    ("p", "", 0, "empty"),
    ("p", "a,", 2, "expected an attribute name"),
    ("p", "a b", 2, "after a complete expression"),
    ("p", "a[]", 2, "bad list index"),
    ("p", "status", 0, "reserved word"),
    ("p", ":v", 0, "expected an attribute name"),
]


@pytest.mark.parametrize(("kind", "text", "position", "words"), MALFORMED)
def test_malformed_expressions(kind: str, text: str, position: int, words: str) -> None:
    parse = {"c": parse_condition, "u": parse_update, "p": parse_projection}[kind]
    with pytest.raises(ValidationError) as e:
        parse(text)
    assert e.value.position == position, str(e.value)
    assert words in str(e.value)
    assert f"at position {position}" in str(e.value)


def test_malformed_table_is_large() -> None:
    assert len(MALFORMED) >= 25
