"""The AWS CLI (``aws dynamodb ... --endpoint-url``) against the gateway."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storeswap.connect import open_store
from storeswap.gateway.server import GatewayServer


def _aws_command() -> list[str]:
    found = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    if not Path(found).exists():
        pytest.fail("the AWS CLI is not installed (pip install awscli; it is in the test extras)")
    return [found]


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("awshome")
    env = {
        **os.environ, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_PAGER": "",
    }
    command = _aws_command()
    with GatewayServer(open_store("memory://")) as g:
        def run(*args: str, ok: bool = True) -> Any:
            proc = subprocess.run([*command, "dynamodb", *args, "--endpoint-url", g.endpoint_url, "--output", "json"],
                                  env=env, capture_output=True, text=True, timeout=120)
            if ok:
                assert proc.returncode == 0, proc.stderr
                return json.loads(proc.stdout) if proc.stdout.strip() else {}
            return proc
        yield run


def test_create_put_query_scan(aws: Any) -> None:
    desc = aws("create-table", "--table-name", "cli_orders",
               "--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
               "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
               "--billing-mode", "PAY_PER_REQUEST")
    assert desc["TableDescription"]["TableStatus"] == "ACTIVE"
    aws("wait", "table-exists", "--table-name", "cli_orders")
    for i in range(5):
        aws("put-item", "--table-name", "cli_orders",
            "--item", json.dumps({"pk": {"S": "c1"}, "sk": {"N": str(i)}, "total": {"N": f"{i}.50"}}))
    q = aws("query", "--table-name", "cli_orders", "--key-condition-expression", "pk = :p AND sk >= :s",
            "--expression-attribute-values", json.dumps({":p": {"S": "c1"}, ":s": {"N": "2"}}))
    assert [i["sk"]["N"] for i in q["Items"]] == ["2", "3", "4"] and q["Items"][0]["total"] == {"N": "2.5"}
    # The CLI paginates by itself: --page-size forces several requests, each resumed from LastEvaluatedKey.
    s = aws("scan", "--table-name", "cli_orders", "--page-size", "2")
    assert s["Count"] == 5 and len(s["Items"]) == 5
    legacy = aws("scan", "--table-name", "cli_orders",
                 "--scan-filter", json.dumps({"sk": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "2"}]}}))
    assert sorted(i["sk"]["N"] for i in legacy["Items"]) == ["0", "1"]
    assert "cli_orders" in aws("list-tables")["TableNames"]


def test_errors_reach_the_cli_as_dynamodb_errors(aws: Any) -> None:
    proc = aws("get-item", "--table-name", "cli_missing", "--key", json.dumps({"pk": {"S": "a"}}), ok=False)
    assert proc.returncode != 0 and "ResourceNotFoundException" in proc.stderr
