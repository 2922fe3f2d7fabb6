"""The verdict: SAFE, NOT SAFE or UNKNOWN to move the table, and exactly why.

:func:`decide` is a pure function of the :class:`~storeswap.evaluate.document.Evaluation`.

The verdict is SAFE only when every part ran and passed on the target the
user named: the readiness check, the contract suite against that very
target, the copy, and verify of the spec, the base table and every index.

- A *reason* makes it NOT SAFE: a blocking finding of the readiness check; a
  contract test that failed on the target for a requirement the table relies
  on (:func:`storeswap.evaluate.profile.requirement_usage`), or a swap test
  that failed for the source → target pair; a copy that failed or did not
  complete; any difference verify found — spec (keys, indexes, TTL, stream),
  items, or index entries.
- A part that could not run (not reached, an error, pytest missing, the
  suite unable to reach the target) makes it UNKNOWN: "UNKNOWN — <part> did
  not run: <why>".  Never SAFE.
- Parts the user switched off (``--no-contract``, ``--no-bench``) are listed
  as "not checked" beside a SAFE.  The benchmark is not a safety part: when
  it fails or cannot run (an export source) that is a caveat.
- The team's own tests (``--app-tests``), when asked for: tests that pass
  on the source and fail on the target (or, with no source run, fail on the
  target) are a reason; a command that could not run or finish is UNKNOWN.
  Not asked for, they are no part of the verdict.
- ``--live``, when asked for: a live part that could not run (the source has
  no change stream and cannot be given one, an export source, a writer that
  wrote nothing, a cut-over check that did not run or answered ``unknown``)
  makes it UNKNOWN; a copy or replay under the writer that failed, a
  follower that did not catch up after the writes stopped, a no-go cut-over (each of its reasons), or any difference the
  check's verify found outside the in-flight items makes it NOT SAFE.  Not asked for, the live
  part is no part of the verdict.
- A *caveat* is printed beside the verdict but does not change it: warning
  findings, known gaps (strict xfails) on the target for used requirements,
  failures on the target for requirements the table does not use, failures on
  the source, the source unreachable for the suite, benchmark errors.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from storeswap.evaluate.document import Evaluation, Reason, Step, TableEvaluation, TestResult, Verdict
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.verify import VerifyReport

__all__ = ["Reason", "Verdict", "decide", "requirement_cells"]


def requirement_cells(tests: Sequence[TestResult], *, pairs: bool = True) -> dict[str, dict[str, dict[str, Any]]]:
    """``{requirement: {store: cell}}`` from a contract run's tests (without the swap tests unless ``pairs``).

    A swap test counts for both stores of its pair.
    A cell counts passed / failed / xfailed / skipped tests, keeps the failed
    tests' names and messages and the xfail reasons, and has a ``status``:
    ``fail`` when any test failed, else ``xfail`` when any was a known gap,
    else ``pass`` (``skip`` when everything was skipped).
    """
    cells: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for test in tests:
        if test.pair and not pairs:
            continue
        for req in test.requirements:
            for store in test.stores:
                cell = cells[req].setdefault(
                    store,
                    {"passed": 0, "failed": 0, "xfailed": 0, "skipped": 0, "failures": [], "gaps": []},
                )
                cell[test.outcome] += 1
                if test.outcome == "failed":
                    cell["failures"].append({"test": test.name, "message": test.message})
                elif test.outcome == "xfailed" and test.message not in cell["gaps"]:
                    cell["gaps"].append(test.message)
    for per_store in cells.values():
        for cell in per_store.values():
            cell["status"] = (
                "fail" if cell["failed"] else "xfail" if cell["xfailed"] else "pass" if cell["passed"] else "skip"
            )
    return dict(cells)


def _failed_tests(cell: dict[str, Any], limit: int = 3) -> str:
    shown = [f["test"] + (f" ({f['message'][:120]})" if f["message"] else "") for f in cell["failures"][:limit]]
    more = len(cell["failures"]) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


class _Lines:
    """The verdict's lines while they are collected."""

    def __init__(self) -> None:
        self.reasons: list[Reason] = []
        self.unknown: list[Reason] = []
        self.not_checked: list[str] = []
        self.caveats: list[Reason] = []

    def did_not_run(self, part: str, step: Step, table: str | None = None) -> None:
        self.unknown.append(Reason(part, f"{part} did not run: {step.reason}", table))


def _contract_lines(ev: Evaluation, out: _Lines) -> None:
    contract = ev.contract
    step = contract.step
    if step.status == "skipped" and step.by_user:
        out.not_checked.append(f"the contract suite ({step.reason})")
        return
    if step.status != "ok":
        out.did_not_run("contract suite", step)
        return
    roles = contract.roles
    target_name, source_name = roles.target, roles.source
    if target_name is None:
        out.did_not_run("contract suite", Step.error("the suite did not run against the target store"))
    if source_name is None:
        out.caveats.append(
            Reason("contract", contract.note or "the contract suite did not run against the source store")
        )
    used: dict[str, list[str]] = defaultdict(list)  # requirement -> tables relying on it
    for t in ev.tables:
        for req, why_not in t.requirements.items():
            if why_not is None:
                used[req].append(t.name)
    cells = requirement_cells(contract.tests)
    # A swap test that failed for a pair involving the source may be the target's fault: judge the
    # source by its own tests only.
    own_cells = requirement_cells(contract.tests, pairs=False)
    source_failures: list[str] = []
    for req, per_store in cells.items():
        title = contract.titles.get(req, "")
        label = f"requirement {req} ({title})" if title else f"requirement {req}"
        cell = per_store.get(target_name) if target_name else None
        if cell is not None and cell["status"] == "fail":
            text = (
                f"{label} fails on the target ({target_name}): {cell['failed']} test(s) failed — {_failed_tests(cell)}"
            )
            if used.get(req) or not ev.tables:
                out.reasons.append(Reason("contract", text))
            else:
                out.caveats.append(Reason("contract", text + " — not used by the evaluated table(s)"))
        elif cell is not None and cell["status"] == "xfail" and used.get(req):
            out.caveats.append(
                Reason("contract", f"{label}: known gap on the target ({target_name}): {'; '.join(cell['gaps'][:2])}")
            )
        src = own_cells.get(req, {}).get(source_name) if source_name and source_name != target_name else None
        if src is not None and src["status"] == "fail":
            source_failures.append(req)
    if source_failures:
        total = sum(1 for t in contract.tests if t.outcome == "failed" and not t.pair and source_name in t.stores)
        out.caveats.append(
            Reason(
                "contract",
                f"the source ({source_name}) fails {total} contract test(s) of its own, under "
                f"{', '.join(source_failures)}: the source adapter (or the emulator behind it) does not behave as "
                "documented there, so what the source shows for those requirements is less certain (see the matrix)",
            )
        )


def _key_text(key: dict[str, Any]) -> str:
    return json.dumps(marshal_item(key), ensure_ascii=True)


def _verify_lines(
    name: str, report: VerifyReport, out: _Lines, *, step: str = "verify", when: str = "after the copy"
) -> None:
    for diff in report.spec_differences:
        out.reasons.append(Reason(step, f"the target's table spec differs: {diff}", name))
    if report.differing_buckets or report.source_digest != report.target_digest:
        parts = []
        counts = [
            f"{n:,} {k}"
            for k, n in (("missing", report.missing), ("extra", report.extra), ("changed", report.changed))
            if n
        ]
        if counts:
            parts.append(", ".join(counts) + " item(s) on the target")
        if report.source_items != report.target_items:
            parts.append(f"{report.source_items:,} items on the source, {report.target_items:,} on the target")
        example = next((d for d in report.details if d.fields), None)
        if example is not None:
            f = example.fields[0]
            parts.append(f"e.g. item {_key_text(example.key)}: field {f.path!r} {f.kind}")
        elif report.details:
            d = report.details[0]
            parts.append(f"e.g. item {_key_text(d.key)} {d.kind}")
        out.reasons.append(Reason(step, f"source and target differ {when}: " + "; ".join(parts), name))
    for ix in report.indexes:
        if ix.identical:
            continue
        if ix.error is not None:
            out.reasons.append(Reason(step, f"index {ix.name} cannot be read back on the target: {ix.error}", name))
            continue
        counts = [
            f"{n:,} {k}"
            for k, n in (
                ("missing", ix.missing),
                ("extra", ix.extra),
                ("changed", ix.changed),
                ("out of order", ix.order),
            )
            if n
        ]
        text = (
            f"index {ix.name} reads back differently: {ix.source_entries:,} entries on the source, "
            f"{ix.target_entries:,} on the target; {ix.differing_partitions:,} partition(s) differ"
            + (f" ({', '.join(counts)})" if counts else "")
        )
        if ix.details:
            first = ix.details[0]
            text += f"; e.g. {first.kind} entry {_key_text(first.key)}"
        out.reasons.append(Reason(step, text, name))


def _live_lines(t: TableEvaluation, out: _Lines) -> None:
    """``--live``: a part that could not run is UNKNOWN; not caught up, a difference or a no-go cut-over NOT SAFE."""
    live = t.live
    if live is None:  # not asked for: not a part of this verdict
        return
    name = t.name
    if live.step.status == "error":  # the copy or the replay under the writer failed, as a failed copy is
        out.reasons.append(Reason("live", f"the live migration failed: {live.step.reason}", name))
        return
    if live.step.status != "ok":
        out.did_not_run("live migration", live.step, name)
        return
    writer = live.writer
    if writer is None or writer.writes == 0:
        why = (
            "no report" if writer is None else f"the writer made no write ({writer.first_error or 'none acknowledged'})"
        )
        out.did_not_run("live migration", Step.error(why + ": nothing was followed"), name)
    elif writer.errors:
        out.caveats.append(Reason("live", f"{writer.errors:,} write(s) of the background writer failed: "
                                          f"{writer.first_error}", name))  # fmt: skip
    if writer is not None and writer.writes and writer.achieved_rate < 0.8 * writer.rate:
        out.caveats.append(Reason("live", f"the writer reached {writer.achieved_rate:,.0f} of the {writer.rate:,.0f} "
                                          "writes/s asked for: the lag was measured under that lower rate", name))  # fmt: skip
    if live.sample_errors:
        out.caveats.append(Reason("live", f"{len(live.sample_errors):,} lag sample(s) could not be read (the lag "
                                  f"figures miss them): {live.sample_errors[0]}", name))  # fmt: skip
    if not live.caught_up:
        out.reasons.append(Reason("live", f"the follower did not catch up within {live.catch_up_timeout_s:g} s "
                                          "after the writes stopped", name))  # fmt: skip
    if live.cutover.status != "ok" or live.cutover_outcome is None:
        out.did_not_run("cut-over check", live.cutover if live.cutover.status != "ok" else Step.error("no outcome"),
                        name)  # fmt: skip
    elif live.cutover_outcome != "go":
        severity = out.reasons if live.cutover_outcome == "no-go" else out.unknown
        for reason in live.cutover_reasons or ["no reason given"]:
            severity.append(Reason("cut-over", f"{live.cutover_outcome}: {reason}", name))
    # The check's verify: with nothing in flight every difference is real, and is listed item by item.
    if live.verify_report is not None and not live.cutover_in_flight:
        _verify_lines(name, live.verify_report, out, step="live verify", when="after the follower caught up")
    elif live.verify.status != "ok" and live.cutover.status == "ok" and live.cutover_outcome == "go":
        out.did_not_run("live verify", live.verify, name)  # a go without a verify: never SAFE by omission


def _table_lines(t: TableEvaluation, out: _Lines) -> None:
    name = t.name
    if t.check.status != "ok" or t.check_report is None:
        out.did_not_run("readiness check", t.check if t.check.status != "ok" else Step.error("no report"), name)
    else:
        for f in t.check_report.findings:
            example = str(f.examples[0].get("detail", "")) if f.examples else ""
            line = f"{f.count:,} item(s): {f.rule.title} — {f.rule.why}" + (
                f" (e.g. {example[:100]})" if example else ""
            )
            (out.reasons if f.rule.severity == "blocking" else out.caveats).append(Reason("check", line, name))
    if t.copy.status == "error":
        out.reasons.append(Reason("migration", f"the copy failed: {t.copy.reason}", name))
    elif t.copy.status != "ok" or t.copy_report is None:
        out.did_not_run("copy", t.copy if t.copy.status != "ok" else Step.error("no report"), name)
    elif not t.copy_report.complete:
        out.reasons.append(Reason("migration", "the copy did not complete", name))
    if t.copy.status == "ok":
        if t.verify.status != "ok" or t.verify_report is None:
            out.did_not_run("verify", t.verify if t.verify.status != "ok" else Step.error("no report"), name)
        else:
            _verify_lines(name, t.verify_report, out)
    if t.bench.status == "skipped" and t.bench.by_user:
        if f"the benchmark ({t.bench.reason})" not in out.not_checked:
            out.not_checked.append(f"the benchmark ({t.bench.reason})")
    elif t.bench.status != "ok":
        out.caveats.append(Reason("bench", f"the benchmark did not run: {t.bench.reason}", name))
    errors = (t.bench_result or {}).get("errors") or {}
    for store, errs in errors.items():
        if errs:
            shown = ", ".join(f"{k} x{v}" for k, v in errs.items())
            out.caveats.append(Reason("bench", f"{store}: calls failed during the benchmark: {shown}", name))


def _app_tests_lines(ev: Evaluation, out: _Lines) -> None:
    at = ev.app_tests
    if at is None:  # not asked for: not a part of this verdict
        return
    if at.step.status != "ok" or at.verdict is None:
        out.did_not_run("app tests", at.step if at.step.status != "ok" else Step.error("no outcome"))
        return
    shown = ", ".join(at.regressions[:3]) + (f" and {len(at.regressions) - 3} more" if len(at.regressions) > 3 else "")
    for text in at.reasons:
        line = text + (f" ({shown})" if shown and at.verdict == "NOT SAFE" else "")
        if at.verdict == "NOT SAFE":
            out.reasons.append(Reason("app tests", line))
        elif at.verdict == "UNKNOWN":
            out.unknown.append(Reason("app tests", line))
    if at.source_skipped and at.verdict != "UNKNOWN":
        out.caveats.append(Reason("app tests", f"not run against the source: {at.source_skipped}"))


def decide(ev: Evaluation) -> Verdict:
    """The verdict for an evaluation (see the module docstring); reads nothing but ``ev``."""
    out = _Lines()
    for t in ev.tables:
        _table_lines(t, out)
        _live_lines(t, out)
    _contract_lines(ev, out)
    _app_tests_lines(ev, out)
    if not ev.tables:
        out.unknown.append(Reason("run", "no table was evaluated"))
    tables = ", ".join(t.name for t in ev.tables) or "the table"
    move = f"{tables} from {ev.source.kind} to {ev.target.kind}"
    if out.reasons:
        status = "NOT SAFE"
        headline = f"NOT SAFE to move {move}: {len(out.reasons)} reason(s) below."
    elif out.unknown:
        status = "UNKNOWN"
        more = len(out.unknown) - 1
        headline = f"UNKNOWN — {out.unknown[0].text}" + (f" (and {more} more part(s) did not run)" if more else "")
    else:
        status = "SAFE"
        headline = f"SAFE to move {move}: every check passed"
        if out.not_checked:
            headline += f"; not checked: {', '.join(out.not_checked)}"
        headline += f", with {len(out.caveats)} caveat(s) to read." if out.caveats else "."
    return Verdict(status, headline, out.reasons, out.unknown, out.not_checked, out.caveats)
