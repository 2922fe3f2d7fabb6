"""Running everything once and writing the figures: the fault table, load figures, fuzz counts.

The README's "Reliability" section is the output of :func:`render_section`
between ``<!-- reliability:start -->`` and ``<!-- reliability:end -->``,
written by ``python -m storeswap.faults --write README.md``; nobody types it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from attrs import define, field

from storeswap import settings
from storeswap.faults.load import LoadResult, run_load
from storeswap.faults.scenarios import FaultRow, scenarios

__all__ = ["Results", "run_all", "render_section", "write_outputs", "write_readme", "START", "END"]

START = "<!-- reliability:start -->"
END = "<!-- reliability:end -->"


@define
class Results:
    """One run's fault rows, load results and hostile-input counts."""

    rows: list[FaultRow] = field(factory=list)
    load: list[LoadResult] = field(factory=list)
    fuzz: dict[str, Any] = field(factory=dict)
    started: str = ""
    seconds: float = 0.0
    quick: bool = False

    @property
    def clean(self) -> bool:
        """No row lost or duplicated anything and every load history checked clean."""
        return (
            all(r.ok for r in self.rows)
            and all(x.anomalies.clean and x.escaped == 0 for x in self.load)
            and (self.fuzz.get("unexpected", 0) == 0)
        )


def _fuzz(examples: int) -> dict[str, Any]:
    """The hostile-expression cases plus ``examples`` random expressions, through compile_expressions."""
    import random

    from storeswap.core.errors import StoreError
    from storeswap.core.expressions import compile_expressions

    rng = random.Random(12)
    alphabet = [*"()(),.[]=<>:#+- _ab0", "NOT ", " OR ", " AND ", "size(", "if_not_exists("]
    cases = [
        "(" * 300 + "a = :v" + ")" * 300,
        "NOT " * 1000 + "a = :v",
        " OR ".join(["a"] * 1000),
        " OR ".join(["a = :v"] * 1000),
    ]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 2000))) for _ in range(examples)]
    storeswap_errors = unexpected = 0
    for text in cases:
        for where in ("condition", "update", "projection"):
            try:
                compile_expressions(**{where: text}, values={":v": 1})
            except StoreError:
                storeswap_errors += 1
            except Exception:  # counted: the run fails on any
                unexpected += 1
    return {
        "expressions": len(cases),
        "calls": 3 * len(cases),
        "storeswap_errors": storeswap_errors,
        "unexpected": unexpected,
    }


def run_all(*, quick: bool, only: list[str], faults: bool, load: bool, seconds: float, workers: int) -> Results:
    """Run the selected scenarios and load runs once."""
    from storeswap.backends.postgres import provision

    started = time.monotonic()
    results = Results(started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), quick=quick)
    results.fuzz = _fuzz(200 if quick else 2000)
    if faults:
        for name, run in scenarios(quick):
            if only and name not in only:
                continue
            results.rows.append(run())
    if load:
        url = provision()
        for processes in (False, True):
            r = run_load(url, workers=workers, seconds=seconds, processes=processes)
            print(
                f"[load] {r.workers} {r.mode}, {r.seconds:.1f} s: {r.ops_per_second:.0f} ops/s, "
                f"{r.conflicts_per_second:.0f} conflicts/s; history: {r.anomalies.summary()}",
                flush=True,
            )
            results.load.append(r)
    results.seconds = time.monotonic() - started
    return results


def render_section(results: Results) -> str:
    """The Markdown of the README's Reliability section for one run."""
    lines = [
        START,
        f"Figures from one run of `python -m storeswap.faults{' --quick' if results.quick else ''} --write README.md`"
        f" ({results.started}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{results.seconds:.0f} s; timings on a shared, loaded machine are noisy).",
        "",
        "| fault | injected | operations attempted | succeeded | retried | reported unknown | failed (definite) "
        "| lost | duplicated |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.rows:
        mark = "" if r.ok else " ❌ " + "; ".join(r.anomalies[:3])
        lines.append(
            f"| {r.fault}{mark} | {r.injected} | {r.attempted} | {r.succeeded} | {r.retried} | {r.unknown} | "
            f"{r.failed} | {r.lost} | {r.duplicated} |"
        )
    if results.load:
        lines += [
            "",
            "Load on PostgreSQL (conditional increments on 4 hot counters and transfers between 8 accounts; "
            "the history of every invocation and result is checked):",
            "",
            "| workers | seconds | operations | ops/s | conflicts/s | acknowledged | unknown | history check |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for x in results.load:
            verdict = "clean" if x.anomalies.clean and not x.escaped else "❌ " + x.anomalies.summary()
            lines.append(
                f"| {x.workers} {x.mode} | {x.seconds:.0f} | {x.ops} | {x.ops_per_second:.0f} | "
                f"{x.conflicts_per_second:.0f} | {x.acknowledged} | {x.unknown} | {verdict} |"
            )
    f = results.fuzz
    if f:
        lines += [
            "",
            f"Hostile expressions: {f['expressions']} expressions ({f['calls']} compile calls: the 300-parenthesis, "
            f"1000-NOT and 1000-OR cases and random grammar soup) gave {f['storeswap_errors']} storeswap errors and "
            f"{f['unexpected']} other exceptions. The hypothesis suite `tests/test_expression_fuzz.py` runs "
            f"{settings.get(settings.FUZZ_EXAMPLES, {'STORESWAP_FUZZ_EXAMPLES': '300', **os.environ})} examples per test on memory and PostgreSQL in CI.",
        ]
    lines.append(END)
    return "\n".join(lines)


def write_outputs(results: Results, out: str | Path) -> Path:
    """Write ``results.json`` and ``reliability.md`` into ``out``; return the directory."""
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    payload = {
        "started": results.started,
        "seconds": round(results.seconds, 1),
        "quick": results.quick,
        "clean": results.clean,
        "faults": [r.to_json() for r in results.rows],
        "load": [x.to_json() for x in results.load],
        "fuzz": results.fuzz,
    }
    (path / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (path / "reliability.md").write_text(render_section(results) + "\n", encoding="utf-8")
    return path


def write_readme(readme: str | Path, results: Results) -> None:
    """Replace the text between the reliability markers of ``readme`` with this run's section."""
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no {START} ... {END} markers")
    path.write_text(text[:start] + render_section(results) + text[end + len(END) :], encoding="utf-8")
