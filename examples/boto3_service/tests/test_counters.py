"""The service's own tests: run them against DynamoDB, or against ``storeswap serve`` over PostgreSQL."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("COUNTERS_TABLE", f"counters_{uuid.uuid4().hex[:8]}")

import counters


@pytest.fixture(scope="session")
def ddb():
    client = counters.client()
    counters.create_table(client)
    yield client
    client.delete_table(TableName=counters.TABLE)


def test_increment_counts(ddb) -> None:
    assert counters.increment(ddb, "a") == 1
    assert counters.increment(ddb, "a", 4) == 5


def test_visits_are_paged_in_order(ddb) -> None:
    for by in range(1, 13):
        counters.increment(ddb, "b", by)
    assert counters.visits(ddb, "b", page_size=5) == list(range(1, 13))


def test_reset_is_conditional(ddb) -> None:
    counters.increment(ddb, "c", 3)
    assert not counters.reset(ddb, "c", expected=2)
    assert counters.reset(ddb, "c", expected=3)


def test_transfer_is_all_or_nothing(ddb) -> None:
    counters.increment(ddb, "d", 5)
    counters.transfer(ddb, "d", "e", 3)
    with pytest.raises(ClientError) as e:
        counters.transfer(ddb, "d", "e", 3)
    assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert counters.increment(ddb, "d", 0) == 2 and counters.increment(ddb, "e", 0) == 3
