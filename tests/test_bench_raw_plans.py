"""Honest baselines: each PostgreSQL raw twin runs the adapter's work — same statements' plans, same rows.

For every benchmarked operation the statements the adapter sends and the
ones its raw twin sends are captured (a hook on ``psycopg.Cursor.execute``),
paired in order, and compared with ``EXPLAIN`` under both a custom and a
generic plan (prepared statements switch to the generic one): the same
access path to the table (index scans by index name, sequential scans,
``ON CONFLICT`` arbiter index).  Reads must return the same rows; writes
must leave the same item.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from unittest import mock

import psycopg
import pytest

from storeswap.benchmarks.raw_base import BENCH_TABLE
from storeswap.benchmarks.workloads import TENANT_QUERY_LIMIT, TenantWorkload
from storeswap.core.errors import ConditionFailed

pytestmark = pytest.mark.slow

#: Enough rows (about 1 KB each) that the planner prefers an index where one applies.
RECORDS = 2000
DOC = ("tenant00000", "item#0000000000")
COUNTER = ("tenant00000", "counter#0")

Statement = tuple[str, list[Any]]


@pytest.fixture(scope="module")
def bench() -> Iterator[tuple[Any, Any, str]]:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.adapters.postgres.layout import physical_name
    from storeswap.backends.postgres import provision
    from storeswap.benchmarks.raw_postgres import make_raw

    store = PostgresStore(provision(), pool_size=2)
    workload = TenantWorkload()
    if store.table_exists(BENCH_TABLE):
        store.delete_table(BENCH_TABLE)
    store.create_table(workload.table_spec())
    workload.new_table(RECORDS)
    store.bulk_put(BENCH_TABLE, workload.load_items(0, RECORDS, random.Random(1)))
    physical = physical_name(BENCH_TABLE)
    with psycopg.connect(store.conninfo, autocommit=True) as conn:
        conn.execute(f'ANALYZE "{physical}"')
    raw = make_raw(store)
    yield store, raw, physical
    raw.close()
    store.delete_table(BENCH_TABLE)
    store.close()


@contextmanager
def captured(physical: str) -> Iterator[list[Statement]]:
    """Every statement on the bench table sent through any psycopg cursor while the block runs."""
    seen: list[Statement] = []
    original = psycopg.Cursor.execute

    def execute(self: psycopg.Cursor[Any], query: Any, params: Any = None, **kwargs: Any) -> Any:
        text = query if isinstance(query, str) else query.as_string(self)
        if physical in text:
            seen.append((text, list(params or ())))
        return original(self, query, params, **kwargs)

    with mock.patch.object(psycopg.Cursor, "execute", execute):
        yield seen


def _numbered(query: str) -> str:
    counter = iter(range(1, 1000))
    return re.sub(r"%s", lambda _m: f"${next(counter)}", query)


def _paths(node: dict[str, Any], physical: str, out: set[tuple[str, str]]) -> None:
    if node.get("Relation Name") == physical:
        out.add((node["Node Type"], node.get("Index Name", "-")))
    for arbiter in node.get("Conflict Arbiter Indexes", ()):
        out.add(("ON CONFLICT", arbiter))
    for child in node.get("Plans", ()):
        _paths(child, physical, out)


def access_paths(conninfo: str, statement: Statement, physical: str, mode: str) -> frozenset[tuple[str, str]]:
    """How the plan of ``statement`` reaches the bench table, with ``plan_cache_mode = mode``."""
    query, params = statement
    with psycopg.connect(conninfo, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
        conn.execute(f"SET plan_cache_mode = {mode}")
        conn.execute(f"PREPARE probe AS {_numbered(query)}")
        args = ", ".join(["%s"] * len(params))
        (plan,) = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE probe({args})", params).fetchone()  # type: ignore[misc]
    out: set[tuple[str, str]] = set()
    _paths(plan[0]["Plan"], physical, out)
    return frozenset(out)


def _rows(conninfo: str, statement: Statement) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return conn.execute(statement[0], statement[1]).fetchall()


def _kind(statement: Statement) -> str:
    return statement[0].lstrip().split(None, 1)[0].upper()


def _reset(store: Any) -> None:
    store.put(BENCH_TABLE, {"pk": COUNTER[0], "sk": COUNTER[1], "hits": 0, "version": 0, "n": 0})
    store.put(BENCH_TABLE, {"pk": DOC[0], "sk": DOC[1], "gsi1pk": "owner000001", "gsi1sk": "0000000000", "f": "x"})


def _conditional(store: Any) -> bool:
    try:
        store.update(
            BENCH_TABLE,
            {"pk": COUNTER[0], "sk": COUNTER[1]},
            "SET version = version + :one, n = n + :one",
            condition="version = :v",
            values={":one": 1, ":v": 0},
        )
    except ConditionFailed:
        return False
    return True


def _owner_with_items(store: Any) -> str:
    for item in store.scan_all(BENCH_TABLE):
        if "gsi1pk" in item and item["pk"] != DOC[0]:
            return str(item["gsi1pk"])
    raise AssertionError("no document has an owner")


#: operation -> (adapter call, raw call, the key whose state a write leaves, or None for a read)
OPERATIONS: dict[str, tuple[Callable[[Any, str], Any], Callable[[Any, str], Any], tuple[str, str] | None]] = {
    "get": (
        lambda s, _o: s.get(BENCH_TABLE, {"pk": DOC[0], "sk": DOC[1]}),
        lambda r, _o: r.get(*DOC),
        None,
    ),
    "query": (
        lambda s, _o: s.query(BENCH_TABLE, "pk = :p", values={":p": "tenant00001"}, limit=TENANT_QUERY_LIMIT).items,
        lambda r, _o: r.query("tenant00001", TENANT_QUERY_LIMIT),
        None,
    ),
    "query_index": (
        lambda s, o: (
            s.query(BENCH_TABLE, "gsi1pk = :o", index="gsi1", values={":o": o}, limit=TENANT_QUERY_LIMIT).items
        ),
        lambda r, o: r.query_index("gsi1", o, TENANT_QUERY_LIMIT),
        None,
    ),
    "put": (
        lambda s, _o: s.put(BENCH_TABLE, {"pk": DOC[0], "sk": DOC[1], "gsi1pk": "owner000002", "gsi1sk": "1"}),
        lambda r, _o: r.put({"pk": DOC[0], "sk": DOC[1], "gsi1pk": "owner000002", "gsi1sk": "1"}),
        DOC,
    ),
    "update_field": (
        lambda s, _o: s.update(
            BENCH_TABLE, {"pk": DOC[0], "sk": DOC[1]}, "SET #f = :v", names={"#f": "f"}, values={":v": "y"}
        ),
        lambda r, _o: r.update_field(*DOC, "f", "y"),
        DOC,
    ),
    "increment": (
        lambda s, _o: s.update(BENCH_TABLE, {"pk": COUNTER[0], "sk": COUNTER[1]}, "ADD hits :one", values={":one": 1}),
        lambda r, _o: r.increment(*COUNTER, "hits", Decimal(1)),
        COUNTER,
    ),
    "conditional_update": (
        lambda s, _o: _conditional(s),
        lambda r, _o: r.conditional_update(*COUNTER, Decimal(0)),
        COUNTER,
    ),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_raw_twin_does_the_adapters_work(bench: tuple[Any, Any, str], operation: str) -> None:
    store, raw, physical = bench
    adapter_call, raw_call, written = OPERATIONS[operation]
    owner = _owner_with_items(store)
    _reset(store)
    with captured(physical) as adapter_statements:
        adapter_result = adapter_call(store, owner)
    adapter_item = None if written is None else store.get(BENCH_TABLE, {"pk": written[0], "sk": written[1]})
    _reset(store)
    with captured(physical) as raw_statements:
        raw_result = raw_call(raw, owner)
    raw_item = None if written is None else store.get(BENCH_TABLE, {"pk": written[0], "sk": written[1]})
    _reset(store)

    assert adapter_statements and [_kind(s) for s in adapter_statements] == [_kind(s) for s in raw_statements]
    for a, r in zip(adapter_statements, raw_statements):
        for mode in ("force_custom_plan", "force_generic_plan"):
            a_paths = access_paths(store.conninfo, a, physical, mode)
            r_paths = access_paths(store.conninfo, r, physical, mode)
            assert a_paths == r_paths, f"{operation} ({mode}): adapter {a[0]!r} {a_paths} vs raw {r[0]!r} {r_paths}"
    if written is None:
        assert adapter_result == raw_result and (operation == "get" or len(adapter_result) > 0)
        for a, r in zip(adapter_statements, raw_statements):
            assert _rows(store.conninfo, a) == _rows(store.conninfo, r)
    else:
        assert adapter_item == raw_item
        assert operation != "conditional_update" or adapter_result is raw_result is True


def test_index_query_uses_the_partial_index(bench: tuple[Any, Any, str]) -> None:
    """The check above can fail: the weak baseline (no partial-index predicate) scans the table instead."""
    store, raw, physical = bench
    owner = _owner_with_items(store)
    with captured(physical) as statements:
        raw.query_index("gsi1", owner, TENANT_QUERY_LIMIT)
    (statement,) = statements
    from storeswap.adapters.postgres.layout import Layout

    gsi1 = Layout.build(store.spec(BENCH_TABLE)).indexes["gsi1"].pg_index
    strong = access_paths(store.conninfo, statement, physical, "force_generic_plan")
    assert strong == {("Index Scan", gsi1)}, strong
    weak_query = re.sub(r" AND \S+ IS NOT NULL", "", statement[0])
    assert weak_query != statement[0]
    weak = access_paths(store.conninfo, (weak_query, statement[1]), physical, "force_generic_plan")
    assert weak != strong
