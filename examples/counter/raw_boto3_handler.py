"""The same counter handler written the way the DynamoDB guide writes it: raw boto3, no storeswap.

It stores exactly the items the repository version stores (``pk=COUNTER#<id>``,
``sk=COUNTER``, ``_type``, ``version``), so both handlers serve one table.
Configuration: ``COUNTER_TABLE`` (default ``counters``) and, for a local
endpoint (moto, DynamoDB Local, or storeswap's DynamoDB gateway over any
store), ``DYNAMODB_ENDPOINT_URL``; credentials and region come from boto3's
usual chain.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import boto3
from botocore.exceptions import ClientError

_table: Any = None


def table() -> Any:
    """The boto3 Table resource, created on first use and kept between invocations."""
    global _table
    if _table is None:
        dynamodb = boto3.resource("dynamodb", endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL"))
        _table = dynamodb.Table(os.environ.get("COUNTER_TABLE", "counters"))
    return _table


def reset() -> None:
    """Forget the cached Table (tests change the environment between runs)."""
    global _table
    _table = None


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Create a counter when the request names none, then increment it by ``by`` (default 1)."""
    body = event.get("body", event) if isinstance(event, dict) else event
    request = json.loads(body) if isinstance(body, str) and body.strip() else (body or {})
    by = request.get("by", 1)
    if isinstance(by, bool) or not isinstance(by, int):
        return _response(400, {"error": "by is an integer"})
    try:
        counter_id = str(uuid.UUID(request["id"])) if "id" in request else None
    except (ValueError, TypeError, AttributeError):
        return _response(400, {"error": "id is a UUID"})
    t = table()
    if counter_id is None:
        counter_id = str(uuid.uuid4())
        t.put_item(
            Item={"pk": f"COUNTER#{counter_id}", "sk": "COUNTER", "_type": "Counter",
                  "id": counter_id, "value": 0, "version": 1},
            ConditionExpression="attribute_not_exists(pk)",
        )
    try:
        result = t.update_item(
            Key={"pk": f"COUNTER#{counter_id}", "sk": "COUNTER"},
            UpdateExpression="ADD #value :by, #version :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#value": "value", "#version": "version"},
            ExpressionAttributeValues={":by": by, ":one": 1},
            ReturnValues="ALL_NEW",
        )
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return _response(404, {"error": f"no counter {counter_id}"})
        raise
    return _response(200, {"id": counter_id, "value": int(result["Attributes"]["value"])})
