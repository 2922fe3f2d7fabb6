"""The contract suite's fixtures belong to the suite: the installed plugin adds options, markers and hooks only.

Each run is a subprocess in a temporary project with the ``pytest11`` plugin
loaded as an installed storeswap loads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE_FIXTURES = ("store", "table_factory", "table", "num_table", "bin_table", "hash_table", "gsi_table", "settle")


def _pytest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STORESWAP_STORES", None)
    plugin = [] if _entry_point_installed() else ["-p", "storeswap.contract_tests.plugin"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", *plugin, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _entry_point_installed() -> bool:
    from importlib.metadata import entry_points

    return any(e.value == "storeswap.contract_tests.plugin" for e in entry_points(group="pytest11"))


def test_another_project_gets_no_store_fixture(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_uses_store(store):\n    pass\n")
    run = _pytest(tmp_path, "-q")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "fixture 'store' not found" in run.stdout
    listed = _pytest(tmp_path, "--fixtures", "-q")
    assert listed.returncode == 0, listed.stdout[-3000:]
    names = {line.split()[0] for line in listed.stdout.splitlines() if line and not line.startswith((" ", "-", "="))}
    assert names.isdisjoint(SUITE_FIXTURES), sorted(names & set(SUITE_FIXTURES))
    # The plugin is there all the same: its options are.
    assert "--store-factory" in _pytest(tmp_path, "--help").stdout


def _planted_suite(tmp_path: Path, stores: str) -> Path:
    # A stand-in for the suite's directory: the plugin treats tests under CONTRACT_DIR as contract tests.
    (tmp_path / "conftest.py").write_text(
        "from pathlib import Path\n"
        "import storeswap.contract_tests.plugin as plugin\n"
        "plugin.CONTRACT_DIR = Path(__file__).resolve().parent\n"
    )
    (tmp_path / "test_gap.py").write_text(
        "import pytest\n"
        "from storeswap.contract_tests.markers import notyet\n\n"
        "@pytest.mark.req('K1')\n"
        f"@notyet({stores}, reason='planted', raises=AssertionError)\n"
        "@pytest.mark.parametrize('store_name', ['memory'])\n"
        "def test_planted(store_name):\n"
        "    assert False\n"
    )
    return tmp_path


def test_an_unknown_store_in_a_gap_marker_fails_collection(tmp_path: Path) -> None:
    run = _pytest(_planted_suite(tmp_path, "['memroy']"), "-q")
    assert run.returncode == 4, run.stdout[-3000:] + run.stderr[-2000:]  # pytest.ExitCode.USAGE_ERROR
    assert "gap markers name unknown stores" in run.stderr and "'memroy'" in run.stderr


def test_a_known_store_in_a_gap_marker_is_a_strict_xfail(tmp_path: Path) -> None:
    run = _pytest(_planted_suite(tmp_path, "['memory']"), "-q")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 xfailed" in run.stdout
