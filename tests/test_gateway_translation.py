"""The gateway's translation pieces on their own: wire values, legacy parameters, error shapes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storeswap.core.errors import (
    CancellationReason,
    ConditionFailed,
    ItemTooLarge,
    TableNotFound,
    Throttled,
    TransactionCanceled,
    ValidationError,
)
from storeswap.core.expressions import compile_expressions, evaluate
from storeswap.core.values import BinarySet, NumberSet, StringSet
from storeswap.gateway.errors import error_body
from storeswap.gateway.legacy import attribute_updates, expected_condition, filter_conditions, key_conditions
from storeswap.gateway.wire import SerializationError, decode_item, encode_item


def test_wire_round_trip() -> None:
    wire = {"s": {"S": "x\u0000"}, "n": {"N": "1.50"}, "b": {"B": "AAE="}, "t": {"BOOL": True}, "z": {"NULL": True},
            "l": {"L": [{"N": "1"}, {"M": {"k": {"S": ""}}}]}, "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["2", "1"]},
            "bs": {"BS": ["AQ=="]}}
    item = decode_item(wire)
    assert item["n"] == Decimal("1.50") and item["b"] == b"\x00\x01" and item["z"] is None
    assert isinstance(item["ss"], StringSet) and isinstance(item["ns"], NumberSet) and isinstance(item["bs"], BinarySet)
    back = encode_item(item)
    assert back["ss"] == {"SS": ["a", "b"]} and back["b"] == {"B": "AAE="} and back["l"] == wire["l"]


@pytest.mark.parametrize("bad", [
    {"a": {"S": 1}}, {"a": {"N": 1}}, {"a": {"B": "!!"}}, {"a": {"X": "1"}}, {"a": "plain"}, {"a": {"L": {}}},
])
def test_malformed_values_are_serialization_errors(bad: dict[str, object]) -> None:
    with pytest.raises(SerializationError):
        decode_item(bad)


def test_set_duplicates_and_two_type_keys_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="duplicates"):
        decode_item({"a": {"SS": ["x", "x"]}})
    with pytest.raises(ValidationError, match="more than one datatypes"):
        decode_item({"a": {"S": "x", "N": "1"}})
    with pytest.raises(ValidationError):
        decode_item({"a": {"NULL": False}})


def _holds(cond: object, item: dict[str, object]) -> bool:
    compiled = compile_expressions(condition=cond)  # type: ignore[arg-type]
    assert compiled.condition is not None
    return evaluate(compiled.condition, item)


def test_legacy_conditions_evaluate_like_expressions() -> None:
    cond = filter_conditions({"a": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "1"}]},
                              "b": {"ComparisonOperator": "NOT_NULL"}}, "OR")
    assert _holds(cond, {"a": Decimal(2)}) and _holds(cond, {"b": "x"}) and not _holds(cond, {"a": Decimal(0)})
    exp = expected_condition({"v": {"Value": {"S": "x"}}, "w": {"Exists": False}}, None)
    assert _holds(exp, {"v": "x"}) and not _holds(exp, {"v": "x", "w": 1})
    inn = filter_conditions({"c": {"ComparisonOperator": "IN", "AttributeValueList": [{"S": "p"}, {"S": "q"}]}}, None)
    assert _holds(inn, {"c": "q"}) and not _holds(inn, {"c": "r"})
    with pytest.raises(ValidationError, match="number of argument"):
        filter_conditions({"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}]}}, None)
    with pytest.raises(ValidationError, match="Unsupported operator"):
        key_conditions({"pk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "a"}]}})


def test_attribute_updates() -> None:
    upd = attribute_updates({"a": {"Action": "PUT", "Value": {"S": "x"}}, "b": {"Action": "DELETE"},
                             "c": {"Action": "ADD", "Value": {"N": "2"}}, "d": {"Action": "DELETE", "Value": {"SS": ["z"]}}})
    assert (len(upd.set), len(upd.remove), len(upd.add), len(upd.delete)) == (1, 1, 1, 1)
    with pytest.raises(ValidationError):
        attribute_updates({"a": {"Action": "PUT"}})


def test_error_shapes() -> None:
    status, body = error_body(ConditionFailed(item={"pk": "a"}))
    assert status == 400 and body["__type"].endswith("#ConditionalCheckFailedException") and body["Item"] == {"pk": {"S": "a"}}
    _, body = error_body(TransactionCanceled([CancellationReason(), CancellationReason("ConditionalCheckFailed")]))
    assert [r["Code"] for r in body["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert error_body(TableNotFound("t"))[1]["__type"].endswith("#ResourceNotFoundException")
    assert "Item size has exceeded" in error_body(ItemTooLarge("too big"))[1]["message"]
    assert error_body(Throttled("slow"))[1]["__type"].endswith("#ProvisionedThroughputExceededException")
    status, body = error_body(RuntimeError("secret /path/file.py line 3"))
    assert status == 500 and body["message"] == "Internal server error"


@pytest.mark.parametrize("capacity", [None, "TOTAL", "INDEXES"])
@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_a_number_the_port_refuses_is_a_validation_error_in_batch_and_transaction_writes(
    capacity: str | None, number: str
) -> None:
    """Consumed capacity is sized after the port validated the items: sizing "NaN" first answered a 500."""
    from storeswap import open_store
    from storeswap.core.schema import KeyAttribute, TableSpec
    from storeswap.gateway.operations import Operations

    store = open_store("memory://")
    store.create_table(TableSpec("cap", KeyAttribute("pk")))
    ops = Operations(store)
    asked = {} if capacity is None else {"ReturnConsumedCapacity": capacity}
    item = {"pk": {"S": "a"}, "n": {"N": number}}
    for call, body in ((ops.batch_write_item, {"RequestItems": {"cap": [{"PutRequest": {"Item": item}}]}}),
                       (ops.transact_write_items, {"TransactItems": [{"Put": {"TableName": "cap", "Item": item}}]})):
        with pytest.raises(ValidationError) as e:
            call({**body, **asked})
        assert error_body(e.value)[0] == 400
    assert store.get("cap", {"pk": "a"}) is None


def test_batch_and_transaction_writes_report_the_capacity_of_every_write() -> None:
    from storeswap import open_store
    from storeswap.core.schema import KeyAttribute, TableSpec
    from storeswap.gateway.operations import Operations

    store = open_store("memory://")
    store.create_table(TableSpec("cap", KeyAttribute("pk")))
    store.create_table(TableSpec("cap2", KeyAttribute("pk")))
    ops = Operations(store)
    big = {"pk": {"S": "b"}, "x": {"S": "x" * 1500}}  # 2 write units
    out = ops.batch_write_item({"RequestItems": {
        "cap": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}, {"PutRequest": {"Item": big}}],
        "cap2": [{"DeleteRequest": {"Key": {"pk": {"S": "z"}}}}],
    }, "ReturnConsumedCapacity": "TOTAL"})
    assert out["ConsumedCapacity"] == [
        {"TableName": "cap", "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},
        {"TableName": "cap2", "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
    ]
    out = ops.transact_write_items({"TransactItems": [
        {"Delete": {"TableName": "cap2", "Key": {"pk": {"S": "z"}}}},
        {"Put": {"TableName": "cap", "Item": big}},
    ], "ReturnConsumedCapacity": "TOTAL"})
    assert out["ConsumedCapacity"] == [
        {"TableName": "cap2", "CapacityUnits": 2.0, "WriteCapacityUnits": 2.0},
        {"TableName": "cap", "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0},
    ]
