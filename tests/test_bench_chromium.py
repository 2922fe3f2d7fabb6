"""report.html renders every chart in a real browser (headless Chromium), offline, without script errors.

Chromium is required: the test fails (never skips) when it is missing, so CI
notices.  It is looked for in ``STORESWAP_CHROMIUM`` and on ``PATH`` only —
``python3 dev.py test`` installs it when absent and passes its path in
``STORESWAP_CHROMIUM`` (tests/test_fresh_machine.py proves that with a
``PATH`` without it).  By hand: ``apt-get install -y chromium``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from storeswap.cli.bench import register

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)


def run_smoke(out: Path) -> None:
    """The smoke configuration of ``storeswap bench`` into ``out``."""
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Keep the sub-command name."""

    args = [
        "bench",
        "--store",
        "memory",
        "--workload",
        "A",
        "--records",
        "200",
        "--ops",
        "400",
        "--concurrency",
        "1,2",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output + repr(result.exception)


def chromium() -> str:
    configured = os.environ.get("STORESWAP_CHROMIUM")
    for candidate in (configured,) if configured else CANDIDATES:
        is_file = os.path.isabs(candidate) and os.path.isfile(candidate) and os.access(candidate, os.X_OK)
        found = candidate if is_file else shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "headless Chromium is needed to check report.html: install it (Debian/Ubuntu: "
        "`apt-get update && apt-get install -y chromium`) or set STORESWAP_CHROMIUM to its path",
        pytrace=False,
    )


def test_report_html_renders_every_chart_in_headless_chromium(tmp_path: Path) -> None:
    browser = chromium()
    out = tmp_path / "out"
    run_smoke(out)
    page = out / "report.html"
    profile = tmp_path / "profile"
    proc = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    body = re.search(r"<body([^>]*)>", proc.stdout)
    assert body is not None, proc.stdout[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert attrs.get("charts-expected") == "4", attrs
    assert attrs.get("charts-rendered") == attrs["charts-expected"], attrs
    assert "script-errors" not in attrs, attrs
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line or "CONSOLE(" in line]
    assert not console, console
