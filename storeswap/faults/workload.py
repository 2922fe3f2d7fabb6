"""The client side of the fault and load runs: hot-key increments and transfers through the port.

Each worker repeats, until its deadline or operation budget, one of:

* **increment** — an optimistic conditional update of a hot counter: read
  the item, then ``SET n = n + 1, version = :next ADD tokens :token`` under
  ``version = :seen``; a :class:`ConditionFailed` is a conflict (read again,
  try again);
* **transfer** — ``transact_write`` of two updates that move ``amount``
  between two accounts under ``balance >= :amount``, each adding the token
  to the account's ``txs`` set; a :class:`TransactionCanceled` is a definite
  "no".

The outcome rules are the port's (E1, E2): a retryable error that is not
``outcome_unknown`` means "not applied", so the same operation (same token)
is tried again, up to :data:`MAX_RETRIES` times; :class:`OutcomeUnknown`
ends the operation as ``unknown``; anything else ends it as ``failed``.  An
exception that is not a :class:`StoreError` is recorded as ``escaped``: the
port promises that never happens, so the runs count it as a defect.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from storeswap.core.errors import ConditionFailed, OutcomeUnknown, StoreError, TransactionCanceled
from storeswap.core.port import ItemStore, TxUpdate
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.core.values import StringSet
from storeswap.faults.history import INITIAL_BALANCE, History, Op

__all__ = ["MAX_RETRIES", "Workload", "create_workload_table", "read_final"]

#: Retries of one operation after errors that say "not applied" (conflicts are not counted here).
MAX_RETRIES = 8
#: Conflicts one increment may meet before it gives up as failed (a hot key under many threads).
MAX_CONFLICTS = 200


def create_workload_table(store: ItemStore, counters: int, accounts: int, prefix: str = "faults") -> str:
    """A fresh table holding ``counters`` counters at 0 and ``accounts`` accounts at the initial balance."""
    table = f"{prefix}-{uuid.uuid4().hex[:10]}"
    store.create_table(TableSpec(table, KeyAttribute("pk", "S")))
    for i in range(counters):
        store.put(table, {"pk": f"c{i}", "n": 0, "version": 0})
    for i in range(accounts):
        store.put(table, {"pk": f"a{i}", "balance": INITIAL_BALANCE})
    return table


def read_final(store: ItemStore, table: str) -> dict[str, dict[str, Any]]:
    """Every item of the workload table by partition key (a consistent scan)."""
    return {item["pk"]: item for item in store.scan_all(table, consistent=True)}


class Workload:
    """One worker's operations on a workload table, recorded into a shared :class:`History`."""

    def __init__(
        self, store: ItemStore, table: str, history: History, *, counters: int, accounts: int, seed: int
    ) -> None:
        self.store = store
        self.table = table
        self.history = history
        self.counters = counters
        self.accounts = accounts
        self.rng = random.Random(seed)
        self.escaped: list[str] = []

    def run(self, *, seconds: float | None = None, ops: int | None = None, transfer_share: float = 0.5) -> None:
        """Operate until ``seconds`` have passed or ``ops`` operations are done (whichever is given first)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        done = 0
        while (ops is None or done < ops) and (deadline is None or time.monotonic() < deadline):
            if self.accounts >= 2 and (self.counters == 0 or self.rng.random() < transfer_share):
                self.transfer()
            else:
                self.increment()
            done += 1

    def _attempt(self, op: Op, call: Callable[[], Any]) -> None:
        """Run one operation under the outcome rules; record it exactly once."""
        while True:
            try:
                call()
            except ConditionFailed:
                raise
            except TransactionCanceled as e:
                op.outcome, op.error = "failed", f"TransactionCanceled {e.codes}"
            except OutcomeUnknown as e:
                op.outcome, op.error = "unknown", str(e)[:200]
            except StoreError as e:
                if e.retryable and op.retries < MAX_RETRIES:
                    op.retries += 1
                    time.sleep(0.01 * op.retries)
                    continue
                op.outcome, op.error = "failed", f"{type(e).__name__}: {str(e)[:200]}"
            except Exception as e:  # the port promises none; recorded and counted as a defect
                op.outcome, op.error = "unknown", f"escaped {type(e).__name__}: {e}"
                self.escaped.append(op.error)
            else:
                op.outcome = "ok"
            self.history.record(op)
            return

    def increment(self) -> None:
        """One optimistic conditional increment of a random hot counter."""
        key = f"c{self.rng.randrange(self.counters)}"
        op = Op("increment", uuid.uuid4().hex[:16], (key,))
        while True:
            try:
                seen = self._read_version(key, op)
                if seen is None:
                    return
                self._attempt(op, functools.partial(self._conditional_increment, key, seen, op.token))
                return
            except ConditionFailed:
                op.conflicts += 1
                if op.conflicts >= MAX_CONFLICTS:
                    op.outcome, op.error = "failed", "too many conflicts"
                    self.history.record(op)
                    return

    def _conditional_increment(self, key: str, seen: int, token: str) -> None:
        self.store.update(
            self.table,
            {"pk": key},
            "SET n = n + :one, version = :next ADD tokens :token",
            condition="version = :seen",
            values={":one": 1, ":next": seen + 1, ":seen": seen, ":token": StringSet({token})},
        )

    def _read_version(self, key: str, op: Op) -> int | None:
        while True:
            try:
                item = self.store.get(self.table, {"pk": key}, consistent=True)
                return int(item["version"]) if item else 0
            except StoreError as e:
                if e.retryable and op.retries < MAX_RETRIES:
                    op.retries += 1
                    time.sleep(0.01 * op.retries)
                    continue
                op.outcome, op.error = "failed", f"read: {type(e).__name__}"
                self.history.record(op)
                return None

    def transfer(self) -> None:
        """One transaction moving 1-5 between two random accounts."""
        src, dst = self.rng.sample(range(self.accounts), 2)
        amount = self.rng.randint(1, 5)
        op = Op("transfer", uuid.uuid4().hex[:16], (f"a{src}", f"a{dst}"), amount=amount)
        token = StringSet({op.token})
        actions = [
            TxUpdate(
                self.table,
                {"pk": f"a{src}"},
                "SET balance = balance - :amount ADD txs :token",
                condition="balance >= :amount",
                values={":amount": amount, ":token": token},
            ),
            TxUpdate(
                self.table,
                {"pk": f"a{dst}"},
                "SET balance = balance + :amount ADD txs :token",
                values={":amount": amount, ":token": token},
            ),
        ]
        try:
            self._attempt(op, lambda: self.store.transact_write(actions))
        except ConditionFailed:  # not raised by transact_write; kept for the type checker's sake
            op.outcome = "failed"
            self.history.record(op)
