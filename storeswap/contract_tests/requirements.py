"""The requirement ids of ``docs/semantics.md``, with a one-line title each.

The plugin refuses contract tests whose ``req`` marker names an id that is not
listed here, and :mod:`storeswap.contract_tests.matrix` prints its rows in
this order.
"""

from __future__ import annotations

__all__ = ["REQUIREMENTS", "is_known"]

REQUIREMENTS: dict[str, str] = {
    "V1": "numbers: 38 significant digits, magnitude 1E-130 .. 9.99E+125",
    "V2": "numbers come back normalised; 1 and 1.0 are one key",
    "V3": "sets: never empty, no duplicates, unordered; '' may be an element",
    "V4": "empty strings/binary allowed outside keys; keys non-empty",
    "V5": "U+0000 legal everywhere",
    "V6": "item size limit 409,600 bytes",
    "V7": "nesting stops at 32 levels",
    "V8": "partition key 1-2048 bytes, sort key 1-1024 bytes",
    "V9": "NULL is present, missing is absent",
    "V10": "floats refused, ints read back as Decimal",
    "K1": "key order: UTF-8 bytes, unsigned bytes, numeric; reverse exact",
    "K2": "begins_with / BETWEEN on keys; no wildcards; begins_with on N rejected",
    "K3": "index ties ordered by table key; pages never skip or repeat",
    "Q1": "iterating all pages returns every matching item once, in key order",
    "Q2": "a non-empty cursor does not promise more items",
    "Q3": "query filters cannot name key attributes; unused placeholders rejected",
    "Q4": "parallel scan segments disjoint and covering; cursors segment-bound",
    "Q5": "consistent reads rejected on global indexes, allowed on local ones",
    "Q6": "global indexes are sparse; index key types enforced on writes",
    "Q7": "projections return only the named paths",
    "P1": "a page holds at most `limit` matching items (after the filter)",
    "P2": "cursor None below the limit; resumes right after the last item",
    "P3": "all pages give every matching item exactly once, in key order",
    "P4": "query cursors are store-neutral; scan cursors store-bound",
    "P5": "without a limit a page holds every matching item",
    "C1": "failed condition raises ConditionFailed, with the old item when asked",
    "C2": "typed comparisons, IN <= 100, precedence NOT > AND > OR",
    "C3": "size(): UTF-16 code units, bytes, element counts",
    "C4": "contains / begins_with / attribute_type",
    "C5": "update is an upsert and never changes key attributes",
    "C6": "arithmetic, if_not_exists, list_append, ADD, DELETE",
    "C7": "clauses once, no overlapping paths, list index rules",
    "C8": "return values of put, delete and update",
    "T1": "batch write <= 25 / batch get <= 100, no duplicates",
    "T2": "transactions: <= 100 actions and 4 MB, all-or-nothing, reasons in order",
    "T3": "idempotency tokens",
    "T4": "transactions serialisable with single-item writes",
    "S1": "TTL: a top-level Number of epoch seconds; other types and values > 5 years old ignored; set_ttl",
    "S2": "expired items readable/updatable/queryable until removed; removal is a system REMOVE; index entries go",
    "S3": "records INSERT / MODIFY / REMOVE carry keys and the images their view type names",
    "S4": "no record for a write that changes nothing",
    "S5": "exactly one record per change, in order per item, transactions and batches included",
    "S6": "one partition key, one shard; sequence numbers increase within a shard; parents before children",
    "S7": "positions are durable strings; resuming loses and repeats nothing; bad positions rejected",
    "S8": "records older than the retention window are trimmed; a reader behind it gets StreamPositionExpired",
    "S9": "a stream enabled or disabled on an existing table",
    "S10": "a committed write always has its record, a rolled-back one never (store tests)",
    "S11": "the background TTL sweeper of stores without a native one",
    "E1": "throttling / transient errors become typed, retryable errors",
    "E2": "unknown write outcomes say so",
    "E3": "stored data the store cannot read is StoreCorrupted",
    "X1": "bad input raises the documented typed error",
    "X2": "bad input leaves every table untouched",
    "X3": "injection-shaped names and values are plain data",
    "X4": "items passed in and handed out are the caller's own (nested maps and lists too)",
    "D1": "tables: create, describe, list, delete, TableExists / TableNotFound",
    "D2": "table names follow DynamoDB's rule",
    "M1": "a migrated table reads back identical on the target, item by item (every value type, edge sizes)",
    "M2": "verify proves two tables identical from digests of a type-exact encoding, and names every difference",
    "M3": "queries on the target return the same items in the same order as on the source",
    "M4": "a query cursor taken on the source before a migration resumes on the target after it",
    "M5": "an interrupted copy resumed from its state file loses and duplicates nothing",
    "R1": "repository: every value type round-trips through the store, stored in its declared form",
    "R2": "repository: key templates, queries by template prefix, typed cursors, sparse index templates",
    "R3": "repository: create-only puts and optimistic locking (StaleEntity; one of two concurrent writers wins)",
    "R4": "repository: atomic increments never lose one another and advance the version",
    "R5": "repository: a transaction across entities applies all-or-nothing",
    "R6": "repository: TTL fields are stored as whole epoch seconds",
    "R7": "repository: a write-sharded model spreads a hot partition and reads every shard",
    "R8": "repository: entities written on one store read back on another after a migration",
}


def is_known(req_id: str) -> bool:
    """True when ``req_id`` is a requirement id of docs/semantics.md."""
    return req_id in REQUIREMENTS
