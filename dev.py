#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python >= 3.11: the README's two commands.

    python3 dev.py evaluate   # the main job, end to end, on embedded servers
    python3 dev.py test       # every test, across every backend (tox)

It creates ``.venv`` beside this file (once), installs storeswap with its
extras into it, and runs the command there.  Extra arguments are passed on:
``python3 dev.py test -e postgres`` runs one tox env; ``python3 dev.py
evaluate --out DIR`` writes the report elsewhere.

``test`` also bootstraps what the tests need beyond Python packages (:data:`TOOLS`):
headless Chromium, which the bench tests open the report in, and wrk, the
gateway bench's compiled HTTP load client.  When one is not on ``PATH`` (or
named by its variable, ``STORESWAP_CHROMIUM`` / ``STORESWAP_WRK``), it is
installed with the system package manager where that is possible (apt-get,
dnf or apk, as root or through ``sudo -n``), as ``.ci/run`` does; the binary
found is handed to the tests in that variable.  Where one cannot be
installed, ``test`` stops at once with one line saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("STORESWAP_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".storeswap-installed"


def _run(*args: str | os.PathLike[str]) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT)


def ensure_venv(extras: str) -> None:
    """Create the virtual environment and install storeswap[extras] into it, unless already done."""
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = f"{extras}\n{(ROOT / 'pyproject.toml').stat().st_mtime_ns}"
    if STAMP.exists() and STAMP.read_text() == stamp:
        return
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    STAMP.write_text(stamp)


#: Names of a Chromium (or Chrome) binary, and where system packages put one.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SYSTEM_BIN_DIRS = ("/usr/bin", "/usr/local/bin", "/snap/bin", "/opt/homebrew/bin")
#: Package managers dev.py can install with, in the order tried.
MANAGERS = ("apt-get", "dnf", "apk")


class Tool:
    """A program the tests need beyond Python packages: how to find it, and its package's name."""

    def __init__(self, label: str, names: tuple[str, ...], env: str, package: str, why: str) -> None:
        self.label, self.names, self.env, self.package, self.why = label, names, env, package, why

    def find(self, path: str | None = None) -> str | None:
        configured = os.environ.get(self.env)
        if configured and os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured
        for name in self.names:
            found = shutil.which(name, path=path)
            if found:
                return found
        return None


CHROMIUM = Tool("headless Chromium", CHROMIUM_NAMES, "STORESWAP_CHROMIUM", "chromium",
                "the bench tests open the report in it")
WRK = Tool("wrk", ("wrk",), "STORESWAP_WRK", "wrk", "the gateway bench's compiled HTTP load client")
#: What ``test`` bootstraps, handed to the tests in each tool's environment variable.
TOOLS = (CHROMIUM, WRK)


def _install_commands(manager: str, packages: tuple[str, ...]) -> list[list[str]]:
    if manager == "apt-get":
        return [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]]
    if manager == "dnf":
        return [["dnf", "install", "-y", "-q", *packages]]
    return [["apk", "add", "--quiet", *packages]]


def _install(tools: tuple[Tool, ...]) -> str | None:
    """Install ``tools`` with the system package manager, in one go; returns why not when that was impossible."""
    prefix: list[str] = []
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root and no sudo"
        prefix = ["sudo", "-n"]
    for manager in MANAGERS:
        if shutil.which(manager) is None:
            continue
        for tool in tools:
            print(f"installing {tool.label} with {manager} ({tool.why})", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in _install_commands(manager, tuple(t.package for t in tools)):
            done = subprocess.run([*prefix, *cmd], env=env, stdout=subprocess.DEVNULL, check=False)
            if done.returncode != 0:
                return f"`{' '.join(cmd)}` failed with exit code {done.returncode}"
        return None
    return "no known package manager (apt-get, dnf, apk)"


def ensure_tools(tools: tuple[Tool, ...] = TOOLS) -> dict[str, str]:
    """Each tool's path by its environment variable, installing the missing ones first; exits with one line when impossible."""
    found = {t.env: t.find() for t in tools}
    missing = tuple(t for t in tools if found[t.env] is None)
    if missing:
        why = _install(missing)
        for t in missing:
            found[t.env] = t.find() or t.find(os.pathsep.join(SYSTEM_BIN_DIRS))
        for t in missing:
            if found[t.env] is None:
                sys.exit(
                    f"error: {t.label} is needed by the tests ({t.why}) and could not be installed"
                    + (f" ({why})" if why else "")
                    + f": install it (Debian/Ubuntu: `apt-get install -y {t.package}`) or set {t.env} to its path"
                )
    return {k: v for k, v in found.items() if v is not None}


def ensure_chromium() -> str:
    """The path of a headless Chromium, installed first when none is on PATH; exits with one line when impossible."""
    return ensure_tools((CHROMIUM,))[CHROMIUM.env]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("evaluate", "test", "shell"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv("dev")
    if command == "evaluate":
        return subprocess.call([str(BIN / "storeswap"), "evaluate", *rest], cwd=ROOT)
    if command == "test":
        env = {**os.environ, **ensure_tools()}
        # tox builds its envs with uv (tox-uv): trust the machine's certificate store as pip does, not only uv's
        # bundled roots (a network that inspects TLS has its own CA there, and pip's `cert` setting names it).
        env.setdefault("UV_SYSTEM_CERTS", "1")
        return subprocess.call([str(BIN / "tox"), *rest], cwd=ROOT, env=env)
    print(f"the virtual environment is {VENV}; activate it with: . {BIN / 'activate'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
