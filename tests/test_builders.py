"""Tests of the boto3-style builders, binding and compile_expressions (placeholders and compile-time checks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from storeswap.core.errors import ValidationError
from storeswap.core.expressions import (
    Attr,
    CompiledExpressions,
    Key,
    bind,
    compile_expressions,
    evaluate,
    key_condition,
    parse_condition,
    project,
)
from storeswap.core.expressions.ast import (
    And,
    AttributeExists,
    AttributeNotExists,
    AttributeType,
    BeginsWith,
    Between,
    Compare,
    Contains,
    In,
    Literal,
    Not,
    Or,
    Path,
    Projection,
    Size,
    UpdateExpr,
)
from storeswap.core.values import NumberSet, StringSet

D = Decimal


def lit(value: Any) -> Literal:
    return Literal(value)


# -- builders ------------------------------------------------------------------------


def test_key_builders() -> None:
    pk = Path(("pk",))
    assert Key("pk").eq("u1") == Compare("=", pk, lit("u1"))
    assert Key("pk").lt(1) == Compare("<", pk, lit(D(1)))
    assert Key("pk").lte(1) == Compare("<=", pk, lit(D(1)))
    assert Key("pk").gt(1) == Compare(">", pk, lit(D(1)))
    assert Key("pk").gte(1) == Compare(">=", pk, lit(D(1)))
    assert Key("pk").between("a", "b") == Between(pk, lit("a"), lit("b"))
    assert Key("pk").begins_with("x#") == BeginsWith(pk, lit("x#"))
    # Key names are top-level and taken literally.
    assert Key("a.b").eq(1) == Compare("=", Path(("a.b",)), lit(D(1)))


def test_key_conditions_combine() -> None:
    cond = Key("pk").eq("u1") & Key("sk").gt(2)
    assert cond == And(Compare("=", Path(("pk",)), lit("u1")), Compare(">", Path(("sk",)), lit(D(2))))
    kc = key_condition(cond, partition=("pk", "S"), sort=("sk", "N"))
    assert kc.partition_value == "u1"
    assert kc.sort == Compare(">", Path(("sk",)), lit(D(2)))


def test_attr_paths() -> None:
    assert Attr("a.b[0].c").eq(1).left == Path(("a", "b", 0, "c"))
    assert Attr("a[1][2]").exists() == AttributeExists(Path(("a", 1, 2)))
    assert Attr.path("a.b", 0, "c").exists() == AttributeExists(Path(("a.b", 0, "c")))
    # Builders name attributes literally: reserved words need no placeholder.
    assert Attr("status").eq("ok") == Compare("=", Path(("status",)), lit("ok"))


@pytest.mark.parametrize("bad", ["", "a..b", "a[x]", "a[-1]", ".a", "a.", "a[1"])
def test_attr_bad_paths(bad: str) -> None:
    with pytest.raises(ValidationError):
        Attr(bad)


def test_attr_path_validates_elements() -> None:
    with pytest.raises(ValidationError):
        Attr.path(0, "a")
    with pytest.raises(ValidationError):
        Attr.path("a", -1)
    with pytest.raises(ValidationError):
        Attr.path("a", "")


def test_attr_builders() -> None:
    a = Path(("a",))
    assert Attr("a").ne("x") == Compare("<>", a, lit("x"))
    assert Attr("a").lt(1) == Compare("<", a, lit(D(1)))
    assert Attr("a").lte(1) == Compare("<=", a, lit(D(1)))
    assert Attr("a").gt(1) == Compare(">", a, lit(D(1)))
    assert Attr("a").gte(1) == Compare(">=", a, lit(D(1)))
    assert Attr("a").between(1, 2) == Between(a, lit(D(1)), lit(D(2)))
    assert Attr("a").begins_with("p") == BeginsWith(a, lit("p"))
    assert Attr("a").is_in([1, "x"]) == In(a, (lit(D(1)), lit("x")))
    assert Attr("a").not_exists() == AttributeNotExists(a)
    assert Attr("a").attribute_type("SS") == AttributeType(a, lit("SS"))
    assert Attr("a").contains({1, 2}) == Contains(a, lit(NumberSet({D(1), D(2)})))
    assert Attr("a").eq(Attr("b")) == Compare("=", a, Path(("b",)))


def test_size_builder() -> None:
    s = Size(Path(("tags",)))
    assert Attr("tags").size().eq(2) == Compare("=", s, lit(D(2)))
    assert Attr("tags").size().ne(2) == Compare("<>", s, lit(D(2)))
    assert Attr("tags").size().lt(2) == Compare("<", s, lit(D(2)))
    assert Attr("tags").size().lte(2) == Compare("<=", s, lit(D(2)))
    assert Attr("tags").size().gt(2) == Compare(">", s, lit(D(2)))
    assert Attr("tags").size().gte(2) == Compare(">=", s, lit(D(2)))
    assert Attr("tags").size().between(1, 3) == Between(s, lit(D(1)), lit(D(3)))
    assert Attr("tags").size().is_in([1]) == In(s, (lit(D(1)),))


def test_combinators() -> None:
    x, y, z = Attr("x").eq(1), Attr("y").eq(2), Attr("z").exists()
    assert (x & y) == And(x, y)
    assert (x | y) == Or(x, y)
    assert ~x == Not(x)
    # Python precedence: ~ then & then |, matching DynamoDB's NOT, AND, OR.
    assert (x | y & ~z) == Or(x, And(y, Not(z)))
    with pytest.raises(TypeError):
        _ = x & 1


def test_builder_values_are_normalised() -> None:
    assert Attr("a").eq(D("1.50")) == Compare("=", Path(("a",)), lit(D("1.5")))
    assert Attr("a").eq({"x", "y"}).right == lit(StringSet({"x", "y"}))
    assert Attr("a").eq(bytearray(b"q")).right == lit(b"q")


@pytest.mark.parametrize(
    "build",
    [
        lambda: Attr("a").eq(1.5),
        lambda: Key("k").between(1.0, 2),
        lambda: Attr("a").is_in([0.1]),
        lambda: Attr("a").contains({0.5}),
        lambda: Attr("a").eq({"x": 0.5}),
    ],
)
def test_builders_refuse_floats(build: Any) -> None:
    with pytest.raises(ValidationError, match="float"):
        build()


def test_is_in_limits() -> None:
    assert len(Attr("a").is_in(range(100)).values) == 100
    with pytest.raises(ValidationError, match="at most 100"):
        Attr("a").is_in(range(101))
    with pytest.raises(ValidationError):
        Attr("a").is_in([])


def test_builder_condition_evaluates() -> None:
    item = {"pk": "u1", "status": "ok", "tags": StringSet({"a", "b"}), "n": D(3)}
    cond = (Attr("status").eq("ok") & Attr("tags").size().gt(1)) | ~Attr("n").exists()
    assert evaluate(cond, item)
    assert not evaluate(Attr("tags").contains("c") | Attr("n").between(4, 9), item)


# -- binding ----------------------------------------------------------------------------


def test_bind_resolves_placeholders() -> None:
    tree = parse_condition("#a.#b = :v AND size(#a) > :n").tree
    bound = bind(tree, {"#a": "x", "#b": "y"}, {":v": 1, ":n": 2})
    assert bound == And(
        Compare("=", Path(("x", "y")), lit(D(1))),
        Compare(">", Size(Path(("x",))), lit(D(2))),
    )


def test_bind_passes_builder_trees_through() -> None:
    cond = Attr("a").eq(1)
    assert bind(cond, None, None) is cond


def test_bind_missing_placeholders_name_them() -> None:
    with pytest.raises(ValidationError, match="#a is not defined") as e:
        bind(parse_condition("x = :v AND #a = :v").tree, {}, {":v": 1})
    assert e.value.position == 11
    with pytest.raises(ValidationError, match=":w is not defined") as e:
        bind(parse_condition("x = :w").tree, None, None)
    assert e.value.position == 4


def test_bind_refuses_floats() -> None:
    with pytest.raises(ValidationError, match="float"):
        bind(parse_condition("x = :v").tree, None, {":v": 1.5})


# -- compile_expressions --------------------------------------------------------------


def test_compile_all_expressions() -> None:
    compiled = compile_expressions(
        key_condition="#pk = :p",
        filter="#st = :s",
        projection="#st, a.b[0]",
        names={"#pk": "pk", "#st": "status"},
        values={":p": "u1", ":s": "ok"},
    )
    assert isinstance(compiled, CompiledExpressions)
    assert compiled.key_condition == Compare("=", Path(("pk",)), lit("u1"))
    assert compiled.filter == Compare("=", Path(("status",)), lit("ok"))
    assert compiled.projection == Projection((Path(("status",)), Path(("a", "b", 0))))
    assert compiled.condition is None and compiled.update is None


def test_compile_update_and_condition_share_placeholders() -> None:
    compiled = compile_expressions(
        update="SET #n = #n + :one", condition="#n < :max", names={"#n": "n"}, values={":one": 1, ":max": 10}
    )
    assert isinstance(compiled.update, UpdateExpr)
    assert compiled.condition == Compare("<", Path(("n",)), lit(D(10)))


def test_compile_accepts_builder_trees_and_path_lists() -> None:
    compiled = compile_expressions(
        key_condition=Key("pk").eq("u"), filter=Attr("name").exists(), projection=["name", "a.b[1]", Path(("x.y",))]
    )
    assert compiled.filter == AttributeExists(Path(("name",)))
    assert compiled.projection == Projection((Path(("name",)), Path(("a", "b", 1)), Path(("x.y",))))
    item = {"name": "n", "a": {"b": [D(0), D(1)]}, "x.y": True, "other": 1}
    assert project(compiled.projection, item) == {"name": "n", "a": {"b": [D(1)]}, "x.y": True}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"condition": "a = :v", "values": {":v": 1, ":w": 2}}, "unused placeholder :w"),
        ({"condition": "a = :v", "names": {"#x": "x"}, "values": {":v": 1}}, "unused placeholder #x"),
        ({"projection": "a", "names": {"#x": "x", "#y": "y"}}, "unused placeholders #x, #y"),
        ({"condition": Attr("a").eq(1), "values": {":v": 1}}, "unused placeholder :v"),
    ],
)
def test_unused_placeholders_are_refused(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        compile_expressions(**kwargs)


def test_placeholder_used_by_any_expression_counts() -> None:
    compile_expressions(condition="a = :v", update="SET b = :w", values={":v": 1, ":w": 2})


def test_compile_errors_name_the_expression() -> None:
    with pytest.raises(ValidationError, match=r"Invalid FilterExpression: .* at position 4") as e:
        compile_expressions(filter="a = ")
    assert e.value.position == 4
    with pytest.raises(ValidationError, match="Invalid UpdateExpression"):
        compile_expressions(update="SET")
    with pytest.raises(ValidationError, match="Invalid KeyConditionExpression"):
        compile_expressions(key_condition="pk = :p AND", values={":p": 1})


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"condition": "a < :v", "values": {":v": [1]}}, "operator < needs a string, number or binary operand"),
        ({"condition": ":v >= a", "values": {":v": True}}, "operator >= needs"),
        ({"condition": "a BETWEEN :l AND :h", "values": {":l": None, ":h": 1}}, "BETWEEN needs"),
        ({"condition": "a BETWEEN :l AND :h", "values": {":l": 2, ":h": 1}}, "wrong order"),
        ({"condition": "a BETWEEN :l AND :h", "values": {":l": "b", ":h": "a"}}, "wrong order"),
        ({"condition": "a BETWEEN :l AND :h", "values": {":l": 1, ":h": "a"}}, "different types"),
        ({"condition": "begins_with(a, :p)", "values": {":p": 1}}, "begins_with needs a string or binary"),
        ({"condition": "attribute_type(a, :t)", "values": {":t": "DOG"}}, "unknown type 'DOG'"),
        ({"condition": "attribute_type(a, :t)", "values": {":t": 1}}, "unknown type"),
        ({"update": "SET a = b + :v", "values": {":v": "x"}}, "operator \\+"),
        ({"update": "SET a = :v - b", "values": {":v": [1]}}, "operator -"),
        ({"update": "SET a = list_append(a, :v)", "values": {":v": "x"}}, "list_append needs lists"),
        ({"update": "ADD a :v", "values": {":v": "x"}}, "ADD takes a number or a set"),
        ({"update": "ADD a :v", "values": {":v": [1]}}, "ADD takes a number or a set"),
        ({"update": "DELETE a :v", "values": {":v": 1}}, "DELETE takes a set"),
        ({"update": "SET a = :v, a = :v", "values": {":v": 1}}, "overlap"),
        ({"update": "SET a = :v REMOVE a.b", "values": {":v": 1}}, "overlap"),
        ({"update": "SET a.b.c = :v, a.b = :v", "values": {":v": 1}}, "overlap"),
        ({"update": "SET a[1] = :v, a[1][2] = :v", "values": {":v": 1}}, "overlap"),
        ({"update": "SET #x = :v, #y = :v", "names": {"#x": "a", "#y": "a"}, "values": {":v": 1}}, "overlap"),
        ({"update": "SET a.b = :v, a[1] = :v", "values": {":v": 1}}, "conflict"),
        ({"update": "ADD s :v DELETE s :v", "values": {":v": {"x"}}}, "overlap"),
        ({"projection": "a, a.b"}, "overlap"),
        ({"projection": "a.b, a[0]"}, "conflict"),
        ({"condition": "a = :v", "values": {":v": set()}}, "empty"),
    ],
)
def test_compile_time_checks(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        compile_expressions(**kwargs)


def test_compile_time_checks_point_at_the_placeholder() -> None:
    with pytest.raises(ValidationError) as e:
        compile_expressions(condition="x = :a AND begins_with(a, :p)", values={":a": 1, ":p": 1})
    assert e.value.position == 26 and "at position 26" in str(e.value)


def test_item_operands_are_not_checked_at_compile_time() -> None:
    # Wrong types that come from the item only make the condition false.
    compiled = compile_expressions(condition="a < b AND begins_with(c, d)")
    assert compiled.condition is not None
    assert not evaluate(compiled.condition, {"a": [1], "b": [2], "c": D(1), "d": D(1)})


def test_non_overlapping_update_paths_are_fine() -> None:
    compile_expressions(update="SET a.b = :v, a.c = :v, l[0] = :v, l[1] = :v REMOVE x.y, x.z", values={":v": 1})


def test_builder_trees_are_validated_too() -> None:
    with pytest.raises(ValidationError, match="wrong order"):
        compile_expressions(condition=Attr("a").between(5, 1))
    with pytest.raises(ValidationError, match="begins_with"):
        compile_expressions(filter=Attr("a").begins_with(1))
