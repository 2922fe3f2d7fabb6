"""``python3 dev.py test`` bootstraps headless Chromium: found on PATH, else installed by the package manager."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("storeswap_dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_chromium_on_path_is_used_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _dev()
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    monkeypatch.delenv("STORESWAP_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dev.subprocess, "run", lambda *a, **k: pytest.fail("nothing to install"))
    assert dev.ensure_chromium() == str(browser)


def _fake_apt(dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installs: tuple[str, ...]) -> tuple[Path, list[list[str]]]:
    """A root user with only ``apt-get`` on PATH, whose install puts ``installs`` into a system bin dir.

    Returns that directory and the list of commands run.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text("#!/bin/sh\n")
    apt.chmod(0o755)
    system = tmp_path / "system"
    system.mkdir()
    for tool in dev.TOOLS:
        monkeypatch.delenv(tool.env, raising=False)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(dev, "SYSTEM_BIN_DIRS", (str(system),))
    monkeypatch.setattr(dev.os, "geteuid", lambda: 0)
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(cmd)
        if cmd[:2] == ["apt-get", "install"]:
            for name in installs:
                (system / name).write_text("#!/bin/sh\n")
                (system / name).chmod(0o755)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(dev.subprocess, "run", run)
    return system, calls


def test_without_chromium_the_package_manager_installs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _dev()
    system, calls = _fake_apt(dev, tmp_path, monkeypatch, ("chromium",))
    assert dev.ensure_chromium() == str(system / "chromium")
    assert calls == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]]


def test_where_nothing_can_install_it_test_stops_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _dev()
    monkeypatch.delenv("STORESWAP_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dev, "SYSTEM_BIN_DIRS", (str(tmp_path),))
    monkeypatch.setattr(dev.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit, match=r"could not be installed \(not root and no sudo\): install it"):
        dev.ensure_chromium()


def test_test_installs_every_missing_tool_in_one_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _dev()
    system, calls = _fake_apt(dev, tmp_path, monkeypatch, ("chromium", "wrk"))
    assert dev.ensure_tools() == {"STORESWAP_CHROMIUM": str(system / "chromium"), "STORESWAP_WRK": str(system / "wrk")}
    assert calls == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "wrk"]]


def test_a_tool_that_cannot_be_installed_stops_test_with_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = _dev()
    browser = tmp_path / "chromium"
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    for tool in dev.TOOLS:
        monkeypatch.delenv(tool.env, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(dev, "SYSTEM_BIN_DIRS", (str(tmp_path),))
    monkeypatch.setattr(dev.os, "geteuid", lambda: 1000)
    with pytest.raises(SystemExit, match=r"wrk is needed by the tests .* \(not root and no sudo\): .*apt-get install -y wrk"):
        dev.ensure_tools()
