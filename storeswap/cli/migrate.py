"""``storeswap migrate``, ``verify``, ``check``, ``export``, ``cutover`` and ``migrate-status``: the migration commands.

Exit codes: ``migrate`` 0 when the copy finished, 1 when ``check`` found a
blocking problem (and no ``--force``); ``verify`` 0 when identical, 1 when
the tables differ; ``check`` 0, or 1 with a blocking finding; ``cutover`` 0 go, 1
no-go, 3 unknown (the check could not tell); errors are one
line with the codes of :mod:`storeswap.cli.exit_codes` (``--debug`` for the
traceback).

Exit codes are raised as ``SystemExit``, not ``typer.Exit``: ``cli.main``
runs the app with ``standalone_mode=False``, where click turns ``Exit`` into
a return value that ``main`` does not pass on.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperCommand

from storeswap.cli import exit_codes
from storeswap.cli.progress import RichCopyProgress, RichFollowProgress
from storeswap.connect import open_store, redact_url
from storeswap.core.errors import ConfigurationError
from storeswap.migrate.check import CheckReport, Preflight, preflight
from storeswap.migrate.copy import (
    CopyReport,
    check_incremental_source,
    copy_identity,
    copy_table,
    replay_after_copy,
    state_backend,
)
from storeswap.migrate.engine import MAX_LOCAL_THREADS, EngineSpec, parse_engine
from storeswap.migrate.follow import follow_changes, follow_source, start_follow
from storeswap.migrate.read_capacity import ReadCapacityLimiter, limit_read_capacity, parse_max_rcu
from storeswap.migrate.sources import ScanSource, default_segments, open_source
from storeswap.migrate.state import default_state_path
from storeswap.migrate.transform import TransformedSource, load_transform
from storeswap.migrate.verify import DEFAULT_BUCKETS, VerifyReport, verify_tables

__all__ = ["register"]

SourceOpt = Annotated[
    str,
    typer.Option(
        "--source",
        help="Store URL (memory://, postgresql://..., dynamodb://host:port, or memory / postgres / dynamodb "
        "for the default provisioning) or dynamodb-export:PATH for DynamoDB 'Export to S3' files "
        "(a directory, or s3://bucket/prefix/ read straight from S3).",
    ),
]
TargetOpt = Annotated[str, typer.Option("--target", help="Target store URL.")]
TableOpt = Annotated[str, typer.Option("--table", help="Table name (for an export source: the table to create).")]
TargetTableOpt = Annotated[str | None, typer.Option("--target-table", help="Name on the target (default: --table).")]
SpecJsonOpt = Annotated[
    Path | None,
    typer.Option("--spec-json", help="Export source: the table spec (TableSpec JSON or a DescribeTable response)."),
]
PartitionKeyOpt = Annotated[
    str | None, typer.Option("--partition-key", help="Export source without a spec file: partition key as name:S|N|B.")
]
SortKeyOpt = Annotated[str | None, typer.Option("--sort-key", help="Export source: sort key as name:S|N|B.")]
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="Checkpoint file (default .storeswap/migrate-TABLE-to-TARGET-HASH.json, one per pair of "
        "endpoints); rerun to resume. A state written for another copy is refused.",
    ),
]
StateInTargetOpt = Annotated[
    bool,
    typer.Option(
        "--state-in-target",
        help="Keep the checkpoint in the target store (table storeswap_migrate_state), so a resume on "
        "another machine finds it.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a machine-readable report.")]
MaxRcuOpt = Annotated[
    str | None,
    typer.Option(
        "--max-rcu",
        help="Cap the read capacity units per second consumed from a dynamodb:// source (a token bucket; "
        "split evenly across the worker processes of a processes / dask engine).",
    ),
]
SegmentsOpt = Annotated[
    int | None,
    typer.Option("--segments", min=1, help="Parallel-scan segments (default: one per data file of an export, else 4)."),
]
TransformOpt = Annotated[
    str | None,
    typer.Option(
        "--transform",
        help="module:function or file.py:function mapping one source item to zero or more target items "
        "(key redesigns, write sharding).",
    ),
]


def _print_paced(limiter: ReadCapacityLimiter | None) -> None:
    if limiter is not None:
        st = limiter.stats
        typer.echo(
            f"read capacity (this process): {st.charged:,.1f} RCU charged over {st.requests} requests "
            f"({st.estimated:,.1f} estimated), {st.waits} waits, {st.waited_seconds:.1f}s waited "
            f"(--max-rcu {limiter.max_rcu:g})"
        )


def _transformed(src: ScanSource, transform: str | None) -> TransformedSource | None:
    return None if transform is None else TransformedSource(src, load_transform(transform))


def _print_preflight(pre: Preflight) -> None:
    if pre.transform is not None:
        for line in pre.transform.lines():
            typer.echo(line)
    if pre.rules is not None:
        _print_check(pre.rules)


def _print_check(report: CheckReport) -> None:
    target = report.target_kind or "any store"
    typer.echo(f"check {report.table} ({report.source_kind} -> {target}): {report.items} items scanned")
    if not report.findings:
        typer.echo("  nothing found that would not survive the move")
    for s in report.settings:
        kept = {True: "kept", False: "LOST (blocking)", None: "not checked"}[s["supported"]]
        typer.echo(f"  [setting] {s['setting']} {s['value']}: {kept} - {s['detail']}")
    for f in report.findings:
        typer.echo(f"  [{f.rule.severity}] {f.rule.id}: {f.count} item(s) - {f.rule.title} ({f.rule.why})")
        for ex in f.examples[:3]:
            typer.echo(f"      e.g. key {json.dumps(ex['key'], ensure_ascii=True)}: {ex['detail']}")


def _print_verify(report: VerifyReport) -> None:
    verdict = "IDENTICAL" if report.identical else "DIFFERENT"
    typer.echo(
        f"verify {report.table} -> {report.target_table}: {verdict}; source {report.source_items} items, "
        f"target {report.target_items} items, {report.buckets} buckets, {report.seconds:.1f}s"
    )
    typer.echo(f"  digest source {report.source_digest}")
    typer.echo(f"  digest target {report.target_digest}")
    for d in report.spec_differences:
        typer.echo(f"  spec differs: {d}")
    if report.differing_buckets:
        typer.echo(
            f"  {len(report.differing_buckets)} bucket(s) differ: {report.missing} missing on the target, "
            f"{report.extra} extra, {report.changed} changed"
        )
    for ix in report.indexes:
        if ix.identical:
            typer.echo(f"  index {ix.name}: identical, {ix.source_entries} entries in {ix.partitions} partition(s)")
            continue
        typer.echo(
            f"  index {ix.name}: DIFFERENT; source {ix.source_entries} entries, target {ix.target_entries}; "
            f"{ix.differing_partitions} partition(s) differ: {ix.missing} missing, {ix.extra} extra, "
            f"{ix.changed} changed, {ix.order} out of order" + (f"; {ix.error}" if ix.error else "")
        )
        for entry in ix.details[:20]:
            js = entry.to_json()
            typer.echo(f"      {entry.kind}: partition {json.dumps(js['partition'])} key {json.dumps(js['key'])}")
    for diff in report.details:
        typer.echo(f"  {diff.kind}: {json.dumps(diff.to_json()['key'], ensure_ascii=True)}")
        for fd in diff.fields:
            typer.echo(f"      {json.dumps(fd.to_json(), ensure_ascii=True)}")
    if report.details_truncated:
        typer.echo("  (more differences not listed; raise --max-details)")


def migrate(
    source: SourceOpt,
    target: TargetOpt,
    table: TableOpt,
    target_table: TargetTableOpt = None,
    segments: SegmentsOpt = None,
    workers: Annotated[int | None, typer.Option("--workers", min=1, help="Threads (default: --segments, at most 32).")] = None,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Items per page read and bulk write.")] = 500,
    state: StateOpt = None,
    state_in_target: StateInTargetOpt = False,
    restart: Annotated[
        bool, typer.Option("--restart", help="Forget the stored checkpoint and copy from the start.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Copy even when check finds blocking problems.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Run verify after the copy.")] = False,
    spec_json: SpecJsonOpt = None,
    partition_key: PartitionKeyOpt = None,
    sort_key: SortKeyOpt = None,
    transform: TransformOpt = None,
    apply_incremental: Annotated[
        list[str] | None,
        typer.Option(
            "--apply-incremental",
            help="After the copy, replay this DynamoDB incremental export (repeat, or a folder holding several; "
            "applied in window order; a directory or s3://bucket/prefix/). Needs --source dynamodb-export:FULL.",
        ),
    ] = None,
    no_checksums: Annotated[
        bool,
        typer.Option(
            "--no-checksums",
            help="Read export files (full and incremental) whose MD5 / manifest checksums differ from the manifest.",
        ),
    ] = False,
    max_rcu: MaxRcuOpt = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="Where segments run: threads (this process), processes[:N] (a local Dask cluster of N worker "
            "processes) or dask://HOST:PORT (an existing Dask scheduler).",
        ),
    ] = "threads",
    state_url: Annotated[
        str | None,
        typer.Option(
            "--state-url",
            help="Checkpoints every worker reaches (postgresql://...), for processes / dask engines "
            "(default: the target when it is PostgreSQL).",
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Record the source's change-stream position before the copy, then replay its changes into the "
            "target (until Ctrl-C, or --until-caught-up). Rerun to resume from the checkpoint.",
        ),
    ] = False,
    until_caught_up: Annotated[
        bool, typer.Option("--until-caught-up", help="With --follow: stop once no change is left to replay.")
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="JSON lines on stdout: with --follow one status (lag, records/s) per refresh, then a final "
            "report of the copy, the replay and the verify; the human lines go to stderr.",
        ),
    ] = False,
) -> None:
    """Copy a table between two stores: check, create the target table, parallel copy with checkpoints.

    `storeswap migrate status --state PATH [--json]` (or migrate-status) shows a running copy's progress and lag."""

    target_table = target_table or table
    engine_spec = parse_engine(engine)
    if engine_spec.distributed:
        if spec_json is not None or partition_key is not None or sort_key is not None:
            raise ConfigurationError("--spec-json / --partition-key / --sort-key need --engine threads")
        if state is not None or state_in_target:
            raise ConfigurationError(
                "--state / --state-in-target are for --engine threads; a distributed engine keeps "
                "its checkpoints at --state-url"
            )
        if state_url is None and target.startswith(("postgresql://", "postgres://")):
            state_url = target
        if state_url is None:
            raise ConfigurationError(f"--engine {engine} needs --state-url postgresql://... for its checkpoints")
        if transform is not None or apply_incremental:
            raise ConfigurationError("--transform / --apply-incremental need --engine threads")
    if state is not None and state_in_target:
        raise typer.BadParameter("give --state or --state-in-target, not both", param_hint="--state")
    if transform is not None and apply_incremental:
        raise typer.BadParameter("--transform does not apply to incremental exports", param_hint="--transform")
    if until_caught_up and not follow:
        raise typer.BadParameter("--until-caught-up needs --follow", param_hint="--until-caught-up")
    real_stdout = sys.stdout

    def emit(obj: dict[str, Any]) -> None:
        real_stdout.write(json.dumps(obj, ensure_ascii=True, default=str) + "\n")
        real_stdout.flush()

    done: dict[str, Any] = {"event": "done", "table": table, "target_table": target_table}
    # With --json, stdout carries only JSON lines; every human line goes to stderr.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        rcu = None if max_rcu is None else parse_max_rcu(max_rcu)
        src = open_source(
            source, spec_json=spec_json, partition_key=partition_key, sort_key=sort_key, checksums=not no_checksums
        )
        segments = segments or default_segments(src)
        dst = open_store(target)
        try:
            limiter = None if rcu is None else limit_read_capacity(src, rcu)
            fsrc = follow_source(src, table, transformed=transform is not None, incremental=bool(apply_incremental),
                                 distributed=engine_spec.distributed) if follow else None  # fmt: skip
            if apply_incremental:
                check_incremental_source(src, apply_incremental, checksums=not no_checksums)
            tsrc = _transformed(src, transform)
            copy_src = tsrc or src
            identity = copy_identity(copy_src, dst, table, target_table=target_table, segments=segments, batch=batch)
            state_path = None if state_in_target else (state or default_state_path(identity))
            backend = state_backend(dst, table, target_table, state_path, state_in_target)
            assert backend is not None
            if restart and not engine_spec.distributed:
                backend.clear()
            if not engine_spec.distributed and backend.load() is not None:
                # A resume: the first run already checked (or was forced); a second full scan buys nothing.
                typer.echo(f"resuming from {backend.where}", err=True)
            else:
                kind = dst.kind if dst.kind in ("memory", "postgres", "dynamodb") else None
                report = preflight(src, table, kind, segments=segments, transform=tsrc, target=dst)
                _print_preflight(report)
                if report.transform is not None and not report.transform.ok:
                    typer.echo("the transform check failed; nothing was written (--force does not override it)", err=True)
                    raise SystemExit(1)
                if not report.ok and not force:
                    typer.echo("blocking problems found; fix them or rerun with --force", err=True)
                    raise SystemExit(1)
            if fsrc is not None:
                start_follow(fsrc, dst, table, target_table=target_table, segments=segments, batch=batch,
                             state_path=state_path, state_in_target=state_in_target)  # fmt: skip
            with RichCopyProgress(f"{table} -> {target_table}") as bar:
                if engine_spec.distributed:
                    assert state_url is not None
                    result = _copy_on_engine(
                        engine_spec, source, target, table, target_table, segments, batch, state_url, bar, restart,
                        rcu, not no_checksums,
                    )  # fmt: skip
                else:
                    result = copy_table(
                        copy_src,
                        dst,
                        table,
                        target_table=target_table,
                        segments=segments,
                        workers=workers or min(segments, MAX_LOCAL_THREADS),
                        batch=batch,
                        state_path=state_path,
                        state_in_target=state_in_target,
                        progress=bar,
                    )
            typer.echo(
                f"copied {result.items} items of {table} ({src.kind}) to {target_table} on {redact_url(target)} "
                f"({result.items_this_run} this run in {result.seconds:.1f}s, {result.items_per_second:,.0f} items/s"
                f"{', resumed' if result.resumed else ''}{', table created' if result.created_table else ''})"
            )
            _print_paced(limiter)
            if engine_spec.distributed:
                typer.echo(f"checkpoints: {redact_url(state_url or '')} (engine {engine_spec}, {result.workers} workers)")
            else:
                typer.echo(f"state file: {state_path.resolve()}" if state_path is not None else f"state: {backend.where}")
            if apply_incremental:
                rr = replay_after_copy(
                    src, dst, table, apply_incremental, target_table=target_table, segments=segments, batch=batch,
                    state_path=state_path, state_in_target=state_in_target, checksums=not no_checksums,
                )  # fmt: skip
                for problem in rr.checksum_problems:
                    typer.echo(f"warning: checksum mismatch accepted (--no-checksums): {problem}", err=True)
                typer.echo(
                    f"replayed {rr.exports} incremental export(s): {rr.records} records ({rr.puts} puts, "
                    f"{rr.deletes} deletes) this run, {rr.resumed_past} applied before"
                )
            done["copy"] = result.to_json()
            if fsrc is not None:
                with RichFollowProgress(f"{table} -> {target_table}", disable=as_json) as fbar:

                    def on_status(status: dict[str, Any]) -> None:
                        fbar.status(status)
                        if as_json:
                            emit({"event": "follow-status", "table": table, "target_table": target_table, **status})

                    fr = follow_changes(fsrc, dst, table, target_table=target_table, segments=segments, batch=batch,
                                        state_path=state_path, state_in_target=state_in_target,
                                        until_caught_up=until_caught_up, progress=fbar.advance,
                                        on_status=on_status)  # fmt: skip
                typer.echo(fr.summary())
                done["follow"] = fr.to_json()
            if verify and apply_incremental:
                typer.echo("verify skipped: the target now holds the incrementals, the source does not", err=True)
            elif verify:
                vr = verify_tables(copy_src, dst, table, target_table, segments=segments)
                _print_verify(vr)
                done["verify"] = vr.to_json()
            if as_json:
                emit(done)
            if "verify" in done and not done["verify"]["identical"]:
                raise SystemExit(1)
        finally:
            src.close()
            dst.close()


def _copy_on_engine(
    spec: EngineSpec,
    source: str,
    target: str,
    table: str,
    target_table: str,
    segments: int,
    batch: int,
    state_url: str,
    bar: RichCopyProgress,
    restart: bool,
    max_rcu: float | None,
    checksums: bool,
) -> CopyReport:
    from storeswap.migrate.distributed import copy_table_on, read_capacity_stats
    from storeswap.migrate.engine import DaskEngine, open_engine

    with open_engine(spec) as eng:
        report = copy_table_on(
            eng, source, target, table, target_table=target_table, segments=segments, batch=batch,
            state_url=state_url, progress=bar, restart=restart, max_rcu=max_rcu, checksums=checksums,
        )
        if max_rcu is not None and isinstance(eng, DaskEngine):
            # Each worker's own limiter (a replacement worker's share is counted from its start).
            for worker, limiters in sorted(eng.client.run(read_capacity_stats).items()):
                for lim in limiters:
                    typer.echo(
                        f"read capacity on {worker}: {lim['charged']:,.1f} RCU charged over {lim['requests']} "
                        f"requests, {lim['waits']} waits (its share: {lim['max_rcu']:g} RCU/s)"
                    )
        return report


def verify(
    source: SourceOpt,
    target: TargetOpt,
    table: TableOpt,
    target_table: TargetTableOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report.")] = False,
    buckets: Annotated[int, typer.Option("--buckets", min=1, help="Hash buckets compared.")] = DEFAULT_BUCKETS,
    segments: SegmentsOpt = None,
    max_details: Annotated[int, typer.Option("--max-details", min=0, help="Differences listed at most.")] = 100,
    spec_json: SpecJsonOpt = None,
    partition_key: PartitionKeyOpt = None,
    sort_key: SortKeyOpt = None,
    transform: TransformOpt = None,
    engine: Annotated[
        str,
        typer.Option("--engine", help="Where pass 1's bucket digests run: threads, processes[:N] or dask://HOST:PORT."),
    ] = "threads",
    max_rcu: MaxRcuOpt = None,
) -> None:
    """Compare two tables item by item (bucket digests, then a field-level diff). Exit 0 identical, 1 differ.

    With --transform the target is compared with the transform of the source."""
    src: ScanSource | None = None
    dst: ScanSource | None = None
    limiter: ReadCapacityLimiter | None = None
    try:
        engine_spec = parse_engine(engine)
        rcu = None if max_rcu is None else parse_max_rcu(max_rcu)
        src = open_source(source, spec_json=spec_json, partition_key=partition_key, sort_key=sort_key)
        segments = segments or default_segments(src)
        dst = open_source(target)
        limiter = None if rcu is None else limit_read_capacity(src, rcu)
        vsrc = _transformed(src, transform) or src
        if engine_spec.distributed:
            if transform is not None:
                raise ConfigurationError("--transform needs --engine threads (the workers read the source as it is)")
            from storeswap.migrate.distributed import digests_on
            from storeswap.migrate.engine import open_engine

            with open_engine(engine_spec) as eng:
                report = verify_tables(
                    vsrc, dst, table, target_table, buckets, segments=segments, max_details=max_details,
                    digests=digests_on(eng, source, target, max_rcu=rcu),
                )
        else:
            report = verify_tables(
                vsrc, dst, table, target_table, buckets, segments=segments, max_details=max_details
            )
    finally:
        for s in (src, dst):
            if s is not None:
                s.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        _print_verify(report)
        _print_paced(limiter)
    raise SystemExit(0 if report.identical else 1)


def check(
    source: SourceOpt,
    table: TableOpt,
    target_kind: Annotated[
        str | None, typer.Option("--target", help="Target kind: memory, postgres or dynamodb (default: all rules).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report.")] = False,
    segments: SegmentsOpt = None,
    spec_json: SpecJsonOpt = None,
    partition_key: PartitionKeyOpt = None,
    sort_key: SortKeyOpt = None,
    transform: TransformOpt = None,
    max_rcu: MaxRcuOpt = None,
) -> None:
    """Report what would not survive moving a table (exit 1 when something blocks the move).

    With --transform, first the transform's collisions, rejections and key-size overflows over the whole source."""
    rcu = None if max_rcu is None else parse_max_rcu(max_rcu)
    src = open_source(source, spec_json=spec_json, partition_key=partition_key, sort_key=sort_key)
    try:
        segments = segments or default_segments(src)
        limiter = None if rcu is None else limit_read_capacity(src, rcu)
        report = preflight(src, table, target_kind, segments=segments, transform=_transformed(src, transform))
    finally:
        src.close()
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        _print_preflight(report)
        _print_paced(limiter)
    raise SystemExit(0 if report.ok else 1)


def export(
    source: SourceOpt,
    table: TableOpt,
    out: Annotated[Path, typer.Option("--out", help="Directory to write the export into.")],
    items_per_file: Annotated[int, typer.Option("--items-per-file", min=1, help="Items per data file.")] = 50_000,
) -> None:
    """Write a table as a DynamoDB 'Export to S3' (DYNAMODB_JSON) directory."""
    from storeswap.migrate.export import write_export

    src = open_source(source)
    try:
        written = write_export(src, table, out, items_per_file=items_per_file)
    finally:
        src.close()
    typer.echo(f"exported {written.item_count} items in {len(written.files)} file(s) to {written.path.resolve()}")


def cutover(
    source: SourceOpt,
    target: TargetOpt,
    table: TableOpt,
    target_table: TargetTableOpt = None,
    state: StateOpt = None,
    state_in_target: StateInTargetOpt = False,
    quiet_s: Annotated[
        float, typer.Option("--quiet-s", min=0, help="Seconds the follower must show lag 0 before the verify.")
    ] = 5.0,
    poll_s: Annotated[float, typer.Option("--poll-s", min=0.01, help="How often the follower is looked at.")] = 0.5,
    timeout_s: Annotated[
        float, typer.Option("--timeout-s", min=0, help="Seconds to wait for a follower that is behind (default: none).")
    ] = 0.0,
    buckets: Annotated[int, typer.Option("--buckets", min=1, help="Hash buckets compared.")] = DEFAULT_BUCKETS,
    segments: Annotated[int, typer.Option("--segments", min=1, help="Parallel-scan segments per side.")] = 4,
    max_details: Annotated[
        int, typer.Option("--max-details", min=1, help="Differences held to tell in-flight ones from real ones.")
    ] = 10_000,
    max_rcu: MaxRcuOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Go / no-go for switching to the target: follower caught up, then verify with in-flight items set apart.

    Exit 0 go, 1 no-go, 3 unknown (the check could not tell). Reads only; writes neither store."""
    from storeswap.migrate.cutover import cutover_check

    if state is not None and state_in_target:
        raise typer.BadParameter("give --state or --state-in-target, not both", param_hint="--state")
    target_table = target_table or table
    rcu = None if max_rcu is None else parse_max_rcu(max_rcu)
    with open_store(source) as src, open_store(target) as dst:
        limiter = None if rcu is None else limit_read_capacity(src, rcu)  # the verify scans the source
        state_path = None
        if not state_in_target:
            state_path = state or default_state_path(copy_identity(src, dst, table, target_table=target_table))
        report = cutover_check(
            src, dst, table, target_table=target_table, state_path=state_path, state_in_target=state_in_target,
            quiet_s=quiet_s, poll_s=poll_s, timeout_s=timeout_s, buckets=buckets, segments=segments,
            max_details=max_details,
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    else:
        typer.echo(report.summary())
        _print_paced(limiter)
    raise SystemExit({"go": exit_codes.OK, "no-go": exit_codes.NEGATIVE}.get(report.outcome, exit_codes.UNAVAILABLE))


def migrate_status(
    state: Annotated[
        Path | None, typer.Option("--state", help="The copy's checkpoint file, as migrate --state wrote it.")
    ] = None,
    state_in_target: Annotated[
        bool,
        typer.Option("--state-in-target", help="Read the state kept in the target (with --target and --table)."),
    ] = False,
    target: Annotated[str | None, typer.Option("--target", help="Target store URL (with --state-in-target).")] = None,
    table: Annotated[str | None, typer.Option("--table", help="Source table name (with --state-in-target).")] = None,
    target_table: TargetTableOpt = None,
    state_url: Annotated[
        str | None,
        typer.Option("--state-url", help="List the copies checkpointed at this postgresql:// URL (distributed engines)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Progress of a copy and its follower, read from the state (another terminal): segments, items, lag."""
    from storeswap.migrate.state import FileState, TargetState
    from storeswap.migrate.status import parse_status

    if [state is not None, state_in_target, state_url is not None].count(True) != 1:
        raise typer.BadParameter("give one of --state PATH, --state-in-target (with --target and --table), --state-url")
    if state_url is not None:
        from storeswap.migrate.shared_state import list_copies

        copies = list_copies(state_url)
        if as_json:
            typer.echo(json.dumps({"state_url": redact_url(state_url), "copies": copies}, indent=2))
            return
        if not copies:
            typer.echo(f"no copies checkpointed at {redact_url(state_url)}")
        for c in copies:
            done = "finished" if c["complete"] else "in progress"
            typer.echo(
                f"copy {c['copy_id']}: {done}; {c['segments_done']} of {c['segments_total']} segments done, "
                f"{c['items_copied']} items copied; updated {c['updated']}"
            )
        return
    if state is not None:
        backend = FileState(state)
        text = backend.load()
    else:
        if target is None or table is None:
            raise typer.BadParameter("--state-in-target needs --target and --table", param_hint="--state-in-target")
        with open_store(target) as dst:
            backend = TargetState(dst, table, target_table or table)
            text = backend.load()
    if text is None:
        raise ConfigurationError(f"no migration state at {backend.where}")
    status = parse_status(text, backend.where)
    if as_json:
        typer.echo(json.dumps(status.to_json(), indent=2, ensure_ascii=True))
    else:
        for line in status.lines():
            typer.echo(line)


_STATUS_ARGS = "storeswap.migrate-status-args"


class _MigrateCommand(TyperCommand):
    """``migrate`` that also answers ``migrate status ...``: the same command as ``migrate-status``.

    ``migrate`` is one command with options, not a group, so existing ``storeswap migrate --source ...``
    invocations keep working; only a first argument ``status`` is routed to the status reader.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args[:1] == ["status"]:
            ctx.meta[_STATUS_ARGS] = args[1:]
            return []
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        if _STATUS_ARGS in ctx.meta:
            status_app = typer.Typer(add_completion=False, rich_markup_mode=None)
            status_app.command()(migrate_status)
            command = typer.main.get_command(status_app)
            return command.main(ctx.meta[_STATUS_ARGS], prog_name="storeswap migrate status", standalone_mode=False)
        return super().invoke(ctx)


def register(app: typer.Typer) -> None:
    """Add the migration commands to the ``storeswap`` app."""
    app.command("migrate", cls=_MigrateCommand)(migrate)
    app.command("verify")(verify)
    app.command("check")(check)
    app.command("export")(export)
    app.command("cutover")(cutover)
    app.command("migrate-status")(migrate_status)
