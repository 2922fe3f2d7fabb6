"""Change records as DynamoDB Streams JSON: the record shape a Lambda-style handler receives.

``{"eventID", "eventName", "eventVersion", "eventSource", "awsRegion",
"dynamodb": {"ApproximateCreationDateTime", "Keys", "NewImage", "OldImage",
"SequenceNumber", "SizeBytes", "StreamViewType"}, "eventSourceARN",
"userIdentity"}`` with typed values (``{"S": ...}``), so an existing handler
written for DynamoDB Streams consumes records of any store unchanged.
"""

from __future__ import annotations

import hashlib
from typing import Any

from storeswap.core.changes import ChangeRecord
from storeswap.migrate.ddbjson import marshal_item

__all__ = ["stream_record_json", "stream_arn"]


def stream_arn(store_kind: str, table: str, stream_id: str, region: str = "local") -> str:
    """The eventSourceARN of a stream: DynamoDB's own ARN, else one in the same shape naming the store."""
    if stream_id.startswith("arn:"):
        return stream_id
    return f"arn:storeswap:{store_kind}:{region}:table/{table}/stream/{stream_id}"


def stream_record_json(record: ChangeRecord, arn: str, region: str = "local", *, api: bool = False) -> dict[str, Any]:
    """One record in DynamoDB Streams JSON (the shape of a Lambda event's ``Records[i]``).

    ``api=True`` gives the record as the Streams API's GetRecords returns it,
    which spells ``userIdentity``'s members ``Type`` and ``PrincipalId``
    where a Lambda event spells them ``type`` and ``principalId``.
    """
    body: dict[str, Any] = {"Keys": marshal_item(record.keys)}
    if record.created is not None:
        body["ApproximateCreationDateTime"] = int(record.created.timestamp())
    if record.new_image is not None:
        body["NewImage"] = marshal_item(record.new_image)
    if record.old_image is not None:
        body["OldImage"] = marshal_item(record.old_image)
    body["SequenceNumber"] = record.sequence
    if record.size_bytes is not None:
        body["SizeBytes"] = record.size_bytes
    body["StreamViewType"] = record.view
    event_id = hashlib.sha256(f"{arn}|{record.shard}|{record.sequence}".encode()).hexdigest()[:32]
    out: dict[str, Any] = {
        "eventID": event_id,
        "eventName": record.kind,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": arn,
    }
    if record.user_identity is not None:
        type_, principal = ("Type", "PrincipalId") if api else ("type", "principalId")
        out["userIdentity"] = {type_: record.user_identity.type, principal: record.user_identity.principal_id}
    return out
