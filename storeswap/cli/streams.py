"""``storeswap changes``, ``ttl`` and ``expire``: reading change streams and running TTL from the command line."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from storeswap.connect import open_store
from storeswap.core.changes import ChangeRecord, Position, decode_position, encode_position
from storeswap.core.errors import ValidationError
from storeswap.migrate.stream_json import stream_arn, stream_record_json

__all__ = ["register"]

StoreOpt = Annotated[
    str, typer.Option("--store", help="Store URL or name: memory, postgres, dynamodb, postgresql://..., dynamodb://host:port")
]
TableOpt = Annotated[str, typer.Option("--table", help="Table name.")]


def changes(
    store: StoreOpt,
    table: TableOpt,
    start: Annotated[
        str,
        typer.Option("--from", help="trim-horizon (everything retained), latest (only new changes) or a position."),
    ] = "trim-horizon",
    follow: Annotated[bool, typer.Option("--follow", help="Keep waiting for new records (Ctrl-C stops).")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One DynamoDB Streams JSON record per line (what a Lambda handler gets).")
    ] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between polls with --follow.")] = 1.0,
) -> None:
    """Print a table's change records, every shard, parents first; the resume position goes to stderr.

    Without --follow it prints what the stream holds when it starts (up to a latest position taken first), and
    ends, however busy the table; --from the printed position resumes after it.
    """
    with open_store(store) as s:
        latest: str | None = None
        if start == "trim-horizon":
            position = None
        elif start == "latest":
            position = latest = s.latest_position(table)
        else:
            decode_position(start, table)  # a bad position is one clear error before anything is read
            position = start
        arn: str | None = None

        def show(record: ChangeRecord) -> None:
            nonlocal arn
            if as_json:
                if arn is None:
                    arn = stream_arn(s.kind, table, decode_position(record.position, table).stream)
                typer.echo(json.dumps(stream_record_json(record, arn), ensure_ascii=False))
            else:
                typer.echo(
                    f"{record.kind:<6} {record.shard} {record.sequence:>8} "
                    f"{json.dumps(_plain(record.keys), ensure_ascii=False)}"
                    + ("  (ttl)" if record.by_system else "")
                )

        try:
            if not follow:
                # What the stream holds now, and no more: on a table whose writes never pause, reading until a
                # page comes back empty would print for ever.
                until: str | None = latest if latest is not None else s.latest_position(table)
                stream = decode_position(until, table).stream
                if position is not None and decode_position(position, table).stream != stream:
                    until = None  # an earlier stream records nothing more: read to its end, that ends
                elif position is None:
                    position = encode_position(Position(table, stream, {}))  # the trim horizon of that stream
                if position != until:
                    for record in s.iter_changes(table, after=position, until=until):
                        show(record)
                        position = record.position  # it resumes right after that record, never past another
            else:
                while True:
                    page = s.changes(table, after=position)
                    for record in page.records:
                        show(record)
                    position = page.position
                    if not page.records:
                        time.sleep(poll)
        except KeyboardInterrupt:
            pass
        typer.echo(f"position: {position or 'trim-horizon'}", err=True)


def _plain(keys: dict[str, object]) -> dict[str, object]:
    return {k: (str(v) if not isinstance(v, str) else v) for k, v in keys.items()}


def ttl(
    store: StoreOpt,
    table: TableOpt,
    attribute: Annotated[str | None, typer.Option("--attribute", help="The TTL attribute (epoch seconds).")] = None,
    disable: Annotated[bool, typer.Option("--disable", help="Turn TTL off.")] = False,
) -> None:
    """Enable TTL on an attribute of a table (or turn it off with --disable)."""
    if (attribute is None) == (not disable):
        raise ValidationError("give either --attribute NAME or --disable")
    with open_store(store) as s:
        spec = s.set_ttl(table, None if disable else attribute)
        state = f"on attribute {spec.ttl_attribute}" if spec.ttl_attribute else "off"
        typer.echo(f"TTL of {table} is {state}")


def expire(
    store: StoreOpt,
    table: TableOpt,
    now: Annotated[int | None, typer.Option("--now", help="Sweep as of these epoch seconds (default: now).")] = None,
) -> None:
    """Run one TTL sweep: remove the table's expired items (conditional deletes)."""
    with open_store(store) as s:
        removed = s.expire(table, now=now)
        typer.echo(f"removed {removed} expired item{'s' if removed != 1 else ''} from {table}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command()(changes)
    app.command()(ttl)
    app.command()(expire)
