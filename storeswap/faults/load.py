"""Load without lost updates: N threads and N processes on hot keys of one PostgreSQL table.

Workers (:class:`storeswap.faults.workload.Workload`) run conditional
increments and two-account transactions on a handful of hot keys for a
bounded time; their history is checked (:func:`storeswap.faults.history.check`)
against the final items: every acknowledged increment present exactly once,
no transaction half-applied, balances conserved.  The result carries
operations/s and conflicts/s (conflicts: failed conditions that the client
retried, and cancelled or conflicting transactions).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from typing import Any

from attrs import define

from storeswap.core.errors import StoreError
from storeswap.faults.history import Anomalies, History, Op, check
from storeswap.faults.workload import Workload, create_workload_table, read_final

__all__ = ["LoadResult", "run_load"]

COUNTERS = 4
ACCOUNTS = 8


@define
class LoadResult:
    """What one load run did and what its history check found."""

    mode: str
    workers: int
    seconds: float
    ops: int
    acknowledged: int
    unknown: int
    conflicts: int
    anomalies: Anomalies
    escaped: int

    @property
    def ops_per_second(self) -> float:
        """Finished operations per second."""
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def conflicts_per_second(self) -> float:
        """Conflicts met per second."""
        return self.conflicts / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "mode": self.mode,
            "workers": self.workers,
            "seconds": round(self.seconds, 2),
            "ops": self.ops,
            "acknowledged": self.acknowledged,
            "unknown": self.unknown,
            "conflicts": self.conflicts,
            "ops_per_second": round(self.ops_per_second, 1),
            "conflicts_per_second": round(self.conflicts_per_second, 1),
            "clean": self.anomalies.clean and self.escaped == 0,
            "anomalies": self.anomalies.summary(),
            "escaped": self.escaped,
        }


def _conflicts(ops: list[Op]) -> int:
    cancelled = sum(1 for op in ops if op.error.startswith("TransactionCanceled"))
    return sum(op.conflicts for op in ops) + cancelled


def _process_worker(url: str, table: str, seed: int, seconds: float, out: Any) -> None:
    from storeswap.adapters.postgres import PostgresStore

    store = PostgresStore(url, pool_size=2)
    history = History()
    try:
        w = Workload(store, table, history, counters=COUNTERS, accounts=ACCOUNTS, seed=seed)
        w.run(seconds=seconds)
    finally:
        store.close()
    out.put((history.ops, w.escaped))


def run_load(url: str, *, workers: int, seconds: float, processes: bool) -> LoadResult:
    """Run ``workers`` threads (or processes) for ``seconds`` on PostgreSQL at ``url`` and check the history."""
    from storeswap.adapters.postgres import PostgresStore

    store = PostgresStore(url, pool_size=workers + 2)
    try:
        table = create_workload_table(store, COUNTERS, ACCOUNTS, prefix="load")
        history = History()
        escaped: list[str] = []
        started = time.monotonic()
        if processes:
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            procs = [ctx.Process(target=_process_worker, args=(url, table, i, seconds, queue)) for i in range(workers)]
            for p in procs:
                p.start()
            for _ in procs:
                ops, esc = queue.get(timeout=seconds + 120)
                history.extend(ops)
                escaped.extend(esc)
            for p in procs:
                p.join()
        else:
            ws = [Workload(store, table, history, counters=COUNTERS, accounts=ACCOUNTS, seed=i) for i in range(workers)]
            ts = [threading.Thread(target=w.run, kwargs={"seconds": seconds}) for w in ws]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            escaped = [e for w in ws for e in w.escaped]
        # Each worker operated for ``seconds`` once started; process start-up is not load.
        elapsed = seconds if processes else time.monotonic() - started
        final = read_final(store, table)
        with contextlib.suppress(StoreError):
            store.delete_table(table)
    finally:
        store.close()
    return LoadResult(
        mode="processes" if processes else "threads",
        workers=workers,
        seconds=elapsed,
        ops=len(history.ops),
        acknowledged=history.count("ok"),
        unknown=history.count("unknown"),
        conflicts=_conflicts(history.ops),
        anomalies=check(history, final),
        escaped=len(escaped),
    )
