"""A real ``storeswap migrate`` process killed with SIGKILL at a random point, resumed, then verified.

The stores must outlive the killed process, so they are servers provisioned
by this test process (``storeswap.backends``): PostgreSQL to PostgreSQL and
DynamoDB (moto or DynamoDB Local) to PostgreSQL.

The kill point is drawn from a seed fixed per pair (:func:`_default_seed`), named in every assertion message;
``STORESWAP_CRASH_SEED=N`` draws another.  The kill waits for that many items to be checkpointed (polled from
the state file), however long the process takes to start.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import pytest

from storeswap.migrate.sample import bulk_items

ITEMS = 50_000
#: moto serves ~2k writes/s on this machine, so the DynamoDB pair copies fewer items; the 50k proof is PostgreSQL's.
DYNAMODB_ITEMS = 10_000
pytestmark = pytest.mark.slow


def _url(kind: str) -> str:
    import importlib

    backend = importlib.import_module(f"storeswap.backends.{kind}")
    return str(backend.provision())


def _default_seed(pair: tuple[str, str]) -> int:
    """The seed of a pair when ``STORESWAP_CRASH_SEED`` is unset: fixed, so every run kills at the same point."""
    return zlib.crc32(f"migrate-crash {pair[0]}->{pair[1]}".encode()) % 100_000


def _written(state: Path) -> int:
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):
        return 0  # not written yet (the file is replaced atomically, so never torn)
    return sum(s["count"] for s in data["segments"].values())


@pytest.mark.parametrize(
    ("pair", "items"),
    [(("postgres", "postgres"), ITEMS), (("dynamodb", "postgres"), DYNAMODB_ITEMS)],
    ids=["postgres->postgres", "dynamodb->postgres"],
)
def test_killed_migration_resumes_to_an_identical_table(pair: tuple[str, str], items: int, tmp_path: Path) -> None:
    from storeswap import KeyAttribute, TableSpec, open_store

    seed = int(os.environ.get("STORESWAP_CRASH_SEED", _default_seed(pair)))
    rerun = f"[seed {seed}: STORESWAP_CRASH_SEED={seed} reruns it]"
    print(f"\n{pair[0]}->{pair[1]}: {rerun}")
    rng = random.Random(seed)
    source_url, target_url = _url(pair[0]), _url(pair[1])
    table = f"crash_src_{uuid.uuid4().hex[:8]}"
    target_table = f"crash_dst_{uuid.uuid4().hex[:8]}"
    with open_store(source_url) as source:
        source.create_table(TableSpec(table, KeyAttribute("pk"), KeyAttribute("sk")))
        chunk: list[dict[str, object]] = []
        for item in bulk_items(items, size=120, partitions=5000):
            chunk.append(item)
            if len(chunk) == 5000:
                source.bulk_put(table, chunk)
                chunk = []
    state = tmp_path / "state.json"
    cmd = [
        sys.executable,
        "-m",
        "storeswap.cli",
        "migrate",
        "--source",
        source_url,
        "--target",
        target_url,
        "--table",
        table,
        "--target-table",
        target_table,
        "--state",
        str(state),
        "--segments",
        "4",
        "--batch",
        "250",
    ]
    kill_at = rng.randint(items // 20, items * 3 // 4)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while _written(state) < kill_at:
        assert proc.poll() is None, f"migrate ended before the kill at {kill_at} {rerun}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"migrate did not reach {kill_at} items in 600 s {rerun}"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"{proc.returncode} {rerun}"
    before = _written(state)
    print(f"{pair[0]}->{pair[1]}: killed at {before} of {items} items checkpointed (aimed at {kill_at})")
    assert before < items, f"killed too late to prove anything {rerun}"

    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, f"{resumed.stderr} {rerun}"
    assert "resuming from" in resumed.stderr, f"{resumed.stderr} {rerun}"
    # Every item counted once: no page checkpointed twice.
    assert _written(state) == items, f"{_written(state)} items counted after killing at {before} {rerun}"

    verify = subprocess.run(
        [
            sys.executable,
            "-m",
            "storeswap.cli",
            "verify",
            "--source",
            source_url,
            "--target",
            target_url,
            "--table",
            table,
            "--target-table",
            target_table,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr + rerun
    report = json.loads(verify.stdout)
    assert report["identical"] and report["source_items"] == report["target_items"] == items, f"{report} {rerun}"
    with open_store(source_url) as s:
        s.delete_table(table)
    with open_store(target_url) as t:
        t.delete_table(target_table)
