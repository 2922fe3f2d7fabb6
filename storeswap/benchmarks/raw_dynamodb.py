"""The raw-driver twin of the DynamoDB adapter: plain boto3 client calls on the adapter's own table.

"What a boto3 user would write": one client with the same endpoint, region,
credentials and botocore settings as the store's, items encoded with
boto3's ``TypeSerializer`` and decoded with its ``TypeDeserializer``, and
expressions written by hand.  The adapter/raw ratio therefore measures what
the adapter adds: the port's validation, expression binding and rendering,
and its own marshaller.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from storeswap.adapters.dynamodb.client import make_client
from storeswap.benchmarks.raw_base import BENCH_TABLE
from storeswap.core.port import ItemStore

__all__ = ["RawDynamo", "make_raw"]


def make_raw(store: ItemStore) -> RawDynamo:
    """The raw twin of an opened :class:`~storeswap.adapters.dynamodb.DynamoStore` (``BENCH_TABLE`` must exist)."""
    config = getattr(store, "config", None)
    if store.kind != "dynamodb" or config is None:
        raise TypeError(f"make_raw needs a DynamoStore, not {type(store).__name__}")
    return RawDynamo(make_client(config), BENCH_TABLE)


class RawDynamo:
    """get / put / conditional_update / query (+ update_field, increment, query_index) with boto3 alone."""

    def __init__(self, client: Any, table: str = BENCH_TABLE) -> None:
        self._client = client
        self._table = table
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize
        self._index_keys: dict[str, str] = {}

    def _decode(self, item: dict[str, Any]) -> dict[str, Any]:
        d = self._deserialize
        return {k: d(v) for k, v in item.items()}

    # ------------------------------------------------------------- protocol

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """Read one item by key and decode it."""
        resp = self._client.get_item(TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}})
        item = resp.get("Item")
        return None if item is None else self._decode(item)

    def put(self, item: dict[str, Any]) -> None:
        """Write a whole item (unconditional)."""
        s = self._serialize
        self._client.put_item(TableName=self._table, Item={k: s(v) for k, v in item.items()})

    def conditional_update(self, pk: str, sk: str, expected_version: Decimal) -> bool:
        """``SET version = version + 1, n = n + 1`` if ``version = expected_version``."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                UpdateExpression="SET #v = #v + :one, #n = #n + :one",
                ConditionExpression="#v = :v",
                ExpressionAttributeNames={"#v": "version", "#n": "n"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":v": {"N": str(expected_version)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def query(self, pk: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` items of partition ``pk`` in sort-key order, decoded."""
        resp = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": pk}},
            Limit=limit,
        )
        return [self._decode(i) for i in resp.get("Items", [])]

    # --------------------------------------------------------------- extras

    def update_field(self, pk: str, sk: str, name: str, value: str) -> None:
        """``SET name = value`` on one item (an upsert)."""
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="SET #f = :v",
            ExpressionAttributeNames={"#f": name},
            ExpressionAttributeValues={":v": {"S": value}},
        )

    def increment(self, pk: str, sk: str, name: str, by: Decimal) -> None:
        """``ADD name by`` on one item (an upsert; a missing number counts as 0)."""
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="ADD #a :by",
            ExpressionAttributeNames={"#a": name},
            ExpressionAttributeValues={":by": {"N": str(by)}},
        )

    def query_index(self, index: str, pk: str, limit: int) -> list[dict[str, Any]]:
        """The first ``limit`` items of partition ``pk`` of global index ``index``, decoded."""
        attr = self._index_keys.get(index)
        if attr is None:  # looked up once, as an application would know it
            desc = self._client.describe_table(TableName=self._table)["Table"]
            attr = self._index_keys[index] = next(
                k["AttributeName"]
                for g in desc.get("GlobalSecondaryIndexes", ())
                if g["IndexName"] == index
                for k in g["KeySchema"]
                if k["KeyType"] == "HASH"
            )
        resp = self._client.query(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression="#p = :p",
            ExpressionAttributeNames={"#p": attr},
            ExpressionAttributeValues={":p": {"S": pk}},
            Limit=limit,
        )
        return [self._decode(i) for i in resp.get("Items", [])]

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()
