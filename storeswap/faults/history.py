"""Histories of invocations and results, and the checker that finds lost updates in them.

A workload (:mod:`storeswap.faults.workload`) records one :class:`Op` per
logical operation: its kind (``increment`` of a hot counter or ``transfer``
between two accounts), its unique token, and how it ended:

* ``ok`` — the store acknowledged it: it must be applied exactly once;
* ``failed`` — a definite failure (a cancelled transaction, retries that ran
  out on errors that say "not applied"): it must not be applied;
* ``unknown`` — :class:`OutcomeUnknown`: applied once or not at all, either is
  allowed, but it is counted.

Each increment adds its token to the counter item's ``tokens`` set and 1 to
its ``n``; each transfer adds its token to both accounts' ``txs`` sets and
moves ``amount``.  The final items therefore say exactly which operations
were applied, and :func:`check` compares that with the history: an
acknowledged token that is missing is a *lost* update; ``n`` larger than the
number of tokens, or a balance that moved more than its transfers explain,
is a *duplicated* one; a transfer on one account only is *half-applied*; a
definite failure that was applied is a *phantom*.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from attrs import define, field

__all__ = ["Op", "History", "Anomalies", "check", "INITIAL_BALANCE"]

#: Every account starts with this balance, so the total is known without reading.
INITIAL_BALANCE = 1000


@define
class Op:
    """One logical operation and how it ended (``ok`` / ``failed`` / ``unknown``)."""

    kind: str  # "increment" | "transfer"
    token: str
    keys: tuple[str, ...]
    amount: int = 1
    outcome: str = "pending"
    retries: int = 0
    conflicts: int = 0
    error: str = ""


@define
class History:
    """A thread-safe list of :class:`Op` records."""

    ops: list[Op] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock)

    def record(self, op: Op) -> None:
        """Append one finished operation."""
        with self._lock:
            self.ops.append(op)

    def extend(self, ops: Iterable[Op]) -> None:
        """Append operations recorded elsewhere (another process)."""
        with self._lock:
            self.ops.extend(ops)

    def count(self, outcome: str) -> int:
        """How many operations ended with ``outcome``."""
        return sum(1 for op in self.ops if op.outcome == outcome)


@define
class Anomalies:
    """What :func:`check` found; :attr:`clean` is the verdict."""

    lost: list[str] = field(factory=list)
    duplicated: list[str] = field(factory=list)
    half_applied: list[str] = field(factory=list)
    phantom: list[str] = field(factory=list)
    unaccounted: list[str] = field(factory=list)
    conservation: str = ""
    unknown_applied: int = 0
    unknown_not_applied: int = 0

    @property
    def clean(self) -> bool:
        """True when nothing was lost, duplicated, half-applied or applied after a definite failure."""
        return not (
            self.lost or self.duplicated or self.half_applied or self.phantom or self.unaccounted or self.conservation
        )

    def summary(self) -> str:
        """One line for a report."""
        parts = [
            f"lost={len(self.lost)}",
            f"duplicated={len(self.duplicated)}",
            f"half-applied={len(self.half_applied)}",
            f"phantom={len(self.phantom)}",
            f"unaccounted={len(self.unaccounted)}",
            f"unknown applied/not={self.unknown_applied}/{self.unknown_not_applied}",
        ]
        if self.conservation:
            parts.append(f"conservation: {self.conservation}")
        return ", ".join(parts)


def _members(item: Mapping[str, Any] | None, attr: str) -> set[str]:
    if item is None:
        return set()
    return set(item.get(attr) or ())


def check(history: History, items: Mapping[str, Mapping[str, Any]]) -> Anomalies:
    """Compare a history with the final items (by partition key) and list every anomaly."""
    out = Anomalies()
    by_token = {op.token: op for op in history.ops}
    # Counters: the tokens present say which increments were applied.
    applied_increments: set[str] = set()
    for key, item in items.items():
        tokens = _members(item, "tokens")
        if "n" not in item:
            continue
        applied_increments |= tokens
        n = int(item["n"])
        if n > len(tokens):
            out.duplicated.append(f"{key}: n={n} but {len(tokens)} distinct increments")
        elif n < len(tokens):
            out.lost.append(f"{key}: n={n} but {len(tokens)} increments recorded")
        for t in tokens:
            if t not in by_token:
                out.unaccounted.append(f"{key}: token {t} is in no history")
    # Transfers: both sides or neither, and balances that the applied transfers explain.
    applied_on: dict[str, set[str]] = {}
    for key, item in items.items():
        for t in _members(item, "txs"):
            applied_on.setdefault(t, set()).add(key)
            if t not in by_token:
                out.unaccounted.append(f"{key}: transaction {t} is in no history")
    expected_balance: dict[str, int] = {k: INITIAL_BALANCE for k, i in items.items() if "balance" in i}
    for op in history.ops:
        if op.kind == "increment":
            applied = op.token in applied_increments
        else:
            sides = applied_on.get(op.token, set())
            applied = bool(sides)
            if sides and sides != set(op.keys):
                out.half_applied.append(f"{op.token}: applied on {sorted(sides)} of {list(op.keys)}")
            if sides == set(op.keys):
                src, dst = op.keys
                expected_balance[src] = expected_balance.get(src, INITIAL_BALANCE) - op.amount
                expected_balance[dst] = expected_balance.get(dst, INITIAL_BALANCE) + op.amount
        if op.outcome == "ok" and not applied:
            out.lost.append(f"{op.kind} {op.token} was acknowledged but is not applied")
        elif op.outcome == "failed" and applied:
            out.phantom.append(f"{op.kind} {op.token} failed ({op.error}) but is applied")
        elif op.outcome == "unknown":
            if applied:
                out.unknown_applied += 1
            else:
                out.unknown_not_applied += 1
    total = Decimal(0)
    for key, want in expected_balance.items():
        got = items[key].get("balance")
        total += Decimal(got if got is not None else 0)
        if got != want:
            out.duplicated.append(f"{key}: balance {got}, the applied transfers explain {want}")
    if expected_balance and total != INITIAL_BALANCE * len(expected_balance):
        out.conservation = f"total {total}, expected {INITIAL_BALANCE * len(expected_balance)}"
    return out
