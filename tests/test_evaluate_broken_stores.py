"""The broken-store matrix: evaluate with each broken store of ``tests/broken_store.py`` as the target.

Every broken store must come out NOT SAFE, with a reason from the part that
should find it (``verify`` when the copy of the matrix table shows the
breakage, ``contract`` when only calls the copy does not make show it); the
healthy memory store must come out SAFE.  To stay within a few minutes on two
loaded cores each run is small and principled: one table of 330 items made to
break migrations (every value type, awkward sort keys, 400 KB items) with
three indexes and a TTL attribute, the contract suite in quick mode (one case
of every test function: every requirement is still checked) and no benchmark.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from broken_store import BROKEN_STORES, BrokenStore, factory_spec

from storeswap import GlobalIndex, KeyAttribute, Projection
from storeswap.adapters.memory import MemoryStore
from storeswap.evaluate import Endpoint, EvaluateOptions, Evaluation, evaluate
from storeswap.evaluate.suite_target import ContractStore
from storeswap.migrate.sample import SAMPLE_SPEC, sample_items

#: The sample plus a global index with a string sort key (byte order matters) and a TTL attribute.
MATRIX_SPEC = attrs.evolve(
    SAMPLE_SPEC,
    global_indexes=(
        *SAMPLE_SPEC.global_indexes,
        GlobalIndex("by_name", KeyAttribute("grp", "S"), KeyAttribute("s", "S"), Projection("ALL")),
    ),
    ttl_attribute="expires",
)


def run_matrix_case(target: Any, suite: ContractStore) -> Evaluation:
    """One evaluate run of the matrix table from a healthy memory store into ``target``."""
    source = MemoryStore()
    source.create_table(MATRIX_SPEC)
    source.bulk_put(MATRIX_SPEC.name, sample_items())
    return evaluate(
        Endpoint(source, "memory://", ContractStore(builtin="memory")),
        Endpoint(target, "broken://", suite),
        [MATRIX_SPEC.name],
        options=EvaluateOptions(quick=True, bench=False),
    )


@pytest.mark.parametrize("how", ["builtin", "factory"])
def test_the_healthy_store_is_safe(how: str) -> None:
    """The built-in memory store, and the broken stores' wrapper with nothing broken given by factory."""
    if how == "builtin":
        ev = run_matrix_case(MemoryStore(), ContractStore(builtin="memory"))
    else:
        ev = run_matrix_case(BrokenStore(), ContractStore(factory=factory_spec("unbroken")))
    assert ev.verdict is not None
    print(f"healthy ({how}): {ev.verdict.headline}")
    assert ev.verdict.status == "SAFE", [r.render() for r in ev.verdict.reasons + ev.verdict.unknown]
    assert ev.verdict.not_checked == ["the benchmark (--no-bench)"]


@pytest.mark.parametrize("name", sorted(BROKEN_STORES))
def test_each_broken_store_is_not_safe_and_the_right_part_says_why(name: str) -> None:
    cls, part = BROKEN_STORES[name]
    ev = run_matrix_case(cls(), ContractStore(factory=factory_spec(name)))
    assert ev.verdict is not None
    lines = [r.render() for r in ev.verdict.reasons]
    print(f"{name} ({cls.breakage}): {ev.verdict.headline}")
    for line in lines:
        print(f"    {line[:300]}")
    assert ev.verdict.status == "NOT SAFE", (ev.verdict.headline, [r.render() for r in ev.verdict.unknown])
    assert any(r.step == part for r in ev.verdict.reasons), lines
