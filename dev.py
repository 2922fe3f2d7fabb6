#!/usr/bin/env python3
"""Bootstrap for a fresh machine with only Python >= 3.11: the README's two commands.

    python3 dev.py evaluate   # the main job, end to end, on embedded servers
    python3 dev.py test       # every test, across every backend (tox)

It creates ``.venv`` beside this file (once), installs storeswap with its
extras into it, and runs the command there.  Extra arguments are passed on:
``python3 dev.py test -e postgres`` runs one tox env; ``python3 dev.py
evaluate --out DIR`` writes the report elsewhere.
"""

from __future__ import annotations

import os
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


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("evaluate", "test", "shell"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv("dev")
    if command == "evaluate":
        return subprocess.call([str(BIN / "storeswap"), "evaluate", *rest], cwd=ROOT)
    if command == "test":
        return subprocess.call([str(BIN / "tox"), *rest], cwd=ROOT)
    print(f"the virtual environment is {VENV}; activate it with: . {BIN / 'activate'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
