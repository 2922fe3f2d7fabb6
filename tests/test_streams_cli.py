"""``storeswap changes``, ``ttl`` and ``expire`` on PostgreSQL (the CLI opens its own store per command)."""

from __future__ import annotations

import json
import uuid

import pytest

from storeswap.cli import main
from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def url() -> str:
    from storeswap.backends.postgres import provision

    return provision()


def test_changes_ttl_and_expire(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.connect import open_store

    name = f"cli-{uuid.uuid4().hex[:10]}"
    with open_store(url) as store:
        store.create_table(TableSpec(name, KeyAttribute("pk"), stream="NEW_AND_OLD_IMAGES"))
        store.put(name, {"pk": "a", "n": 1, "exp": 5})
        store.put(name, {"pk": "a", "n": 2, "exp": 5})
    try:
        assert main(["changes", "--store", url, "--table", name, "--json"]) == 0
        out, err = capsys.readouterr()
        records = [json.loads(line) for line in out.splitlines()]
        assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
        assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
        assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}
        assert records[0]["eventSource"] == "aws:dynamodb" and "userIdentity" not in records[0]
        position = err.strip().rsplit("position: ", 1)[1]

        assert main(["ttl", "--store", url, "--table", name, "--attribute", "exp"]) == 0
        assert main(["expire", "--store", url, "--table", name, "--now", "100"]) == 0
        out, _ = capsys.readouterr()
        assert "removed 1 expired item from" in out

        assert main(["changes", "--store", url, "--table", name, "--from", position, "--json"]) == 0
        out, _ = capsys.readouterr()
        (remove,) = [json.loads(line) for line in out.splitlines()]
        assert remove["eventName"] == "REMOVE"
        assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

        assert main(["changes", "--store", url, "--table", name, "--from", "not-a-position"]) == 2
        assert main(["ttl", "--store", url, "--table", name]) == 2  # neither --attribute nor --disable
    finally:
        with open_store(url) as store:
            store.delete_table(name)
