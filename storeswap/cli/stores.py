"""``storeswap tables``, ``describe``, ``contract`` and ``matrix``: looking at stores and checking them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from storeswap.cli import exit_codes
from storeswap.connect import open_store

__all__ = ["register"]

StoreOpt = Annotated[str, typer.Option("--store", help="Store URL or name: memory, postgres, dynamodb, postgresql://..., dynamodb://host:port")]


def tables(store: StoreOpt = "memory") -> None:
    """List the tables of a store."""
    with open_store(store) as s:
        for name in s.list_tables():
            typer.echo(name)


def describe(store: StoreOpt, table: Annotated[str, typer.Option("--table", help="Table name.")]) -> None:
    """Print a table's spec (keys, indexes, TTL, stream) as JSON."""
    with open_store(store) as s:
        typer.echo(json.dumps(s.describe_table(table).to_dict(), indent=2))


def contract(
    store: Annotated[list[str], typer.Option("--store", help="Store names to check (repeatable).")],
    pytest_args: Annotated[list[str] | None, typer.Argument(help="Extra pytest arguments.")] = None,
) -> None:
    """Run the shared contract suite against the given stores (a thin wrapper over pytest)."""
    import pytest

    args = ["--pyargs", "storeswap.contract_tests", "-p", "no:cacheprovider"]
    for s in store:
        args += ["--store", s]
    raise typer.Exit(exit_codes.from_pytest(pytest.main([*args, *(pytest_args or [])])))


MATRIX_START = "<!-- matrix:start -->"
MATRIX_END = "<!-- matrix:end -->"


def render_matrix() -> str:
    """The support matrix of the built-in stores, as Markdown, from the contract suite's markers."""
    from storeswap.contract_tests.matrix import BUILTIN_STORES, collect_matrix, render_markdown

    args: list[str] = []
    for s in BUILTIN_STORES:
        args += ["--store", s]
    stores, cells = collect_matrix(args)
    return render_markdown(stores, cells)


def replace_section(text: str, start: str, end: str, body: str) -> str:
    """``text`` with everything between the ``start`` and ``end`` marker lines replaced by ``body``."""
    head, sep, rest = text.partition(start)
    if not sep or end not in rest:
        raise ValueError(f"markers {start} ... {end} not found")
    return f"{head}{start}\n{body.strip()}\n{end}{rest.split(end, 1)[1]}"


def matrix(
    write: Annotated[
        Path | None, typer.Option("--write", help="Replace the matrix section of this file (the README) instead of printing.")
    ] = None,
) -> None:
    """Print the support matrix (requirement x store), generated from the contract suite's markers."""
    table = render_matrix()
    if write is None:
        typer.echo(table)
        return
    write.write_text(replace_section(write.read_text(encoding="utf-8"), MATRIX_START, MATRIX_END, table), encoding="utf-8")
    typer.echo(f"wrote the support matrix into {write}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command()(tables)
    app.command()(describe)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(contract)
    app.command()(matrix)
