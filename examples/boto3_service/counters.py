"""A tiny boto3 service: named counters and a visit log in DynamoDB.

Plain boto3, nothing storeswap-specific: the endpoint comes from
AWS_ENDPOINT_URL_DYNAMODB (which boto3 reads by itself) or, failing that,
from AWS, exactly as in production code.
"""

from __future__ import annotations

import os
import time

import boto3

TABLE = os.environ.get("COUNTERS_TABLE", "counters")


def client():
    """A DynamoDB client; boto3 picks AWS_ENDPOINT_URL_DYNAMODB up on its own."""
    return boto3.client("dynamodb", region_name=os.environ.get("AWS_REGION", "us-east-1"))


def create_table(ddb) -> None:
    """The counters table: pk (S) + sk (S)."""
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.get_waiter("table_exists").wait(TableName=TABLE)


def increment(ddb, name: str, by: int = 1) -> int:
    """Add ``by`` to counter ``name`` (created at 0) and log the visit; returns the new value."""
    resp = ddb.update_item(
        TableName=TABLE, Key={"pk": {"S": f"counter#{name}"}, "sk": {"S": "total"}},
        UpdateExpression="ADD n :by", ExpressionAttributeValues={":by": {"N": str(by)}}, ReturnValues="UPDATED_NEW",
    )
    value = int(resp["Attributes"]["n"]["N"])
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"counter#{name}"}, "sk": {"S": f"visit#{time.time_ns():020d}"},
                                        "by": {"N": str(by)}})
    return value


def reset(ddb, name: str, expected: int) -> bool:
    """Set counter ``name`` back to 0 only if it still holds ``expected`` (optimistic check)."""
    try:
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"counter#{name}"}, "sk": {"S": "total"}, "n": {"N": "0"}},
                     ConditionExpression="n = :e", ExpressionAttributeValues={":e": {"N": str(expected)}})
    except ddb.exceptions.ConditionalCheckFailedException:
        return False
    return True


def visits(ddb, name: str, page_size: int = 10) -> list[int]:
    """Every logged increment of ``name``, oldest first (follows LastEvaluatedKey)."""
    out: list[int] = []
    for page in ddb.get_paginator("query").paginate(
        TableName=TABLE, KeyConditionExpression="pk = :p AND begins_with(sk, :v)",
        ExpressionAttributeValues={":p": {"S": f"counter#{name}"}, ":v": {"S": "visit#"}},
        PaginationConfig={"PageSize": page_size},
    ):
        out.extend(int(i["by"]["N"]) for i in page["Items"])
    return out


def transfer(ddb, source: str, target: str, amount: int) -> None:
    """Move ``amount`` from one counter to another, all or nothing (never below zero)."""
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": TABLE, "Key": {"pk": {"S": f"counter#{source}"}, "sk": {"S": "total"}},
                    "UpdateExpression": "ADD n :neg", "ConditionExpression": "n >= :amt",
                    "ExpressionAttributeValues": {":neg": {"N": str(-amount)}, ":amt": {"N": str(amount)}}}},
        {"Update": {"TableName": TABLE, "Key": {"pk": {"S": f"counter#{target}"}, "sk": {"S": "total"}},
                    "UpdateExpression": "ADD n :amt", "ExpressionAttributeValues": {":amt": {"N": str(amount)}}}},
    ])
