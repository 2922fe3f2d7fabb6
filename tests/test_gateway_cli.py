"""``storeswap serve``: starts, serves, warns when reachable from outside without --auth, refuses bad auth options."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from storeswap.backends.dynamodb import free_port, wait_for_http
from storeswap.cli import main
from storeswap.gateway.server import is_loopback

ROOT = Path(__file__).resolve().parents[1]


def _serve(*args: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "storeswap.cli", "serve", "--store", "memory", "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return proc, port


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def test_serve_on_loopback_answers_without_a_warning() -> None:
    proc, port = _serve()
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/").read().startswith(b"healthy")
    finally:
        err = _stop(proc)
    assert "DynamoDB API on http://127.0.0.1" in err and "warning" not in err
    # SIGTERM ends serve() normally (exit 0), so atexit clean-up (an embedded PostgreSQL) runs.
    assert proc.returncode == 0, err


def test_binding_beyond_loopback_without_auth_warns() -> None:
    proc, port = _serve("--host", "0.0.0.0")
    try:
        wait_for_http("127.0.0.1", port, 60, proc)  # type: ignore[arg-type]
    finally:
        err = _stop(proc)
    assert "warning: the gateway listens on 0.0.0.0" in err and "--auth sigv4" in err


def test_bad_auth_options_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--store", "memory", "--auth", "sigv4"]) == 2
    assert "needs --credentials" in capsys.readouterr().err
    assert main(["serve", "--store", "memory", "--auth", "basic"]) == 2
    assert "--auth is none or sigv4" in capsys.readouterr().err
    assert main(["serve", "--store", "memory", "--workers", "2"]) == 2
    assert "outside the process" in capsys.readouterr().err


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.com")
