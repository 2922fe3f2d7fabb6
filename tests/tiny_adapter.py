"""A third-party adapter in ~100 lines: the recipe for running the storeswap contract suite on your own store.

``PickleStore`` keeps each table in a plain dict of pickled items and lets
:mod:`storeswap.core.engine` decide every write (conditions, updates, return
values, transactions) and shape every read (index views, projections), so it
inherits the port's semantics instead of re-implementing them.  Run the
contract suite against it with::

    pytest --pyargs storeswap.contract_tests --store-factory tests.tiny_adapter:make_store

It keeps no idempotency tokens, and says so in ``make_store.gaps``: the suite
then expects those tests to fail (strict xfail, ``notimpl``).
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

from storeswap.core.engine import in_index, index_view, key_condition_matches, plan_transaction, plan_write, shape
from storeswap.core.errors import NotSupported, TableExists, TableNotFound
from storeswap.core.expressions import evaluate
from storeswap.core.keys import extract_key, item_order, order_value, partition_bucket, segment_of
from storeswap.core.port import ItemStore, QueryResult
from storeswap.core.schema import IndexKeys, TableSpec


class PickleStore(ItemStore):
    """Tables of pickled items in dicts, one lock for everything."""

    kind = "pickle"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._tables: dict[str, tuple[TableSpec, dict[tuple[Any, ...], bytes]]] = {}

    def _rows(self, name: str) -> dict[tuple[Any, ...], bytes]:
        if name not in self._tables:
            self.forget(name)
            raise TableNotFound(f"table {name} does not exist")
        return self._tables[name][1]

    @staticmethod
    def _k(spec: TableSpec, key: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(order_value(key[n]) for n in spec.key_names)

    def _create_table(self, spec: TableSpec) -> None:
        with self._lock:
            if spec.name in self._tables:
                raise TableExists(spec.name)
            self._tables[spec.name] = (spec, {})

    def _describe_table(self, name: str) -> TableSpec:
        with self._lock:
            self._rows(name)
            return self._tables[name][0]

    def _delete_table(self, name: str) -> None:
        with self._lock:
            self._rows(name)
            del self._tables[name]

    def _list_tables(self) -> list[str]:
        return list(self._tables)

    def _load(self, spec: TableSpec, key: dict[str, Any]) -> Any:
        raw = self._rows(spec.name).get(self._k(spec, key))
        return None if raw is None else pickle.loads(raw)

    def _store(self, spec: TableSpec, key: dict[str, Any], new: Any) -> None:
        rows = self._rows(spec.name)
        if new is None:
            rows.pop(self._k(spec, key), None)
        else:
            rows[self._k(spec, key)] = pickle.dumps(new)

    def _get(self, req: Any) -> Any:
        with self._lock:
            item = self._load(req.spec, req.key)
            return None if item is None else shape(item, req.projection)

    def _write(self, req: Any) -> Any:
        with self._lock:
            outcome = plan_write(req, self._load(req.spec, req.key))
            if outcome.changed:
                self._store(req.spec, req.key, outcome.new)
            return outcome.result

    _put = _update = _delete = _write

    def _items(self, spec: TableSpec, index: IndexKeys) -> list[dict[str, Any]]:
        return [i for i in map(pickle.loads, self._rows(spec.name).values()) if in_index(index, i)]

    def _collect(self, req: Any, candidates: list[dict[str, Any]], order: Any, after: Any) -> QueryResult:
        out, last = [], None
        for item in candidates:
            if after is not None and not after(order(item)):
                continue
            view = index_view(req.index, req.spec, item)
            if req.filter is not None and not evaluate(req.filter, view):
                continue
            out.append(shape(view, req.projection))
            last = item
            if req.limit is not None and len(out) >= req.limit:
                key = {**extract_key(req.spec, last), **{n: last[n] for n in req.index.key_names}}
                return QueryResult(out, key)
        return QueryResult(out, None)

    def _query(self, req: Any) -> QueryResult:
        with self._lock:

            def order(i: dict[str, Any]) -> Any:
                return item_order(req.index, req.spec, i)

            items = [
                i for i in self._items(req.spec, req.index) if key_condition_matches(req.key_condition, req.index, i)
            ]
            items.sort(key=order, reverse=not req.forward)
            after = None
            if req.start_key is not None:
                start = order(req.start_key)
                after = (lambda o: o > start) if req.forward else (lambda o: o < start)
            return self._collect(req, items, order, after)

    def _scan(self, req: Any) -> QueryResult:
        with self._lock:
            # The order memory and PostgreSQL share (docs/semantics.md P4): hash bucket, partition, key order.
            def order(i: dict[str, Any]) -> Any:
                pk = i[req.index.partition_key.name]
                return (partition_bucket(pk), order_value(pk), *item_order(req.index, req.spec, i))

            items = sorted(self._items(req.spec, req.index), key=order)
            if req.total_segments > 1:
                items = [i for i in items if segment_of(order(i)[0], req.total_segments) == req.segment]
            start = None if req.start_key is None else order(req.start_key)
            return self._collect(req, items, order, None if start is None else (lambda o: o > start))

    def _batch_get(self, reqs: list[Any]) -> list[Any]:
        with self._lock:
            return [self._get(r) for r in reqs]

    _transact_get = _batch_get

    def _batch_write(self, reqs: list[Any]) -> None:
        with self._lock:
            for r in reqs:
                self._write(r)

    def _transact_write(self, reqs: list[Any], token: str | None) -> None:
        with self._lock:  # no idempotency tokens: declared in make_store.gaps
            outcomes = plan_transaction(reqs, [self._load(r.spec, r.key) for r in reqs])
            for r, o in zip(reqs, outcomes):
                if o.changed:
                    self._store(r.spec, r.key, o.new)


def make_store() -> PickleStore:
    """The factory the contract suite calls (``--store-factory tests.tiny_adapter:make_store``)."""
    return PickleStore()


make_store.store_name = "pickle"  # type: ignore[attr-defined]
make_store.gaps = {  # type: ignore[attr-defined]
    "test_repeating_a_transaction_with_its_token_is_a_no_op": "PickleStore keeps no idempotency tokens (T3)",
    "test_same_token_with_different_content_is_rejected": "PickleStore keeps no idempotency tokens (T3)",
    "test_differential_with_idempotency_tokens": "PickleStore keeps no idempotency tokens (T3)",
    # A requirement id covers all of its tests; a (reason, exception) pair also names what the gap raises.
    # TTL sweeps work through the port's default (scan + conditional delete); streams and set_ttl do not.
    "test_ttl_is_enabled_and_disabled_on_an_existing_table": ("PickleStore cannot change TTL settings", NotSupported),
    **{f"S{n}": ("PickleStore has no change streams", NotSupported) for n in range(3, 11)},
}


def unreachable_store() -> PickleStore:
    """A factory whose store cannot start: the suite must fail the run, never skip (see the recipe test)."""
    raise ConnectionError("the PickleStore server is down")
