"""Fixtures of the counter example: the same tests on every store named by the environment.

``STORESWAP_EXAMPLE_STORES`` (comma separated store URLs or names, e.g.
``memory,postgres,dynamodb``) runs every service test once per store; without
it the tests run on ``STORESWAP_URL`` (default ``memory://``), exactly as the
service itself is configured.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import counter_service


def _store_urls() -> list[str]:
    listed = [u.strip() for u in os.environ.get("STORESWAP_EXAMPLE_STORES", "").split(",") if u.strip()]
    return listed or [os.environ.get("STORESWAP_URL", "memory://")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "service_store_url" in metafunc.fixturenames:
        urls = _store_urls()
        metafunc.parametrize("service_store_url", urls, ids=[u.split("://")[0] for u in urls], scope="session")


@pytest.fixture
def service(service_store_url: str, monkeypatch: pytest.MonkeyPatch):
    """The service module configured, through its environment, for one store and a fresh table."""
    table = f"counters_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("STORESWAP_URL", service_store_url)
    monkeypatch.setenv("COUNTER_TABLE", table)
    yield counter_service
    repo = counter_service.repository()
    repo.store.delete_table(table)
    counter_service.close_repositories()
