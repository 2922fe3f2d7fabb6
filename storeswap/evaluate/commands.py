"""The ``storeswap evaluate`` command: can this table move off DynamoDB, and at what cost?"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "evaluate_command"]

DEFAULT_SOURCE = "dynamodb"
DEFAULT_TARGET = "postgres"


class _RichProgress:
    """The :class:`storeswap.evaluate.run.Progress` of the CLI: one bar, and a line per finished step."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.task = progress.add_task("starting", total=None)
        self.current: str | None = None
        self.began = time.perf_counter()

    def _close_step(self) -> None:
        if self.current is not None:
            self.progress.console.print(f"[green]✓[/green] {self.current} ({time.perf_counter() - self.began:.1f} s)")

    def step(self, description: str, total: int | None = None) -> None:
        self._close_step()
        self.current = description
        self.began = time.perf_counter()
        self.progress.reset(self.task, total=total, completed=0, description=description)

    def update(self, completed: int, total: int | None = None) -> None:
        if total is not None:
            self.progress.update(self.task, total=total, completed=completed)
        else:
            self.progress.update(self.task, completed=completed)

    def finish(self) -> None:
        self._close_step()
        self.current = None


def _open(spec: str, role: str, say: Any) -> tuple[Any, dict[str, Any]]:
    from storeswap.benchmarks.environment import capture_backend_log, describe_store
    from storeswap.connect import open_store

    say(f"opening the {role} store ({spec if '://' not in spec else spec.split('://', 1)[0] + '://…'})")
    with capture_backend_log() as lines:
        store = open_store(spec)
    return store, describe_store(spec, store, lines)


def evaluate_command(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Source store URL (e.g. dynamodb:// for AWS, dynamodb://host:port). "
            "Default: a local moto server loaded with the built-in sample tables.",
        ),
    ] = None,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", "-t", help="Table to evaluate on the source (repeatable); needs --source."),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", help="Target store URL (e.g. postgresql://user@host/db). Default: an embedded PostgreSQL."
        ),
    ] = None,
    target_table: Annotated[
        str | None,
        typer.Option(
            "--target-table", help="Name of the new table on the target (one --table only); default: the same name."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for index.html, report.md and results.json.")
    ] = Path("storeswap-report"),
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="A shorter run: one case per contract test, no differential test, fewer benchmark calls."
        ),
    ] = False,
    no_contract: Annotated[bool, typer.Option("--no-contract", help="Skip the contract suite.")] = False,
    no_bench: Annotated[bool, typer.Option("--no-bench", help="Skip the benchmark.")] = False,
    bench_ops: Annotated[
        int | None,
        typer.Option("--bench-ops", min=1, help="Timed calls per operation and store (default 100, quick 30)."),
    ] = None,
    source_factory: Annotated[
        str | None,
        typer.Option("--source-factory", help="module:callable giving the contract suite a fresh source-kind store."),
    ] = None,
    target_factory: Annotated[
        str | None,
        typer.Option("--target-factory", help="module:callable giving the contract suite a fresh target-kind store."),
    ] = None,
    replace_target: Annotated[
        bool, typer.Option("--replace-target", help="Delete the target table first when it exists (never the source).")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with code 1 when the verdict is 'not safe'.")] = False,
) -> None:
    """Can this table move off DynamoDB, and at what cost? Check, contract suite, copy + verify, benchmark, verdict."""
    import logging

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from storeswap.connect import redact_url
    from storeswap.evaluate.contract import ContractStore, contract_store_for
    from storeswap.evaluate.report import banners, write_evaluation
    from storeswap.evaluate.run import Endpoint, EvaluateOptions, evaluate
    from storeswap.evaluate.samples import SAMPLE_TABLES, load_samples

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    tables = list(table or [])
    if tables and source is None:
        raise typer.BadParameter("--table names a table on your source: give --source too", param_hint="--table")
    if source is not None and not tables:
        raise typer.BadParameter("name the table to evaluate with --table", param_hint="--table")
    if target_table is not None and len(tables) != 1:
        raise typer.BadParameter("--target-table goes with exactly one --table", param_hint="--target-table")
    sample_mode = source is None
    source_spec = source or DEFAULT_SOURCE
    target_spec = target or DEFAULT_TARGET
    console = Console(file=sys.stderr)
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        progress = _RichProgress(bar)
        progress.step("opening the stores")
        src_store, src_info = _open(source_spec, "source", lambda m: bar.update(progress.task, description=m))
        try:
            for name in tables:
                src_store.describe_table(name)  # a typo fails now, before a target server is started
            dst_store, dst_info = _open(target_spec, "target", lambda m: bar.update(progress.task, description=m))
        except BaseException:
            src_store.close()
            raise
        try:

            def contract_for(store: Any, spec: str, factory: str | None) -> ContractStore | None:
                if factory:
                    return ContractStore(factory=factory)
                return contract_store_for(store.kind, _resolved_url(store, spec))

            source_ep = Endpoint(
                src_store, redact_url(source_spec), contract_for(src_store, source_spec, source_factory), src_info
            )
            target_ep = Endpoint(
                dst_store, redact_url(target_spec), contract_for(dst_store, target_spec, target_factory), dst_info
            )
            descriptions: dict[str, str] = {}
            if sample_mode:
                progress.step("loading the built-in sample tables into the source", None)
                tables = load_samples(src_store)
                descriptions = {spec.name: text for spec, text in SAMPLE_TABLES}
            options = EvaluateOptions(
                quick=quick,
                contract=not no_contract,
                bench=not no_bench,
                bench_ops=bench_ops,
                replace_target=replace_target or sample_mode,
            )
            doc = evaluate(
                source_ep,
                target_ep,
                tables,
                target_tables={tables[0]: target_table} if target_table else None,
                descriptions=descriptions,
                options=options,
                progress=progress,
            )
            doc["sample_mode"] = sample_mode
            progress.step("writing the report", None)
            paths = write_evaluation(doc, out)
            progress.finish()
        finally:
            for s in (src_store, dst_store):
                try:
                    s.close()
                except Exception as e:  # closing must not hide the report
                    console.print(f"warning: closing {s.kind}: {e}")
    verdict = doc["verdict"]
    color = "green" if verdict["safe"] else "red"
    console.print()
    console.print(f"[bold {color}]{verdict['headline']}[/bold {color}]", highlight=False)
    for r in verdict["reasons"]:
        console.print(f"  [red]✗[/red] {r['line']}", highlight=False, markup=False)
    for r in verdict["caveats"][:12]:
        console.print(f"  ! {r['line']}", highlight=False, markup=False)
    if len(verdict["caveats"]) > 12:
        console.print(f"  ... and {len(verdict['caveats']) - 12} more caveats in the report", highlight=False)
    for line in banners(doc):
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)
    typer.echo(
        f"report: {paths['html'].resolve()} (also {paths['markdown'].name}, {paths['results'].name}); "
        f"{time.perf_counter() - started:.0f} s"
    )
    if strict and not verdict["safe"]:
        raise typer.Exit(1)


def _resolved_url(store: Any, spec: str) -> str:
    """The URL a bare store name resolved to (so the contract suite reaches the same server)."""
    if "://" in spec:
        return spec
    if store.kind == "postgres":
        from storeswap.backends.postgres import provision as pg_provision

        return pg_provision()
    if store.kind == "dynamodb":
        from storeswap.backends.dynamodb import provision as ddb_provision

        return ddb_provision()
    return spec


def register(app: typer.Typer) -> None:
    """Add ``storeswap evaluate`` to the CLI."""
    app.command("evaluate")(evaluate_command)
