"""The ``storeswap evaluate`` command: can this table move off DynamoDB, and at what cost?

Exit codes: 0 when the verdict is SAFE, 1 NOT SAFE, 3 UNKNOWN (a part that
had to run did not); 2 for a usage or configuration error.  Raised as
``SystemExit`` (see :mod:`storeswap.cli.migrate` for why).
"""

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


def _open(spec: str, role: str, say: Any, factory: str | None, **export: Any) -> tuple[Any, dict[str, Any]]:
    """Open one side: from its factory, from a dynamodb-export: path (source only), or by URL."""
    from storeswap.benchmarks.environment import capture_backend_log, describe_store
    from storeswap.connect import open_store
    from storeswap.migrate.sources import EXPORT_SCHEME, open_source

    if factory is not None:
        from storeswap.contract_tests.factory import load_factory

        say(f"opening the {role} store from {factory}")
        store = load_factory(factory)()
        return store, describe_store(factory, store)
    say(f"opening the {role} store ({spec if '://' not in spec else spec.split('://', 1)[0] + '://…'})")
    if spec.startswith(EXPORT_SCHEME):
        source = open_source(spec, **export)
        return source, describe_store(spec, source)
    with capture_backend_log() as lines:
        store = open_store(spec)
    return store, describe_store(spec, store, lines)


def evaluate_command(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Source store URL (e.g. dynamodb:// for AWS, dynamodb://host:port) or dynamodb-export:PATH "
            "(an 'Export to S3' directory: evaluate without touching the live table). "
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
        typer.Option(
            "--source-factory",
            help="module:callable (or file.py:callable) returning your own source ItemStore: evaluate reads from "
            "it and the contract suite tests it (as with the suite's --store-factory).",
        ),
    ] = None,
    target_factory: Annotated[
        str | None,
        typer.Option(
            "--target-factory",
            help="module:callable (or file.py:callable) returning your own target ItemStore: evaluate copies into "
            "it and the contract suite tests that very adapter.",
        ),
    ] = None,
    spec_json: Annotated[
        Path | None,
        typer.Option("--spec-json", help="Export source: the table spec (TableSpec JSON or a DescribeTable response)."),
    ] = None,
    partition_key: Annotated[
        str | None, typer.Option("--partition-key", help="Export source without a spec file: name:S|N|B.")
    ] = None,
    sort_key: Annotated[str | None, typer.Option("--sort-key", help="Export source: sort key as name:S|N|B.")] = None,
    replace_target: Annotated[
        bool, typer.Option("--replace-target", help="Delete the target table first when it exists (never the source).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Kept for old scripts: the exit code always follows the verdict.")
    ] = False,
    app_tests: Annotated[
        str | None,
        typer.Option(
            "--app-tests",
            help="Your own test command, run through a DynamoDB gateway over the target (and against the source "
            "where reachable); {junit} becomes a JUnit XML path. Tests passing on the source and failing on the "
            "target make the verdict NOT SAFE.",
        ),
    ] = None,
    app_tests_timeout: Annotated[
        float, typer.Option("--app-tests-timeout", min=1, help="Seconds one app-tests run may take.")
    ] = 1800.0,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also migrate under a background writer (puts, conditional updates, deletes, transactions) with "
            "--follow, sample the follower's lag, let it catch up, verify and run the cut-over check. Writes to the "
            "built-in sample tables; with your own --source it needs --live-scratch.",
        ),
    ] = False,
    live_rate: Annotated[
        str | None, typer.Option("--live-rate", help="With --live: writes per second (default 100).")
    ] = None,
    live_seconds: Annotated[
        float | None,
        typer.Option("--live-seconds", help="With --live: seconds the writer goes on after the copy (default 30)."),
    ] = None,
    live_scratch: Annotated[
        bool,
        typer.Option(
            "--live-scratch",
            help="With --live and your own --source: write to a scratch copy of the table on the source store "
            "(created with a change stream, deleted afterwards), never to the table itself.",
        ),
    ] = False,
) -> None:
    """Can this table move off DynamoDB, and at what cost? Check, contract suite, copy + verify, benchmark, verdict.

    Exit code 0 SAFE, 1 NOT SAFE, 3 UNKNOWN.
    """
    import logging

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from storeswap.connect import redact_url
    from storeswap.core.port import ItemStore
    from storeswap.evaluate.live import live_options_for
    from storeswap.evaluate.report import banners, write_evaluation
    from storeswap.evaluate.run import Endpoint, EvaluateOptions, evaluate
    from storeswap.evaluate.samples import SAMPLE_TABLES, load_samples
    from storeswap.evaluate.suite_target import ContractStore, contract_store_for
    from storeswap.migrate.sources import as_source

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    tables = list(table or [])
    if tables and source is None and source_factory is None:
        raise typer.BadParameter("--table names a table on your source: give --source too", param_hint="--table")
    if (source is not None or source_factory is not None) and not tables:
        raise typer.BadParameter("name the table to evaluate with --table", param_hint="--table")
    if target_table is not None and len(tables) != 1:
        raise typer.BadParameter("--target-table goes with exactly one --table", param_hint="--target-table")
    if source is not None and source_factory is not None:
        raise typer.BadParameter("give --source or --source-factory, not both", param_hint="--source-factory")
    if target is not None and target_factory is not None:
        raise typer.BadParameter("give --target or --target-factory, not both", param_hint="--target-factory")
    sample_mode = source is None and source_factory is None
    if not live:
        for given, name in ((live_rate, "--live-rate"), (live_seconds, "--live-seconds"), (live_scratch or None,
                            "--live-scratch")):  # fmt: skip
            if given is not None:
                raise typer.BadParameter(f"{name} goes with --live", param_hint=name)
    # Before any store is opened: a bad rate, or a live run that would write to the user's table, is refused here.
    live_options = (
        live_options_for(own_source=not sample_mode, scratch=live_scratch, rate=live_rate, seconds=live_seconds)
        if live
        else None
    )
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
        src_store, src_info = _open(
            source_spec,
            "source",
            lambda m: bar.update(progress.task, description=m),
            source_factory,
            spec_json=spec_json,
            partition_key=partition_key,
            sort_key=sort_key,
        )
        try:
            for name in tables:
                as_source(src_store).describe(name)  # a typo fails now, before a target server is started
            dst_store, dst_info = _open(
                target_spec, "target", lambda m: bar.update(progress.task, description=m), target_factory
            )
        except BaseException:
            src_store.close()
            raise
        try:

            def contract_for(store: Any, spec: str, factory: str | None) -> ContractStore | None:
                if factory:
                    return ContractStore(factory=factory)
                if not isinstance(store, ItemStore):
                    return None  # an export: there is no adapter to test
                return contract_store_for(store, _resolved_url(store, spec))

            source_ep = Endpoint(
                src_store,
                source_factory or redact_url(source_spec),
                contract_for(src_store, source_spec, source_factory),
                src_info,
            )
            target_ep = Endpoint(
                dst_store,
                target_factory or redact_url(target_spec),
                contract_for(dst_store, target_spec, target_factory),
                dst_info,
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
                app_tests=app_tests,
                app_tests_timeout=app_tests_timeout,
                live=live_options,
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
            doc.sample_mode = sample_mode
            progress.step("writing the report", None)
            paths = write_evaluation(doc, out)
            progress.finish()
        finally:
            for s in (src_store, dst_store):
                try:
                    s.close()
                except Exception as e:  # closing must not hide the report
                    console.print(f"warning: closing {s.kind}: {e}")
    assert doc.verdict is not None
    verdict = doc.verdict.to_json()
    color = {"SAFE": "green", "NOT SAFE": "red"}.get(verdict["status"], "yellow")
    console.print()
    console.print(f"[bold {color}]{verdict['headline']}[/bold {color}]", highlight=False)
    for r in verdict["reasons"]:
        console.print(f"  ✗ {r['line']}", highlight=False, markup=False)
    for r in verdict["unknown"]:
        console.print(f"  ? {r['line']}", highlight=False, markup=False)
    for n in verdict["not_checked"]:
        console.print(f"  - not checked: {n}", highlight=False, markup=False)
    for r in verdict["caveats"][:12]:
        console.print(f"  ! {r['line']}", highlight=False, markup=False)
    if len(verdict["caveats"]) > 12:
        console.print(f"  ... and {len(verdict['caveats']) - 12} more caveats in the report", highlight=False)
    for line in banners(doc.to_json()):
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)
    typer.echo(
        f"report: {paths['html'].resolve()} (also {paths['markdown'].name}, {paths['results'].name}); "
        f"{time.perf_counter() - started:.0f} s"
    )
    raise SystemExit(doc.verdict.exit_code)


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
