"""Transforms used by tests/test_migrate_transform.py (loaded by module:function and by file path)."""

from __future__ import annotations

from storeswap.migrate.transform import RejectItem
from storeswap.repository import shard_of

HOT_SHARDS = 10


def rekey_users(item):
    """USER#<id> -> TENANT#<tenant>#USER#<id> (the tenant comes from the item)."""
    if not item["pk"].startswith("USER#"):
        return item
    if "tenant" not in item:
        raise RejectItem("a user without a tenant cannot be re-keyed")
    item["pk"] = f"TENANT#{item['tenant']}#{item['pk']}"
    return item


def shard_hot_partition(item):
    """Spread the hot partition EVENTS#hot over EVENTS#hot#0 .. #9 by the sort key (as the repository does)."""
    if item["pk"] == "EVENTS#hot":
        item["pk"] = f"{item['pk']}#{shard_of(item['sk'], HOT_SHARDS)}"
    return item


def truncate_ids(item):
    """A bad redesign: drops the last digit of the id, so USER#10 .. USER#19 all become USER#1."""
    item["pk"] = item["pk"][:-1] if len(item["pk"]) > len("USER#1") else item["pk"]
    return item


def split_profile(item):
    """One item in, two out (profile and an index row); users marked deleted are dropped."""
    if item.get("deleted"):
        return None
    row = {"pk": item["pk"], "sk": "NAME#" + item.get("name", "?")}
    return [item, row]


def oversized_key(item):
    item["pk"] = item["pk"] + "x" * 2100
    return item


def numeric_sort_key(item):
    item["sk"] = 7  # the target keeps sk as S: an invalid item
    return item
