"""The DynamoDB adapter (``dynamodb://`` URLs): boto3 client, own marshaller, AST rendering."""

from storeswap.adapters.dynamodb.store import DynamoStore

__all__ = ["DynamoStore", "open_dynamodb"]


def open_dynamodb(url: str) -> DynamoStore:
    """Open a ``dynamodb://`` URL (the factory ``open_store`` uses)."""
    return DynamoStore(url)
