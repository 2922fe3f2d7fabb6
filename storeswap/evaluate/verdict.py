"""The verdict: is the table safe to move, and exactly why (not).

Built only from what the run observed (the evaluation document of
:mod:`storeswap.evaluate.run`).  A *reason* makes the move unsafe:

- a blocking finding of the readiness check;
- a contract test that failed on the target for a requirement the table
  relies on (see :func:`storeswap.evaluate.profile.requirement_usage`), or a
  swap test that failed for the source → target pair;
- a migration that failed, or a verify that did not find both tables
  identical;
- a contract suite that was asked for and could not run.

A *caveat* is printed beside the verdict but does not change it: warning
findings, known gaps (strict xfails) on the target for used requirements,
failures on the target for requirements the table does not use, failures on
the source, benchmark errors, and steps that were skipped.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from attrs import asdict, define, field

__all__ = ["Reason", "Verdict", "decide", "requirement_cells"]


@define(frozen=True)
class Reason:
    """One line of the verdict: which step found it, for which table, and what."""

    step: str
    text: str
    table: str | None = None

    def render(self) -> str:
        """``[step] table: text``."""
        where = f" {self.table}:" if self.table else ""
        return f"[{self.step}]{where} {self.text}"


@define
class Verdict:
    """``safe`` with the ``reasons`` against it (none when safe) and ``caveats`` beside it."""

    safe: bool
    headline: str
    reasons: list[Reason] = field(factory=list)
    caveats: list[Reason] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form; every reason also as rendered text."""
        return {
            "safe": self.safe,
            "headline": self.headline,
            "reasons": [{**asdict(r), "line": r.render()} for r in self.reasons],
            "caveats": [{**asdict(r), "line": r.render()} for r in self.caveats],
        }


def requirement_cells(contract: dict[str, Any], *, pairs: bool = True) -> dict[str, dict[str, dict[str, Any]]]:
    """``{requirement: {store: cell}}`` from a contract run's tests (without the swap tests unless ``pairs``).

    A swap test counts for both stores of its pair.
    A cell counts passed / failed / xfailed / skipped tests, keeps the failed
    tests' names and messages and the xfail reasons, and has a ``status``:
    ``fail`` when any test failed, else ``xfail`` when any was a known gap,
    else ``pass`` (``skip`` when everything was skipped).
    """
    cells: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for test in contract.get("tests", []):
        if test.get("pair") and not pairs:
            continue
        for req in test["requirements"]:
            for store in test["stores"]:
                cell = cells[req].setdefault(
                    store,
                    {"passed": 0, "failed": 0, "xfailed": 0, "skipped": 0, "failures": [], "gaps": []},
                )
                cell[test["outcome"]] += 1
                if test["outcome"] == "failed":
                    cell["failures"].append({"test": test["name"], "message": test["message"]})
                elif test["outcome"] == "xfailed" and test["message"] not in cell["gaps"]:
                    cell["gaps"].append(test["message"])
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


def _contract_reasons(doc: dict[str, Any], reasons: list[Reason], caveats: list[Reason]) -> None:
    contract = doc.get("contract") or {}
    if contract.get("skipped"):
        caveats.append(Reason("contract", f"the contract suite was not run ({contract['skipped']})"))
        return
    if contract.get("error"):
        reasons.append(Reason("contract", contract["error"]))
    titles: dict[str, str] = contract.get("titles", {})
    roles: dict[str, str | None] = contract.get("roles", {})
    target_name, source_name = roles.get("target"), roles.get("source")
    if target_name is None:
        caveats.append(Reason("contract", "the contract suite cannot reach the target store; it was not checked"))
    if source_name is None:
        caveats.append(
            Reason("contract", contract.get("note") or "the contract suite cannot reach the source store; not checked")
        )
    used: dict[str, list[str]] = defaultdict(list)  # requirement -> tables relying on it
    for t in doc.get("tables", []):
        for req, why_not in (t.get("requirements") or {}).items():
            if why_not is None:
                used[req].append(t["name"])
    cells = requirement_cells(contract)
    # A swap test that failed for a pair involving the source may be the target's fault: judge the
    # source by its own tests only.
    own_cells = requirement_cells(contract, pairs=False)
    source_failures: list[tuple[str, int]] = []
    for req, per_store in cells.items():
        title = titles.get(req, "")
        label = f"requirement {req} ({title})" if title else f"requirement {req}"
        cell = per_store.get(target_name) if target_name else None
        if cell is not None and cell["status"] == "fail":
            text = (
                f"{label} fails on the target ({target_name}): {cell['failed']} test(s) failed — {_failed_tests(cell)}"
            )
            if used.get(req) or not doc.get("tables"):
                reasons.append(Reason("contract", text))
            else:
                caveats.append(Reason("contract", text + " — not used by the evaluated table(s)"))
        elif cell is not None and cell["status"] == "xfail" and used.get(req):
            caveats.append(
                Reason("contract", f"{label}: known gap on the target ({target_name}): {'; '.join(cell['gaps'][:2])}")
            )
        src = own_cells.get(req, {}).get(source_name) if source_name and source_name != target_name else None
        if src is not None and src["status"] == "fail":
            source_failures.append((req, src["failed"]))
    if source_failures:
        total = sum(
            1
            for t in contract.get("tests", [])
            if t["outcome"] == "failed" and not t.get("pair") and source_name in t["stores"]
        )
        reqs = ", ".join(req for req, _ in source_failures)
        caveats.append(
            Reason(
                "contract",
                f"the source ({source_name}) fails {total} contract test(s) of its own, under {reqs}: the source "
                "adapter (or the emulator behind it) does not behave as documented there, so what the source "
                "shows for those requirements is less certain (see the matrix)",
            )
        )


def _table_reasons(t: dict[str, Any], reasons: list[Reason], caveats: list[Reason]) -> None:
    name = t["name"]
    check = t.get("check")
    if t.get("check_error"):
        reasons.append(Reason("check", f"the readiness check failed: {t['check_error']}", name))
    if check:
        for f in check.get("findings", []):
            example = f["examples"][0]["detail"] if f.get("examples") else ""
            line = f"{f['count']:,} item(s): {f['title']} — {f['why']}" + (
                f" (e.g. {example[:100]})" if example else ""
            )
            (reasons if f["severity"] == "blocking" else caveats).append(Reason("check", line, name))
    if t.get("copy_error"):
        reasons.append(Reason("migration", f"the copy failed: {t['copy_error']}", name))
    copy = t.get("copy")
    if copy and not copy.get("complete", True):
        reasons.append(Reason("migration", "the copy did not complete", name))
    if t.get("verify_error"):
        reasons.append(Reason("verify", f"verify failed to run: {t['verify_error']}", name))
    verify = t.get("verify")
    if verify and not verify.get("identical"):
        parts = []
        if verify.get("spec_differences"):
            parts.append("key schema or indexes differ: " + "; ".join(verify["spec_differences"][:2]))
        counts = [f"{verify[k]:,} {k}" for k in ("missing", "extra", "changed") if verify.get(k)]
        if counts:
            parts.append(", ".join(counts) + " item(s) on the target")
        if verify.get("source_items") != verify.get("target_items"):
            parts.append(
                f"{verify.get('source_items'):,} items on the source, {verify.get('target_items'):,} on the target"
            )
        example = next((d for d in verify.get("details", []) if d.get("fields")), None)
        if example:
            f = example["fields"][0]
            parts.append(f"e.g. item {example['key']}: field {f['path']!r} {f['kind']}")
        elif verify.get("details"):
            d = verify["details"][0]
            parts.append(f"e.g. item {d['key']} {d['kind']}")
        reasons.append(Reason("verify", "source and target differ after the copy: " + "; ".join(parts), name))
    for note in (verify or {}).get("spec_notes", []):
        caveats.append(Reason("verify", f"table settings differ: {note}", name))
    bench = t.get("bench") or {}
    if bench.get("error"):
        caveats.append(Reason("bench", f"the benchmark did not run: {bench['error']}", name))
    for store, errs in (bench.get("errors") or {}).items():
        if errs:
            shown = ", ".join(f"{k} x{v}" for k, v in errs.items())
            caveats.append(Reason("bench", f"{store}: calls failed during the benchmark: {shown}", name))


def decide(doc: dict[str, Any]) -> Verdict:
    """The verdict for an evaluation document (see the module docstring)."""
    reasons: list[Reason] = []
    caveats: list[Reason] = []
    for t in doc.get("tables", []):
        _table_reasons(t, reasons, caveats)
    _contract_reasons(doc, reasons, caveats)
    for skipped in doc.get("skipped_steps", []):
        caveats.append(Reason("run", f"{skipped} was skipped"))
    tables = ", ".join(t["name"] for t in doc.get("tables", [])) or "the table"
    src = (doc.get("source") or {}).get("kind", "source")
    dst = (doc.get("target") or {}).get("kind", "target")
    if reasons:
        headline = f"NOT SAFE to move {tables} from {src} to {dst}: {len(reasons)} reason(s) below."
    elif caveats:
        headline = f"SAFE to move {tables} from {src} to {dst}, with {len(caveats)} caveat(s) to read."
    else:
        headline = f"SAFE to move {tables} from {src} to {dst}: every check passed."
    return Verdict(not reasons, headline, reasons, caveats)
