"""The counter service's own tests: unchanged on memory, PostgreSQL and DynamoDB (see conftest)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest


def call(service, body, *, proxy=True):
    event = {"body": json.dumps(body)} if proxy else body
    response = service.handler(event, None)
    return response["statusCode"], json.loads(response["body"])


def test_a_call_without_an_id_creates_a_counter_and_increments_it(service):
    status, body = call(service, {})
    assert status == 200 and body["value"] == 1
    counter = service.repository().get(service.Counter, id=uuid.UUID(body["id"]), consistent=True)
    assert counter == service.Counter(uuid.UUID(body["id"]), value=1, version=2)


def test_a_call_with_an_id_increments_that_counter(service):
    _, first = call(service, {})
    status, body = call(service, {"id": first["id"], "by": 5}, proxy=False)
    assert status == 200 and body == {"id": first["id"], "value": 6}
    _, other = call(service, {})
    assert other["id"] != first["id"] and other["value"] == 1


def test_an_unknown_counter_is_404_and_is_not_created(service):
    missing = str(uuid.uuid4())
    status, body = call(service, {"id": missing})
    assert status == 404 and missing in body["error"]
    assert service.repository().get(service.Counter, id=uuid.UUID(missing), consistent=True) is None


@pytest.mark.parametrize("body", [{"id": "not-a-uuid"}, {"by": "2"}, {"by": 1.5}, {"by": True}])
def test_bad_requests_are_400_and_write_nothing(service, body):
    status, _ = call(service, body)
    assert status == 400
    repo = service.repository()
    assert list(repo.store.scan_all(repo.table)) == []


def test_concurrent_increments_are_never_lost(service):
    _, created = call(service, {})
    errors = []

    def run():
        try:
            for _ in range(10):
                assert call(service, {"id": created["id"]})[0] == 200
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert call(service, {"id": created["id"], "by": 0})[1]["value"] == 81


def test_the_table_comes_from_the_environment(service, monkeypatch):
    _, here = call(service, {})
    repo_here = service.repository()
    monkeypatch.setenv("COUNTER_TABLE", repo_here.table + "_b")
    try:
        assert call(service, {"id": here["id"]})[0] == 404
        assert service.repository().table == repo_here.table + "_b"
    finally:
        service.repository().store.delete_table(repo_here.table + "_b")
        monkeypatch.setenv("COUNTER_TABLE", repo_here.table)
