"""``storeswap serve``: the DynamoDB gateway in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storeswap.connect import open_store, redact_url
from storeswap.core.errors import ConfigurationError
from storeswap.numbers import parse_number

__all__ = ["register", "serve_command", "NON_LOOPBACK_WARNING"]

NON_LOOPBACK_WARNING = (
    "warning: the gateway listens on {host}, reachable from other machines, and --auth is off: "
    "anyone who can connect can read and change every table. Use --auth sigv4 --credentials FILE."
)


def serve_command(
    store: Annotated[str, typer.Option("--store", help="Store URL or name: memory, postgres, dynamodb, postgresql://...")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    auth: Annotated[str, typer.Option("--auth", help="none, or sigv4 (verify AWS Signature V4; needs --credentials).")] = "none",
    credentials: Annotated[
        Path | None, typer.Option("--credentials", help="AWS shared-credentials file of the accepted access keys.")
    ] = None,
    region: Annotated[str, typer.Option("--region", help="Region named in ARNs and the health line.")] = "us-east-1",
    max_body: Annotated[int, typer.Option("--max-body", help="Largest request body accepted, in bytes.")] = 16 * 1024 * 1024,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="Threads for store calls (default: inline for memory, else the store's pool size, with PostgreSQL's item operations on the event loop)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Server processes, each with its own store connection (not for memory).")
    ] = 1,
    ttl_sweep_s: Annotated[
        float | None,
        typer.Option("--ttl-sweep-s", help="Run the store's TTL sweeper every SECONDS (expired items are deleted)."),
    ] = None,
    server_timing: Annotated[
        bool, typer.Option("--server-timing", help="Answer with Server-Timing: store and app durations (profiling).")
    ] = False,
) -> None:
    """Serve DynamoDB's API (JSON 1.0 over HTTP) over a store, so unchanged AWS SDK code runs on it."""
    from storeswap.gateway.server import is_loopback, serve, serve_workers
    from storeswap.gateway.sigv4 import SigV4Verifier, load_credentials

    verifier = None
    if auth == "sigv4":
        if credentials is None:
            raise ConfigurationError("--auth sigv4 needs --credentials FILE (an AWS shared-credentials file)")
        verifier = SigV4Verifier(load_credentials(credentials))
    elif auth != "none":
        raise ConfigurationError(f"--auth is none or sigv4, not {auth!r}")
    if ttl_sweep_s is not None:
        parse_number(ttl_sweep_s, "--ttl-sweep-s is a positive number of seconds")
    if verifier is None and not is_loopback(host):
        typer.echo(NON_LOOPBACK_WARNING.format(host=host), err=True)
    if workers > 1:
        url = _shared_url(store)
        typer.echo(
            f"storeswap gateway: DynamoDB API on http://{host}:{port} over {redact_url(url)} in {workers} worker "
            f"processes; auth {'sigv4' if verifier else 'off'}. Ctrl-C stops it.",
            err=True,
        )
        serve_workers(url, workers=workers, host=host, port=port,
                      credentials=str(credentials) if verifier else None, region=region, max_body=max_body,
                      threads=threads, server_timing=server_timing, ttl_sweep_s=ttl_sweep_s)
        return
    if workers < 1:
        raise ConfigurationError("--workers is at least 1")
    with open_store(store) as backing:
        url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
        sweeper = None if ttl_sweep_s is None else backing.start_ttl_sweeper(ttl_sweep_s)
        typer.echo(
            f"storeswap gateway: DynamoDB API on {url} over {backing.kind} ({redact_url(store)}); "
            f"auth {'sigv4' if verifier else 'off'}{_sweep_note(ttl_sweep_s, sweeper)}. Ctrl-C stops it.",
            err=True,
        )
        try:
            serve(backing, host=host, port=port, auth=verifier, region=region, max_body=max_body, threads=threads,
                  server_timing=server_timing)
        finally:
            if sweeper is not None:
                sweeper.stop()


def _sweep_note(interval: float | None, sweeper: object) -> str:
    if interval is None:
        return ""
    if sweeper is None:
        return "; TTL: the store expires items itself"
    return f"; TTL sweep every {interval:g} s"


def _shared_url(store: str) -> str:
    """A URL every worker process can open on the same data (provisioning a bare name here, once)."""
    name = store.strip().lower()
    if name in ("memory", "memory://") or name.startswith("memory:"):
        raise ConfigurationError("--workers needs a store outside the process: each worker would get its own memory store")
    if "://" in store:
        return store
    if name == "postgres":
        from storeswap.backends import postgres

        return str(postgres.provision())
    if name == "dynamodb":
        from storeswap.backends import dynamodb

        return str(dynamodb.provision())
    raise ConfigurationError(f"unknown store {store!r}: use postgres, dynamodb or a URL with --workers")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve")(serve_command)
