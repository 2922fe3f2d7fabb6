"""``storeswap evaluate --quick`` end to end on the default embedded servers (moto, embedded PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_evaluate_quick_on_embedded_servers_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {k: v for k, v in os.environ.items() if k not in ("STORESWAP_POSTGRES_URL", "STORESWAP_DYNAMODB_URL")}
    proc = subprocess.run(
        [sys.executable, "-m", "storeswap.cli", "evaluate", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert f"report: {out.resolve() / 'index.html'}" in proc.stdout, proc.stderr[-3000:]
    for name in ("index.html", "report.md", "results.json"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text(encoding="utf-8")
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    verdict = doc["verdict"]
    # The exit code follows the verdict: 0 SAFE, 1 NOT SAFE, 3 UNKNOWN.
    assert proc.returncode == {"SAFE": 0, "NOT SAFE": 1, "UNKNOWN": 3}[verdict["status"]], proc.stderr[-3000:]
    assert verdict["status"] != "UNKNOWN", verdict["unknown"]
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
