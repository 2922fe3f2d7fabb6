"""A write's ReturnConsumedCapacity / ReturnItemCollectionMetrics is checked before it writes.

A bad value is a ValidationException and leaves the table as it was, for every write operation.
"""

from __future__ import annotations

from typing import Any

import pytest

from storeswap import KeyAttribute, LocalIndex, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import ValidationError
from storeswap.gateway.operations import Operations

TABLE = "ret_opts"


@pytest.fixture
def ops() -> Operations:
    store = MemoryStore()
    store.create_table(TableSpec(TABLE, KeyAttribute("pk"), KeyAttribute("sk"),
                                 local_indexes=(LocalIndex("by_n", KeyAttribute("n", "N")),)))  # fmt: skip
    store.put(TABLE, {"pk": "a", "sk": "1", "n": 1})
    return Operations(store)


def _item(pk: str = "a", sk: str = "1") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


WRITES: dict[str, tuple[str, dict[str, Any]]] = {
    "PutItem": ("put_item", {"TableName": TABLE, "Item": {**_item("b"), "n": {"N": "2"}}}),
    "UpdateItem": ("update_item", {"TableName": TABLE, "Key": _item(), "UpdateExpression": "SET n = :v",
                                   "ExpressionAttributeValues": {":v": {"N": "5"}}}),
    "UpdateItem-touch": ("update_item", {"TableName": TABLE, "Key": _item("c")}),
    "DeleteItem": ("delete_item", {"TableName": TABLE, "Key": _item()}),
    "BatchWriteItem": ("batch_write_item", {"RequestItems": {TABLE: [
        {"PutRequest": {"Item": {**_item("d"), "n": {"N": "3"}}}}, {"DeleteRequest": {"Key": _item()}}]}}),
    "TransactWriteItems": ("transact_write_items", {"TransactItems": [
        {"Put": {"TableName": TABLE, "Item": {**_item("e"), "n": {"N": "4"}}}},
        {"Delete": {"TableName": TABLE, "Key": _item()}}]}),
}  # fmt: skip


@pytest.mark.parametrize("option", [("ReturnConsumedCapacity", "ALL"), ("ReturnItemCollectionMetrics", "COUNT"),
                                    ("ReturnConsumedCapacity", 7), ("ReturnItemCollectionMetrics", ["SIZE"])])  # fmt: skip
@pytest.mark.parametrize("op", list(WRITES))
def test_a_bad_return_option_is_refused_before_the_write(ops: Operations, op: str, option: tuple[str, Any]) -> None:
    method, body = WRITES[op]
    before = sorted(ops.store.scan_all(TABLE), key=lambda i: (i["pk"], i["sk"]))
    with pytest.raises(ValidationError, match=option[0]):
        getattr(ops, method)({**body, option[0]: option[1]})
    assert sorted(ops.store.scan_all(TABLE), key=lambda i: (i["pk"], i["sk"])) == before


@pytest.mark.parametrize("op", list(WRITES))
def test_good_return_options_still_answer(ops: Operations, op: str) -> None:
    method, body = WRITES[op]
    out = getattr(ops, method)({**body, "ReturnConsumedCapacity": "TOTAL", "ReturnItemCollectionMetrics": "SIZE"})
    assert "ConsumedCapacity" in out
    assert "ItemCollectionMetrics" in out  # the table has a local index: DynamoDB reports its collections
