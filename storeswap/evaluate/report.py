"""Writing an evaluation out: ``index.html`` (charts inline, opens offline), ``report.md`` and ``results.json``.

Order, in both the HTML and the Markdown: the verdict with its reasons and
caveats, the stores (with a banner for a local emulator), the tables, the
readiness check, the compatibility matrix (requirement x store), the
migration figures, the live migration (with ``--live``), the app tests, the latency comparison with its charts, the environment.
Everything is rendered from the content of ``results.json`` alone (the
evaluation document's JSON form, :meth:`~storeswap.evaluate.document.Evaluation.to_json`).  Table and
chart helpers come from :mod:`storeswap.benchmarks.report`.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

from storeswap.benchmarks.report import (
    REPORT_CSS,
    REPORT_SCRIPT,
    emulator_banner,
    env_rows,
    fmt_number,
    html_table,
    implementation_label,
    log_axis,
    md_table,
)
from storeswap.benchmarks.runner import finite
from storeswap.evaluate.document import Evaluation, TestResult
from storeswap.evaluate.verdict import requirement_cells

__all__ = ["write_evaluation", "render_markdown", "render_html", "render_charts"]

_EXTRA_CSS = """
.verdict{padding:1rem 1.2rem;margin:1rem 0;border-radius:6px;border:2px solid}
.verdict.safe{background:#e6f4ea;border-color:#1e8e3e}.verdict.unsafe{background:#fce8e6;border-color:#d93025}
.verdict.unknown{background:#fff3cd;border-color:#b06000}
.verdict h2{margin:0 0 0.5rem}.verdict li{margin:0.2rem 0}
td.pass{background:#e6f4ea}td.fail{background:#fce8e6;font-weight:600}td.xfail{background:#fff3cd}
td.skip,td.none{color:#888}.small{font-size:0.8rem;color:#555}#matrix td:first-child{min-width:18rem}
"""

_STATUS_TEXT = {"pass": "pass", "fail": "FAIL", "xfail": "known gap", "skip": "skipped"}
_STORE_HEADERS = ("role", "store", "adapter", "served by", "emulator", "contract suite as")


def _sides(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [("source", doc.get("source") or {}), ("target", doc.get("target") or {})]


def banners(doc: dict[str, Any]) -> list[str]:
    """One warning per store served by a local emulator (moto, DynamoDB Local)."""
    stores = [{"name": f"{role} ({side.get('label')})", "store": side.get("store") or {}} for role, side in _sides(doc)]
    return [
        line.replace(
            "Use these figures only to compare the adapter with the raw driver on the same emulator.",
            "Its latency figures below compare nothing real; the compatibility and migration results still hold "
            "for the adapter, within what the emulator implements.",
        )
        for line in emulator_banner({"stores": stores})
    ]


def _store_rows(doc: dict[str, Any]) -> list[list[str]]:
    roles = (doc.get("contract") or {}).get("roles") or {}
    rows = []
    for role, side in _sides(doc):
        info = side.get("store") or {}
        rows.append(
            [
                role,
                str(side.get("label")),
                str(info.get("adapter", "")),
                implementation_label(info),
                "yes" if info.get("emulator") else "no",
                str(roles.get(role) or "not run"),
            ]
        )
    return rows


def _key_text(k: dict[str, Any] | None) -> str:
    return "—" if not k else f"{k['name']} ({k['type']})"


def _table_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in doc.get("tables", []):
        spec = t.get("spec") or {}
        indexes = [
            f"GSI {g['name']}: {_key_text(g['partition_key'])} + {_key_text(g.get('sort_key'))}"
            for g in spec.get("global_indexes", [])
        ] + [f"LSI {i['name']}: {_key_text(i['sort_key'])}" for i in spec.get("local_indexes", [])]
        profile = t.get("profile") or {}
        rows.append(
            [
                t["name"],
                t.get("description") or "",
                f"{profile.get('items_read', 0):,}" + ("" if profile.get("complete", True) else "+ (read limit)"),
                f"{_key_text(spec.get('partition_key'))} + {_key_text(spec.get('sort_key'))}",
                "; ".join(indexes) or "none",
                str(spec.get("ttl_attribute") or "none"),
                ", ".join(f"{k} {v:,}" for k, v in (profile.get("types") or {}).items()),
            ]
        )
    return rows


_TABLE_HEADERS = ("table", "what", "items", "key", "indexes", "TTL", "values seen (by type)")


def _check_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in doc.get("tables", []):
        check = t.get("check")
        if t.get("check_error"):
            rows.append([t["name"], "error", t["check_error"], "", ""])
            continue
        if not check:
            continue
        if not check.get("findings"):
            rows.append([t["name"], "ok", f"{check.get('items', 0):,} items checked: nothing to report", "", ""])
        for f in check.get("findings", []):
            example = f["examples"][0]["detail"] if f.get("examples") else ""
            rows.append([t["name"], f["severity"], f"{f['title']} — {f['why']}", f"{f['count']:,}", example[:160]])
    return rows


_CHECK_HEADERS = ("table", "severity", "finding", "items", "example")


def _matrix(doc: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str, str, dict[str, Any]]]]:
    """Columns ``(contract store name, header)`` and rows ``(req, title, used-by text, {store: cell})``."""
    contract = doc.get("contract") or {}
    # Typed again from the file's form: a test entry with a missing or unknown field is an error here.
    cells = requirement_cells([TestResult(**t) for t in contract.get("tests") or []])
    roles = contract.get("roles") or {}
    columns: dict[str, list[str]] = {}
    for role in ("source", "target"):
        name = roles.get(role)
        if name:
            columns.setdefault(name, []).append(role)
    titles: dict[str, str] = contract.get("titles") or {}
    tables = doc.get("tables", [])
    rows = []
    for req in list(titles) + sorted(r for r in cells if r not in titles):
        unused: list[tuple[str, str]] = [
            (t["name"], str(why)) for t in tables if (why := (t.get("requirements") or {}).get(req)) is not None
        ]
        if not unused:
            used_by = "yes"
        elif len(unused) == len(tables):
            whys = sorted({why for _, why in unused})
            used_by = "no: " + "; ".join(whys)
        else:
            used_by = "; ".join(f"not by {name} ({why})" for name, why in unused)
        rows.append((req, titles.get(req, ""), used_by, cells.get(req, {})))
    return [(name, f"{name} ({' & '.join(r)})") for name, r in columns.items()], rows


def _cell_text(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "—"
    counts = f"{cell['passed']} passed"
    if cell["failed"]:
        counts += f", {cell['failed']} failed"
    if cell["xfailed"]:
        counts += f", {cell['xfailed']} known gap"
    return f"{_STATUS_TEXT[cell['status']]} ({counts})"


def _cell_detail(cell: dict[str, Any] | None) -> str:
    if not cell:
        return ""
    bits = [f"{f['test']}: {f['message'][:150]}" for f in cell["failures"][:3]]
    bits += [g[:150] for g in cell["gaps"][:2]]
    return "; ".join(bits)


def _migration_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in doc.get("tables", []):
        copy = t.get("copy") or {}
        verify = t.get("verify") or {}
        if t.get("copy_error"):
            rows.append([t["name"], "failed", "", "", t["copy_error"], ""])
            continue
        verdict = (
            "identical"
            if verify.get("identical")
            else (
                t.get("verify_error")
                or "DIFFERENT: "
                + ", ".join(
                    [f"{verify.get(k, 0):,} {k}" for k in ("missing", "extra", "changed")]
                    + [f"{len(verify.get('spec_differences') or [])} spec difference(s)"]
                    + [f"index {i['name']} differs" for i in verify.get("indexes") or [] if not i["identical"]]
                )
            )
        )
        rows.append(
            [
                f"{t['name']} → {t.get('target_table')}",
                f"{copy.get('items', 0):,}",
                f"{copy.get('seconds', 0):.2f}",
                fmt_number(copy.get("items_per_second")),
                verdict,
                f"{verify.get('source_items', 0):,} / {verify.get('target_items', 0):,} in {verify.get('seconds', 0):.2f} s"
                if verify
                else "",
            ]
        )
    return rows


_MIGRATION_HEADERS = ("table", "items copied", "seconds", "items/s", "verify", "items source / target, verify time")


_LIVE_HEADERS = (
    "table",
    "writes/s asked / reached",
    "writes (refused, failed)",
    "records replayed",
    "replay records/s (overall / peak)",
    "lag records max / p50",
    "lag s max / p50",
    "catch-up s",
    "verify",
    "cut-over",
)


def _pair(a: Any, b: Any, digits: int = 0) -> str:
    def one(x: Any) -> str:
        return "unknown" if x is None else f"{x:,.{digits}f}"

    return f"{one(a)} / {one(b)}"


def _live_verify_text(live: dict[str, Any]) -> str:
    step = live["verify_step"]
    if step["status"] != "ok":
        return f"not run: {step['reason']}"
    v = live.get("verify") or {}
    if v.get("identical"):
        return "identical"
    counts = [f"{v.get(k, 0):,} {k}" for k in ("missing", "extra", "changed") if v.get(k)]
    return "DIFFERENT" + (f": {', '.join(counts)}" if counts else "")


def _live_cutover_text(live: dict[str, Any]) -> str:
    step = live["cutover_step"]
    if step["status"] != "ok":
        return step["reason"] if step["status"] == "skipped" else f"error: {step['reason']}"
    c = live["cutover"]
    if c["outcome"] == "go":
        return "GO" + (f" ({c['in_flight']} in flight)" if c.get("in_flight") else "")
    return f"{str(c['outcome']).upper()}: " + "; ".join(c["reasons"] or ["no reason given"])


def _live_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per table evaluated with ``--live`` (none without it)."""
    rows = []
    for t in doc.get("tables", []):
        live = t.get("live")
        if live is None:
            continue
        if live["step"]["status"] != "ok":
            rows.append([t["name"], f"{live['rate']:,.0f} / —", "", "", "", "", "", "", f"did not run: "
                         f"{live['step']['reason']}", _live_cutover_text(live)])  # fmt: skip
            continue
        w = live.get("writer") or {}
        caught = "not caught up" if live["catch_up_s"] is None else f"{live['catch_up_s']:.2f}"
        rows.append(
            [
                f"{t['name']} ({live['on']}: {live['source_table']} → {live['target_table']})",
                f"{live['rate']:,.0f} / {w.get('achieved_rate', 0):,.0f}",
                f"{w.get('writes', 0):,} ({w.get('refused', 0):,}, {w.get('errors', 0):,})",
                f"{live['records_replayed']:,}",
                f"{fmt_number(live['replay_records_per_second'])} / {fmt_number(live.get('peak_records_per_second'))}",
                _pair(live["lag_records_max"], live["lag_records_p50"]),
                _pair(live["lag_seconds_max"], live["lag_seconds_p50"], 2),
                caught,
                _live_verify_text(live),
                _live_cutover_text(live),
            ]
        )
    return rows


_LIVE_INTRO = (
    "--live: a background writer wrote to the table (the built-in sample itself, or a scratch copy of yours) while "
    "it was copied and then followed (migrate --follow).  While the writer ran after the copy, lag was sampled: "
    "the change records after the follower's checkpoint (written to the source, not yet acknowledged by the "
    "target) and the age of the oldest of them.  Then the writer stopped, the follower caught up, and the cut-over "
    "check (lag 0 for a quiet time, verify of base table and indexes, in-flight items) gave go / no-go.  Replay "
    "records/s is over the whole follow, bounded by the write rate while the writer ran.  The scratch tables were "
    "deleted."
)


_APP_TESTS_HEADERS = ("store", "exit status", "passed", "failed", "skipped", "seconds", "note")


def _count(n: Any) -> str:
    return "—" if n is None else str(n)


def _app_tests_rows(doc: dict[str, Any]) -> list[list[str]]:
    """One row per store the team's command ran against (target first)."""
    at = doc.get("app_tests") or {}
    rows = []
    for role in ("target", "source"):
        run = at.get(role)
        if run is None:
            if role == "source" and at.get("source_skipped"):
                rows.append([role, "not run", "", "", "", "", str(at["source_skipped"])])
            continue
        status = "timed out" if run["timed_out"] else _count(run["exit_status"])
        rows.append(
            [
                f"{role} ({run['store_kind']})",
                status,
                _count(run["passed"]),
                _count(run["failed"]),
                _count(run["skipped"]),
                f"{run['seconds']:.1f}",
                run.get("error") or "",
            ]
        )
    return rows


def _app_tests_intro(doc: dict[str, Any]) -> str:
    at = doc["app_tests"]
    step = at["step"]
    if step["status"] != "ok":
        return f"The app tests ({at['command']}) did not run: {step['reason']}."
    regressions = at.get("regressions") or []
    extra = f" Regressed: {', '.join(regressions[:10])}." if regressions else ""
    return f"{at['verdict']}: {'; '.join(at.get('reasons') or [])} — command: {at['command']}.{extra}"


def _difference_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in doc.get("tables", []):
        for d in (t.get("verify") or {}).get("details", [])[:10]:
            fields = "; ".join(f"{f['path']} {f['kind']}" for f in d.get("fields", [])[:5])
            rows.append([t["name"], d["kind"], json.dumps(d["key"], ensure_ascii=False)[:160], fields])
        for spec_diff in (t.get("verify") or {}).get("spec_differences") or []:
            rows.append([t["name"], "spec", spec_diff[:160], ""])
        for ix in (t.get("verify") or {}).get("indexes") or []:
            for d in ix["details"][:5]:
                rows.append(
                    [
                        t["name"],
                        f"index {ix['name']}: {d['kind']}",
                        json.dumps(d["key"], ensure_ascii=False)[:160],
                        "; ".join(d.get("fields", [])[:5]),
                    ]
                )
    return rows


def _latency_rows(t: dict[str, Any]) -> list[list[str]]:
    bench = t.get("bench") or {}
    rows = []
    for op, entry in (bench.get("ops") or {}).items():
        for role in ("source", "target"):
            st = (entry.get("stores") or {}).get(role) or {}
            ratio = (entry.get("ratio_to_first") or {}).get("target") if role == "target" else None
            rows.append(
                [
                    op,
                    role,
                    fmt_number(st.get("count")),
                    *(fmt_number(st.get(k)) for k in ("p50_us", "p90_us", "p99_us", "max_us", "mean_us")),
                    fmt_number(st.get("errors")),
                    fmt_number(ratio, True) if role == "target" else "",
                ]
            )
    return rows


_LATENCY_HEADERS = (
    "operation",
    "store",
    "calls",
    "p50 µs",
    "p90 µs",
    "p99 µs",
    "max µs",
    "mean µs",
    "errors",
    "target/source (paired median)",
)


# ---------------------------------------------------------------- charts


def render_charts(doc: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """``(file name, caption, PNG)``: per table, p50 and p99 per operation on source and target; and the ratios."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts: list[tuple[str, str, bytes]] = []

    def save(fig: Any, name: str, caption: str) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        charts.append((name, caption, buf.getvalue()))

    labels = {role: f"{role} ({side.get('kind', role)})" for role, side in _sides(doc)}
    colors = {"source": ("#08519c", "#6baed6"), "target": ("#a63603", "#fd8d3c")}
    benched = [t for t in doc.get("tables", []) if (t.get("bench") or {}).get("ops")]
    for n, t in enumerate(benched):
        ops = list(t["bench"]["ops"])
        fig, ax = plt.subplots(figsize=(10, 3.8))
        width = 0.2
        for side_no, role in enumerate(("source", "target")):
            for k, key in enumerate(("p50_us", "p99_us")):
                vals = [((t["bench"]["ops"][op]["stores"].get(role) or {}).get(key) or 0.0) for op in ops]
                xs = [i + (side_no * 2 + k - 1.5) * width for i in range(len(ops))]
                ax.bar(xs, vals, width, color=colors[role][k], label=f"{labels[role]} {key.removesuffix('_us')}")
        ax.set_xticks(range(len(ops)), ops, fontsize=8)
        log_axis(ax)
        ax.set_ylabel("latency (µs, log)")
        ax.set_title(f"{t['name']}: latency per access pattern, source beside target")
        ax.legend(fontsize=7, ncols=2)
        ax.grid(axis="y", alpha=0.3)
        save(fig, f"latency_{n}.png", f"{t['name']}: p50 and p99 latency per operation, source and target.")
    if benched:
        fig, ax = plt.subplots(figsize=(10, 0.45 * sum(len(t["bench"]["ops"]) for t in benched) + 1.5))
        names: list[str] = []
        ratios: list[float] = []
        for t in benched:
            for op, entry in t["bench"]["ops"].items():
                r = (entry.get("ratio_to_first") or {}).get("target")
                names.append(f"{t['name']}: {op}")
                ratios.append(float(r) if r else 0.0)
        ys = list(range(len(names)))
        # Bars grow from 1x (no difference) towards the ratio: left when the target is faster.
        shown = [r if r > 0 else 1.0 for r in ratios]
        ax.barh(ys, [r - 1.0 for r in shown], left=1.0, color=["#a63603" if r > 1 else "#1e8e3e" for r in shown])
        ax.axvline(1.0, color="#333", linewidth=1)
        ax.set_yticks(ys, names, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        low, high = min(min(shown), 1.0) / 2.5, max(max(shown), 1.0) * 2.5
        ax.set_xlim(low, high)
        if high / low > 30:
            ticks = [m * 10.0**e for e in range(-4, 5) for m in (1, 2, 5)]
        else:
            ticks = [0.1, 0.2, 0.33, 0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3, 5, 10]
        ticks = [t for t in ticks if low <= t <= high]
        ax.set_xticks(ticks, [f"{t:g}x" for t in ticks])
        ax.minorticks_off()
        for y, r in zip(ys, ratios):
            if r:
                ax.annotate(
                    f"{r:.2f}x",
                    (r, y),
                    fontsize=7,
                    xytext=(3 if r >= 1 else -3, -3),
                    ha="left" if r >= 1 else "right",
                    textcoords="offset points",
                )
        ax.set_xlabel("target time / source time, median over interleaved pairs (log scale; left of 1x: target faster)")
        ax.set_title("Target against source, per operation")
        ax.grid(axis="x", alpha=0.3)
        save(fig, "ratios.png", "Median over interleaved calls of target latency divided by source latency.")
    return charts


# ---------------------------------------------------------------- markdown


def render_markdown(doc: dict[str, Any], charts: list[tuple[str, str, bytes]] | None = None) -> str:
    """``report.md``: the same sections as the HTML report, charts as links to ``charts/``."""
    v = doc["verdict"]
    parts = ["# storeswap evaluate", ""]
    parts += [f"## Verdict: {v['status']}", "", f"**{v['headline']}**", ""]
    if v["reasons"]:
        parts += ["Reasons:", ""] + [f"- {r['line']}" for r in v["reasons"]] + [""]
    if v["unknown"]:
        parts += ["Did not run:", ""] + [f"- {r['line']}" for r in v["unknown"]] + [""]
    if v["not_checked"]:
        parts += ["Not checked (switched off):", ""] + [f"- {n}" for n in v["not_checked"]] + [""]
    if v.get("caveats"):
        parts += ["Caveats:", ""] + [f"- {r['line']}" for r in v["caveats"]] + [""]
    for line in banners(doc):
        parts += [f"> **⚠ Emulator:** {line}", ""]
    parts += [
        f"Started {doc.get('started')}, finished {doc.get('finished')} ({doc.get('seconds', 0):.0f} s)"
        + (", quick run" if (doc.get("options") or {}).get("quick") else "")
        + ".",
        "",
        "## Stores",
        "",
        md_table(_STORE_HEADERS, _store_rows(doc)),
        "",
        "## Tables",
        "",
        md_table(_TABLE_HEADERS, _table_rows(doc)),
        "",
        "## Readiness check",
        "",
        md_table(_CHECK_HEADERS, _check_rows(doc)),
        "",
        "## Compatibility matrix",
        "",
    ]
    parts += [*_contract_intro(doc), ""]
    columns, rows = _matrix(doc)
    stores = [name for name, _ in columns]
    if stores:
        headers = ["requirement", *(h for _, h in columns), "used by the table(s)", "failures / known gaps"]
        md_rows = [
            [
                f"**{req}** {title}",
                *(_cell_text(cells.get(s)) for s in stores),
                used,
                _detail_all(cells, stores),
            ]
            for req, title, used, cells in rows
        ]
        parts += [md_table(headers, md_rows), ""]
    parts += ["## Migration", "", md_table(_MIGRATION_HEADERS, _migration_rows(doc)), ""]
    diffs = _difference_rows(doc)
    if diffs:
        parts += ["Differences found by verify:", "", md_table(("table", "kind", "key", "fields"), diffs), ""]
    live_rows = _live_rows(doc)
    if live_rows:
        parts += ["## Live migration", "", _LIVE_INTRO, "", md_table(_LIVE_HEADERS, live_rows), ""]
    if doc.get("app_tests"):
        parts += ["## App tests", "", _app_tests_intro(doc), "", md_table(_APP_TESTS_HEADERS, _app_tests_rows(doc)), ""]
    parts += ["## Latency: source against target", "", _latency_intro(doc), ""]
    for t in doc.get("tables", []):
        bench = t.get("bench") or {}
        parts += [f"### {t['name']}", ""]
        if bench.get("error"):
            parts += [f"Not measured: {bench['error']}", ""]
            continue
        parts += [md_table(_LATENCY_HEADERS, _latency_rows(t)), ""]
    for name, caption, _png in charts or []:
        parts += [f"![{caption}](charts/{name})", ""]
    parts += ["## Environment", "", md_table(("what", "version"), env_rows(doc)), ""]
    return "\n".join(parts)


def _detail_all(cells: dict[str, Any], stores: list[str]) -> str:
    bits = []
    for s in stores:
        d = _cell_detail(cells.get(s))
        if d:
            bits.append(f"{s}: {d}")
    return " | ".join(bits)


def _contract_intro(doc: dict[str, Any]) -> list[str]:
    c = doc["contract"]
    step = c["step"]
    run = c["run"] or {}
    if step["status"] == "skipped":
        return [f"The contract suite was not run: {step['reason']}."]
    out = []
    if step["status"] == "error":
        out.append(f"**{step['reason']}.** Last output: `{(run.get('output_tail') or '')[-300:]}`")
    tests = c["tests"]
    outcomes: dict[str, int] = {}
    for t in tests:
        outcomes[t["outcome"]] = outcomes.get(t["outcome"], 0) + 1
    summary = ", ".join(f"{n:,} {k}" for k, n in sorted(outcomes.items()))
    out.append(
        f"The contract suite ({len(tests):,} tests: {summary}; {run.get('seconds', 0):.0f} s) ran against "
        + ("both stores" if c["roles"]["source"] and c["roles"]["target"] else "the target only")
        + (
            " (quick: one case per test function, no differential test)"
            if (doc.get("options") or {}).get("quick")
            else ""
        )
        + ". Per requirement of docs/semantics.md: “pass” — every test passed; “FAIL” — a test failed; "
        "“known gap” — a declared strict xfail. Swap tests (M) count for both stores of their pair; "
        "“used by the table(s)” says whether the evaluated data relies on the requirement (a failure on the "
        "target of a used requirement makes the move unsafe)."
    )
    if c.get("note"):
        out.append(c["note"] + ".")
    return out


def _latency_intro(doc: dict[str, Any]) -> str:
    opts = doc.get("options") or {}
    return (
        f"The table's own access patterns, {opts.get('bench_ops')} timed calls per operation and store, one thread. "
        "Each drawn call ran on both stores back to back in random order, so both share the moment's noise; "
        "reads hit the migrated tables, writes a scratch table of the same shape on each store (the evaluated "
        "table is never written). Latencies in microseconds (HdrHistogram percentiles)."
    )


# ---------------------------------------------------------------- html


def render_html(doc: dict[str, Any], charts: list[tuple[str, str, bytes]]) -> str:
    """``index.html``: self-contained (inline CSS, inline PNG charts, no external resource)."""
    e = html.escape
    v = doc["verdict"]
    status = str(v["status"])
    css = {"SAFE": "safe", "NOT SAFE": "unsafe"}.get(status, "unknown")
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>storeswap evaluate — {e(status.lower())} to move</title>",
        f"<style>{REPORT_CSS}{_EXTRA_CSS}</style></head><body>",
        "<h1>storeswap evaluate</h1>",
        f'<section class="verdict {css}" id="verdict">',
        f"<h2>Verdict: {e(status)}{' to move' if status != 'UNKNOWN' else ''}</h2>",
        f"<p><b>{e(str(v.get('headline', '')))}</b></p>",
    ]
    if v["reasons"]:
        out.append("<p>Reasons:</p><ul>" + "".join(f"<li>{e(r['line'])}</li>" for r in v["reasons"]) + "</ul>")
    if v["unknown"]:
        out.append("<p>Did not run:</p><ul>" + "".join(f"<li>{e(r['line'])}</li>" for r in v["unknown"]) + "</ul>")
    if v["not_checked"]:
        out.append(
            "<p>Not checked (switched off):</p><ul>" + "".join(f"<li>{e(n)}</li>" for n in v["not_checked"]) + "</ul>"
        )
    if v.get("caveats"):
        out.append("<p>Caveats:</p><ul>" + "".join(f"<li>{e(r['line'])}</li>" for r in v["caveats"]) + "</ul>")
    out.append("</section>")
    for line in banners(doc):
        out.append(f'<div class="banner" role="alert">⚠ Emulator: {e(line)}</div>')
    out += [
        f'<p class="note">Started {e(str(doc.get("started")))}, finished {e(str(doc.get("finished")))} '
        f"({doc.get('seconds', 0):.0f} s)"
        + (", quick run" if (doc.get("options") or {}).get("quick") else "")
        + ".</p>",
        "<h2>Stores</h2>",
        html_table(_STORE_HEADERS, _store_rows(doc)),
        "<h2>Tables</h2>",
        html_table(_TABLE_HEADERS, _table_rows(doc)),
        "<h2>Readiness check</h2>",
        html_table(_CHECK_HEADERS, _check_rows(doc)),
        "<h2>Compatibility matrix</h2>",
    ]
    out += [f'<p class="note">{e(p)}</p>' for p in _contract_intro(doc)]
    columns, rows = _matrix(doc)
    stores = [name for name, _ in columns]
    if stores:
        head = "".join(
            f"<th>{e(h)}</th>"
            for h in ["requirement", *(h for _, h in columns), "used by the table(s)", "failures / known gaps"]
        )
        body = []
        for req, title, used, cells in rows:
            tds = [f"<td><b>{e(req)}</b> {e(title)}</td>"]
            for s in stores:
                cell = cells.get(s)
                status = cell["status"] if cell else "none"
                tds.append(f'<td class="{status}">{e(_cell_text(cell))}</td>')
            tds.append(f'<td class="small">{e(used)}</td>')
            tds.append(f'<td class="small">{e(_detail_all(cells, stores))}</td>')
            body.append("<tr>" + "".join(tds) + "</tr>")
        out.append(f'<table id="matrix"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')
    out += ["<h2>Migration</h2>", html_table(_MIGRATION_HEADERS, _migration_rows(doc))]
    diffs = _difference_rows(doc)
    if diffs:
        out += ["<p>Differences found by verify:</p>", html_table(("table", "kind", "key", "fields"), diffs)]
    live_rows = _live_rows(doc)
    if live_rows:
        out += [
            "<h2>Live migration</h2>",
            f'<p class="note">{e(_LIVE_INTRO)}</p>',
            html_table(_LIVE_HEADERS, live_rows),
        ]
    if doc.get("app_tests"):
        out += [
            "<h2>App tests</h2>",
            f'<p class="note">{e(_app_tests_intro(doc))}</p>',
            html_table(_APP_TESTS_HEADERS, _app_tests_rows(doc)),
        ]
    out += ["<h2>Latency: source against target</h2>", f'<p class="note">{e(_latency_intro(doc))}</p>']
    for name, caption, png in charts:
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f'<figure><img class="chart" id="chart-{e(name.removesuffix(".png"))}" alt="{e(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{e(caption)}</figcaption></figure>'
        )
    for t in doc.get("tables", []):
        bench = t.get("bench") or {}
        out.append(f"<h3>{e(t['name'])}</h3>")
        if bench.get("error"):
            out.append(f"<p>Not measured: {e(bench['error'])}</p>")
        else:
            out.append(html_table(_LATENCY_HEADERS, _latency_rows(t)))
    out += ["<h2>Environment</h2>", html_table(("what", "version"), env_rows(doc))]
    out += [f"<script>{REPORT_SCRIPT}</script>", "</body></html>"]
    return "\n".join(out)


def write_evaluation(evaluation: Evaluation, out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.json`` (the evaluation as JSON), ``index.html``, ``report.md`` and ``charts/*.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "index.html", "markdown": out / "report.md", "results": out / "results.json"}
    clean = finite(evaluation.to_json())
    paths["results"].write_text(
        json.dumps(clean, indent=2, allow_nan=False, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    charts = render_charts(clean)
    chart_dir = out / "charts"
    chart_dir.mkdir(exist_ok=True)
    for name, _caption, png in charts:
        (chart_dir / name).write_bytes(png)
    paths["markdown"].write_text(render_markdown(clean, charts), encoding="utf-8")
    paths["html"].write_text(render_html(clean, charts), encoding="utf-8")
    return paths
