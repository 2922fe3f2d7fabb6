"""The ``storeswap bench`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "parse_int_list"]


def parse_int_list(text: str, what: str) -> list[int]:
    """``"1,4,16"`` → ``[1, 4, 16]``; underscores allowed (``1_000_000``); a clear error otherwise."""
    try:
        values = [int(p.strip().replace("_", "")) for p in text.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"{what} takes comma-separated integers, not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise typer.BadParameter(f"{what} takes positive integers, not {text!r}")
    return values


def bench(
    store: Annotated[
        list[str],
        typer.Option("--store", "-s", help="Store URL or name (memory, postgres, dynamodb); repeat for several."),
    ],
    workload: Annotated[str, typer.Option("--workload", "-w", help="YCSB core workload A-F, or tenant.")] = "A",
    records: Annotated[int, typer.Option("--records", help="Records loaded before measuring.")] = 10_000,
    ops: Annotated[int, typer.Option("--ops", help="Operation pairs (adapter + raw) per run.")] = 5_000,
    concurrency: Annotated[
        str, typer.Option("--concurrency", help="Closed-loop thread counts, comma-separated.")
    ] = "1,4",
    rate: Annotated[
        float | None,
        typer.Option("--rate", help="Also run open loop at this many calls/s (latency from intended start)."),
    ] = None,
    sizes: Annotated[
        str | None,
        typer.Option(
            "--sizes",
            help="Table sizes for latency vs size, e.g. 10000,100000,1000000 [default: records and 10x records].",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for results.json and the reports.")] = Path(
        "bench-out"
    ),
    seed: Annotated[int, typer.Option("--seed", help="Random seed (keys, values, operation order).")] = 1,
) -> None:
    """Measure every store through its adapter and, interleaved, through its raw driver; write a report."""
    import logging

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from storeswap.benchmarks.report import baseline_flags, emulator_banner, write_report
    from storeswap.benchmarks.runner import BenchConfig, run_bench
    from storeswap.benchmarks.workloads import make_workload

    # Font matching chatter from matplotlib is not what --debug is for.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        make_workload(workload)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--workload") from None
    config = BenchConfig(
        stores=list(store),
        workload=workload,
        records=records,
        ops=ops,
        concurrency=parse_int_list(concurrency, "--concurrency"),
        rate=rate,
        sizes=parse_int_list(sizes, "--sizes") if sizes else None,
        seed=seed,
    )
    # On stderr: stdout carries only the report line (rich's transient bar left a blank line there).
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task("benchmark", total=None)

        def say(message: str) -> None:
            progress.update(task, description=message)

        doc = run_bench(config, progress=say)
        progress.update(task, description="writing the report")
        paths = write_report(doc, out)
    for line in emulator_banner(doc):
        typer.echo(f"warning: {line}", err=True)
    for line in baseline_flags(doc):
        typer.echo(f"warning: {line}", err=True)
    typer.echo(f"report: {paths['html']} (also {paths['markdown'].name}, {paths['results'].name})")


def register(app: typer.Typer) -> None:
    """Add ``storeswap bench`` to the CLI."""
    app.command("bench")(bench)
