"""Provisioning a DynamoDB endpoint: env URL, a (mocked) Docker container, a real moto server."""

from __future__ import annotations

import logging
import sys
import types
from typing import Any
from unittest import mock

import pytest

from storeswap.backends import dynamodb as backend


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test provisions from scratch (the module memoises per process)."""
    monkeypatch.setattr(backend, "_url", None)
    monkeypatch.delenv(backend.ENV_URL, raising=False)


def _info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "storeswap.backends" and r.levelno == logging.INFO]


def test_env_url_wins(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(backend.ENV_URL, "dynamodb://db.example:8000")
    docker = mock.Mock(return_value=True)
    monkeypatch.setattr(backend, "docker_engine_answers", docker)
    with caplog.at_level(logging.INFO, logger="storeswap.backends"):
        assert backend.provision() == "dynamodb://db.example:8000"
        assert backend.provision() == "dynamodb://db.example:8000"
    docker.assert_not_called()
    assert len(_info_lines(caplog)) == 1
    assert backend.ENV_URL in _info_lines(caplog)[0]


class _FakeContainer:
    instances: list[_FakeContainer] = []

    def __init__(self, image: str) -> None:
        self.image = image
        self.ports: tuple[Any, ...] = ()
        self.command: Any = None
        self.started = False
        self.stopped = False
        _FakeContainer.instances.append(self)

    def with_exposed_ports(self, *ports: Any) -> _FakeContainer:
        self.ports = ports
        return self

    def with_command(self, command: Any) -> _FakeContainer:
        self.command = command
        return self

    def start(self) -> _FakeContainer:
        self.started = True
        return self

    def stop(self) -> None:
        self.stopped = True

    def get_container_host_ip(self) -> str:
        return "docker.host"

    def get_exposed_port(self, port: int) -> str:
        assert port == 8000
        return "49153"


def test_docker_path_starts_dynamodb_local(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _FakeContainer.instances.clear()
    fake_module = types.ModuleType("testcontainers.core.container")
    fake_module.DockerContainer = _FakeContainer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "testcontainers.core.container", fake_module)
    monkeypatch.setattr(backend, "docker_engine_answers", lambda: True)
    waited: list[tuple[str, int]] = []
    monkeypatch.setattr(backend, "wait_for_http", lambda host, port, timeout, proc=None: waited.append((host, port)))
    stops: list[Any] = []
    monkeypatch.setattr(backend, "stop_at_exit", lambda stop, what: stops.append(stop))
    moto = mock.Mock()
    monkeypatch.setattr(backend, "start_moto", moto)

    with caplog.at_level(logging.INFO, logger="storeswap.backends"):
        url = backend.provision()
        assert backend.provision() == url  # memoised: one container, one log line

    assert url == "dynamodb://docker.host:49153"
    (container,) = _FakeContainer.instances
    assert container.image == backend.IMAGE and container.image.startswith("amazon/dynamodb-local:")
    assert container.ports == (8000,)
    assert container.started and "-sharedDb" in container.command
    assert waited == [("docker.host", 49153)]
    moto.assert_not_called()
    # stopped at exit
    assert len(stops) == 1
    stops[0]()
    assert container.stopped
    lines = _info_lines(caplog)
    assert len(lines) == 1 and "container" in lines[0] and "dynamodb-local" in lines[0]


def test_image_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORESWAP_DYNAMODB_IMAGE", "amazon/dynamodb-local:latest")
    assert backend._image() == "amazon/dynamodb-local:latest"


@pytest.mark.slow
def test_moto_fallback_really_starts(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("moto")
    monkeypatch.setattr(backend, "docker_engine_answers", lambda: False)
    stops: list[Any] = []
    monkeypatch.setattr(backend, "stop_at_exit", lambda stop, what: stops.append(stop))
    with caplog.at_level(logging.INFO, logger="storeswap.backends"):
        url = backend.provision()
        assert backend.provision() == url
    lines = _info_lines(caplog)
    assert len(lines) == 1 and "moto" in lines[0]
    assert url.startswith("dynamodb://127.0.0.1:")

    from storeswap import KeyAttribute, TableSpec, open_store

    store = open_store(url)
    try:
        store.create_table(TableSpec("backend_probe", KeyAttribute("pk")))
        store.put("backend_probe", {"pk": "a", "v": 1})
        assert store.get("backend_probe", {"pk": "a"}) == {"pk": "a", "v": 1}
    finally:
        store.close()
    # the registered stop really stops the child
    assert len(stops) == 1
    stops[0]()
    port = int(url.rsplit(":", 1)[1])
    assert not backend._answers("127.0.0.1", port)


def test_open_store_bare_name_uses_provision(monkeypatch: pytest.MonkeyPatch) -> None:
    from storeswap import open_store

    monkeypatch.setattr(backend, "_url", "dynamodb://127.0.0.1:9")
    store = open_store("dynamodb")
    assert store.kind == "dynamodb"
    assert repr(store) == "DynamoStore('dynamodb://127.0.0.1:9')"
    store.close()
