"""The checks behind ``python -m storeswap.faults`` must catch what they claim to catch.

The history checker is given planted anomalies (a lost update, a duplicated
increment, a half-applied transaction, a transfer applied twice, a failed
write that was applied) and must name each; the fault proxy must inject what
its plan says and count botocore's retries; a short load run on PostgreSQL
must check clean.  The fault scenarios themselves run in the ``faults`` tox
env (``python -m storeswap.faults --quick``), which fails on any lost or
duplicated operation.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from storeswap.core.errors import OutcomeUnknown, Throttled
from storeswap.core.values import StringSet
from storeswap.faults.history import INITIAL_BALANCE, History, Op, check
from storeswap.faults.proxy import FaultPlan, FaultProxy
from storeswap.faults.report import END, START, Results, render_section, write_readme


def _history(*ops: Op) -> History:
    h = History()
    h.extend(ops)
    return h


def _counter(n: int, *tokens: str) -> dict:
    return {"pk": "c0", "n": Decimal(n), "version": Decimal(n), "tokens": StringSet(tokens) if tokens else None}


def _accounts(a: int, b: int, a_txs: tuple[str, ...] = (), b_txs: tuple[str, ...] = ()) -> dict:
    return {
        "a0": {"pk": "a0", "balance": Decimal(a), "txs": StringSet(a_txs) if a_txs else None},
        "a1": {"pk": "a1", "balance": Decimal(b), "txs": StringSet(b_txs) if b_txs else None},
    }


def test_a_clean_history_checks_clean() -> None:
    h = _history(
        Op("increment", "t1", ("c0",), outcome="ok"),
        Op("increment", "t2", ("c0",), outcome="unknown"),
        Op("increment", "t3", ("c0",), outcome="failed"),
        Op("transfer", "x1", ("a0", "a1"), amount=5, outcome="ok"),
    )
    found = check(
        h, {"c0": _counter(2, "t1", "t2"), **_accounts(INITIAL_BALANCE - 5, INITIAL_BALANCE + 5, ("x1",), ("x1",))}
    )
    assert found.clean, found.summary()
    assert (found.unknown_applied, found.unknown_not_applied) == (1, 0)


def test_a_planted_lost_update_is_found() -> None:
    h = _history(Op("increment", "t1", ("c0",), outcome="ok"), Op("increment", "t2", ("c0",), outcome="ok"))
    found = check(h, {"c0": _counter(1, "t1")})
    assert not found.clean and len(found.lost) == 1 and "t2" in found.lost[0]


def test_a_planted_duplicated_increment_is_found() -> None:
    h = _history(Op("increment", "t1", ("c0",), outcome="ok"))
    found = check(h, {"c0": _counter(2, "t1")})
    assert not found.clean and len(found.duplicated) == 1


def test_a_planted_half_applied_transaction_is_found() -> None:
    h = _history(Op("transfer", "x1", ("a0", "a1"), amount=5, outcome="ok"))
    found = check(h, _accounts(INITIAL_BALANCE - 5, INITIAL_BALANCE, ("x1",), ()))
    assert not found.clean
    assert len(found.half_applied) == 1 and found.conservation


def test_a_transfer_applied_twice_is_found() -> None:
    h = _history(Op("transfer", "x1", ("a0", "a1"), amount=5, outcome="ok"))
    found = check(h, _accounts(INITIAL_BALANCE - 10, INITIAL_BALANCE + 10, ("x1",), ("x1",)))
    assert not found.clean and len(found.duplicated) == 2 and not found.conservation


def test_a_failed_write_that_was_applied_is_found() -> None:
    h = _history(Op("increment", "t1", ("c0",), outcome="failed", error="StoreUnavailable"))
    found = check(h, {"c0": _counter(1, "t1")})
    assert not found.clean and len(found.phantom) == 1


def test_an_applied_write_in_no_history_is_found() -> None:
    found = check(History(), {"c0": _counter(1, "zz")})
    assert not found.clean and found.unaccounted


def test_the_proxy_injects_its_plan_and_counts_botocore_retries() -> None:
    from storeswap.backends.dynamodb import provision
    from storeswap.connect import open_store
    from storeswap.core.schema import KeyAttribute, TableSpec

    plan = FaultPlan(targets=("PutItem", "UpdateItem"))
    proxy = FaultProxy(provision().replace("dynamodb://", "http://"), plan, seed=1)
    store = open_store(proxy.url + "?max_attempts=3")
    try:
        store.create_table(TableSpec("faults-proxy-test", KeyAttribute("pk", "S")))
        plan.throttle = 1.0
        with pytest.raises(Throttled):
            store.put("faults-proxy-test", {"pk": "a"})
        assert plan.counts["throttle"] == 3 and plan.counts["retries"] == 2
        plan.throttle, plan.error_after = 0.0, 1.0
        # Applied, then answered 500 three times: the port must not claim a definite answer.
        with pytest.raises(OutcomeUnknown):
            store.update("faults-proxy-test", {"pk": "b"}, "ADD n :one", values={":one": 1})
        plan.error_after = 0.0
        # botocore retried the applied ADD: a known hazard of SDK retries on non-idempotent writes,
        # which OutcomeUnknown does not bound (reported in the README's Reliability section).
        assert store.get("faults-proxy-test", {"pk": "b"})["n"] >= 1
        # A retried write whose condition then fails is an unknown outcome, not a ConditionFailed.
        plan.error_after = 1.0
        with pytest.raises(OutcomeUnknown):
            store.put("faults-proxy-test", {"pk": "c"}, condition="attribute_not_exists(pk)")
        plan.error_after = 0.0
        store.delete_table("faults-proxy-test")
    finally:
        store.close()
        proxy.close()


@pytest.mark.slow
@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_a_short_load_run_checks_clean(processes: bool) -> None:
    from storeswap.backends.postgres import provision
    from storeswap.faults.load import run_load

    result = run_load(provision(), workers=3, seconds=1.5, processes=processes)
    assert result.ops > 0 and result.acknowledged > 0
    assert result.anomalies.clean, result.anomalies.summary()
    assert result.escaped == 0


def test_the_readme_section_is_written_between_its_markers(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nold\n{END}\n\nrest\n", encoding="utf-8")
    results = Results(started="now", fuzz={"expressions": 1, "calls": 3, "storeswap_errors": 3, "unexpected": 0})
    write_readme(readme, results)
    text = readme.read_text(encoding="utf-8")
    assert "old" not in text and text.endswith("\n\nrest\n") and render_section(results) in text
