"""``storeswap tables``, ``describe``, ``contract`` and ``matrix``: looking at stores and checking them."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

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
    raise typer.Exit(int(pytest.main([*args, *(pytest_args or [])])))


def matrix() -> None:
    """Print the support matrix (requirement x store), generated from the contract suite's markers."""
    from storeswap.contract_tests.matrix import main as matrix_main

    sys.exit(matrix_main([]))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command()(tables)
    app.command()(describe)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(contract)
    app.command()(matrix)
