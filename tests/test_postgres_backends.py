"""storeswap.backends.postgres.provision: env URL, then a Docker container, then the embedded server."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from storeswap.backends import _common
from storeswap.backends import postgres as backend


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_url", None)
    monkeypatch.delenv(backend.ENV_VAR, raising=False)
    stops: list[Any] = []
    monkeypatch.setattr(backend, "stop_at_exit", lambda fn, what: stops.append((fn, what)))
    backend._test_stops = stops  # type: ignore[attr-defined]


def _infos(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "storeswap.backends" and r.levelno == logging.INFO]


def test_env_url_wins_and_is_memoised(monkeypatch, caplog) -> None:
    monkeypatch.setenv(backend.ENV_VAR, "postgresql://u:secret@db:5432/x")
    monkeypatch.setattr(backend, "docker_engine_answers", lambda: pytest.fail("must not probe Docker"))
    with caplog.at_level(logging.INFO, logger="storeswap.backends"):
        assert backend.provision() == "postgresql://u:secret@db:5432/x"
        assert backend.provision() == "postgresql://u:secret@db:5432/x"
    lines = _infos(caplog)
    assert len(lines) == 1 and backend.ENV_VAR in lines[0] and "secret" not in lines[0]


class FakeContainer:
    started: list[FakeContainer] = []

    def __init__(self, image: str, driver: Any = "psycopg2") -> None:
        self.image, self.driver, self.stopped = image, driver, False

    def start(self) -> FakeContainer:
        FakeContainer.started.append(self)
        return self

    def get_connection_url(self) -> str:
        return "postgresql://test:test@localhost:32768/test"

    def stop(self) -> None:
        self.stopped = True


def test_docker_path_starts_a_container(monkeypatch, caplog) -> None:
    FakeContainer.started.clear()
    monkeypatch.setattr(backend, "docker_engine_answers", lambda: True)
    monkeypatch.setattr(backend, "_container_class", lambda: FakeContainer)
    monkeypatch.setattr(backend, "_embedded_module", lambda: pytest.fail("must not start embedded"))
    with caplog.at_level(logging.INFO, logger="storeswap.backends"):
        url = backend.provision()
        assert backend.provision() == url
    assert url == "postgresql://test:test@localhost:32768/test"
    assert len(FakeContainer.started) == 1
    c = FakeContainer.started[0]
    assert c.image == backend.CONTAINER_IMAGE and c.driver is None
    lines = _infos(caplog)
    assert len(lines) == 1 and "testcontainers" in lines[0] and "test:test" not in lines[0]
    ((stop, _),) = backend._test_stops  # type: ignore[attr-defined]
    stop()
    assert c.stopped


def test_embedded_path_when_docker_does_not_answer(monkeypatch, caplog, tmp_path) -> None:
    class Server:
        cleaned = False

        def get_uri(self) -> str:
            return "postgresql://postgres:@/postgres?host=/tmp/sock"

        def cleanup(self) -> None:
            Server.cleaned = True

    class Module:
        @staticmethod
        def get_server(pgdata: Any, cleanup_mode: str = "stop") -> Server:
            assert cleanup_mode == "delete"
            return Server()

    monkeypatch.setattr(backend, "docker_engine_answers", lambda: False)
    monkeypatch.setattr(backend, "_container_class", lambda: pytest.fail("must not start a container"))
    monkeypatch.setattr(backend, "_embedded_module", lambda: Module)
    with caplog.at_level(logging.INFO, logger="storeswap.backends"):
        assert backend.provision() == "postgresql://postgres:@/postgres?host=/tmp/sock"
    lines = _infos(caplog)
    assert len(lines) == 1 and "embedded" in lines[0]
    ((stop, _),) = backend._test_stops  # type: ignore[attr-defined]
    stop()
    assert Server.cleaned


def test_docker_probe_is_quick_and_false_without_an_engine(monkeypatch) -> None:
    import time

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    t = time.monotonic()
    assert _common.docker_engine_answers(timeout=1.0) is False
    assert time.monotonic() - t < 5


def test_docker_probe_uses_the_sdk_ping(monkeypatch) -> None:
    import docker

    class Client:
        def ping(self) -> bool:
            return True

        def close(self) -> None:
            pass

    monkeypatch.setattr(docker, "from_env", lambda timeout: Client())
    assert _common.docker_engine_answers() is True


def test_open_store_postgres_uses_provision(monkeypatch) -> None:
    import storeswap.adapters.postgres as pg_adapter
    from storeswap import open_store

    seen: list[str] = []
    monkeypatch.setattr(backend, "provision", lambda: "postgresql://a@b/c")
    monkeypatch.setattr(pg_adapter, "PostgresStore", lambda url: seen.append(url) or "store")
    assert open_store("postgres") == "store"
    assert seen == ["postgresql://a@b/c"]
