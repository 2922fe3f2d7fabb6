"""T1-T4: batch reads and writes, transactions, idempotency tokens, serialisability."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest

from storeswap.contract_tests.helpers import item_sort_key, snapshot, typed, unchanged
from storeswap.contract_tests.markers import notyet
from storeswap.core.errors import (
    ConditionFailed,
    IdempotencyMismatch,
    ItemTooLarge,
    TableNotFound,
    TransactionCanceled,
    TransactionConflict,
    ValidationError,
)
from storeswap.core.port import BatchDelete, BatchPut, TxCheck, TxDelete, TxGet, TxPut, TxUpdate
from storeswap.core.values import item_size


def _key(i, pk="p"):
    return {"pk": pk, "sk": f"{i:03d}"}


# ------------------------------------------------------------------ batches (T1)


@pytest.mark.req("T1")
def test_batch_write_of_25_requests(store, table, hash_table):
    store.put(table, {**_key(0), "v": "old"})
    reqs = [BatchPut(table, {**_key(i), "v": i}) for i in range(1, 20)]
    reqs += [BatchDelete(table, _key(0))]
    reqs += [BatchPut(hash_table, {"pk": f"h{i}"}) for i in range(5)]
    assert len(reqs) == 25
    store.batch_write(reqs)
    assert sorted(i["sk"] for i in store.scan_all(table)) == [f"{i:03d}" for i in range(1, 20)]
    assert len(snapshot(store, hash_table)) == 5


@pytest.mark.req("T1", "X1", "X2")
def test_batch_write_of_26_requests_is_rejected(store, table):
    store.put(table, {**_key(0), "v": "old"})
    with unchanged(store, table), pytest.raises(ValidationError):
        store.batch_write([BatchPut(table, {**_key(i), "v": i}) for i in range(26)])


@pytest.mark.req("T1", "X1", "X2")
@pytest.mark.parametrize("second", ["put", "delete", "same-number-key"])
def test_batch_write_with_duplicate_keys_is_rejected(store, table, num_table, second):
    store.put(table, {**_key(1), "v": "old"})
    if second == "same-number-key":
        reqs = [BatchPut(num_table, {"pk": "p", "sk": 1}), BatchPut(num_table, {"pk": "p", "sk": Decimal("1.0")})]
    else:
        other = BatchPut(table, {**_key(1), "v": "x"}) if second == "put" else BatchDelete(table, _key(1))
        reqs = [BatchPut(table, {**_key(2)}), BatchPut(table, {**_key(1), "v": "new"}), other]
    with unchanged(store, table, num_table), pytest.raises(ValidationError):
        store.batch_write(reqs)


@pytest.mark.req("T1", "X1", "X2")
def test_batch_write_with_a_bad_item_writes_nothing(store, table):
    with unchanged(store, table), pytest.raises(ValidationError):
        store.batch_write([BatchPut(table, {**_key(1)}), BatchPut(table, {**_key(2), "bad": 1.5})])
    with unchanged(store, table), pytest.raises(TableNotFound):
        store.batch_write([BatchPut(table, {**_key(1)}), BatchPut("no_such_table_here", {**_key(2)})])
    with unchanged(store, table), pytest.raises(ValidationError):
        store.batch_write([])


@pytest.mark.req("T1")
def test_batch_get_of_100_keys(store, table, hash_table):
    for i in range(0, 90, 2):
        store.put(table, {**_key(i), "v": i})
    store.put(hash_table, {"pk": "h1", "v": "h"})
    keys = [_key(i) for i in range(90)]
    got = store.batch_get({table: keys, hash_table: [{"pk": f"h{i}"} for i in range(10)]})
    assert set(got) == {table, hash_table}
    assert sorted(map(item_sort_key, got[table])) == sorted(
        item_sort_key({**_key(i), "v": Decimal(i)}) for i in range(0, 90, 2)
    )
    assert [typed(i) for i in got[hash_table]] == [typed({"pk": "h1", "v": "h"})]


@pytest.mark.req("T1", "X1")
def test_batch_get_limits(store, table, num_table):
    with pytest.raises(ValidationError):
        store.batch_get({table: [_key(i) for i in range(101)]})
    with pytest.raises(ValidationError):
        store.batch_get({table: [_key(i) for i in range(60)], num_table: [{"pk": "p", "sk": i} for i in range(41)]})
    with pytest.raises(ValidationError):
        store.batch_get({table: [_key(1), _key(1)]})
    with pytest.raises(ValidationError):
        store.batch_get({num_table: [{"pk": "p", "sk": 1}, {"pk": "p", "sk": Decimal("1.00")}]})
    with pytest.raises(ValidationError):
        store.batch_get({table: []})
    with pytest.raises(TableNotFound):
        store.batch_get({table: [_key(1)], "no_such_table_here": [_key(1)]})
    with pytest.raises(ValidationError):
        store.batch_get({table: [{"pk": "p"}]})


# ------------------------------------------------------------------ transactions (T2)


@pytest.mark.req("T2")
def test_transaction_of_100_actions_applies_all(store, table):
    store.put(table, {**_key(0), "n": 0})
    actions = [TxPut(table, {**_key(i), "n": i}) for i in range(1, 97)]
    actions += [
        TxUpdate(table, _key(0), "ADD n :one", values={":one": 1}),
        TxCheck(table, _key(200), "attribute_not_exists(pk)"),
        TxDelete(table, _key(300)),
        TxUpdate(table, _key(400), "SET n = :one", condition="attribute_not_exists(pk)", values={":one": 1}),
    ]
    assert len(actions) == 100
    store.transact_write(actions)
    got = {i["sk"]: i["n"] for i in store.scan_all(table)}
    assert got == {**{f"{i:03d}": i for i in range(1, 97)}, "000": 1, "400": 1}


@pytest.mark.req("T2", "X1", "X2")
def test_transaction_of_101_actions_is_rejected(store, table):
    with unchanged(store, table), pytest.raises(ValidationError):
        store.transact_write([TxPut(table, {**_key(i)}) for i in range(101)])
    with pytest.raises(ValidationError):
        store.transact_get([TxGet(table, _key(i)) for i in range(101)])
    with unchanged(store, table), pytest.raises(ValidationError):
        store.transact_write([])


@pytest.mark.req("T2", "X1", "X2")
@notyet(
    ["dynamodb"],
    reason="moto 5.2.5: item size limit 405,000 bytes, so a 409,600-byte item in a transaction is rejected",
    raises=ItemTooLarge,
)
def test_transaction_over_4_mb_is_rejected(store, table):
    def big(i):
        item = {**_key(i), "blob": b""}
        item["blob"] = b"x" * (409_600 - item_size(item))
        return item

    assert item_size(big(0)) == 409_600
    with unchanged(store, table), pytest.raises(ValidationError):
        store.transact_write([TxPut(table, big(i)) for i in range(11)])  # 4,505,600 bytes > 4 MiB
    store.transact_write([TxPut(table, big(i)) for i in range(10)])  # 4,096,000 bytes
    assert len(snapshot(store, table)) == 10


@pytest.mark.req("T2", "X1", "X2")
@pytest.mark.parametrize("pair", ["put-put", "put-update", "check-delete", "update-check", "number-key"])
def test_two_actions_on_one_item_are_rejected(store, table, num_table, pair):
    store.put(table, {**_key(1), "v": "old"})
    a = {
        "put-put": [TxPut(table, {**_key(1), "v": 1}), TxPut(table, {**_key(1), "v": 2})],
        "put-update": [TxPut(table, {**_key(1), "v": 1}), TxUpdate(table, _key(1), "REMOVE v")],
        "check-delete": [TxCheck(table, _key(1), "attribute_exists(pk)"), TxDelete(table, _key(1))],
        "update-check": [TxUpdate(table, _key(1), "REMOVE v"), TxCheck(table, _key(1), "attribute_exists(v)")],
        "number-key": [TxPut(num_table, {"pk": "p", "sk": 1}), TxDelete(num_table, {"pk": "p", "sk": Decimal("1.0")})],
    }[pair]
    with unchanged(store, table, num_table), pytest.raises(ValidationError):
        store.transact_write([TxPut(table, {**_key(9)}), *a])
    with pytest.raises(ValidationError):
        store.transact_get([TxGet(table, _key(1)), TxGet(table, _key(1))])


@pytest.mark.req("T2", "C1")
@pytest.mark.parametrize("failing", [0, 1, 3])
def test_transaction_is_all_or_nothing_with_reasons_in_order(store, table, hash_table, failing):
    store.put(table, {**_key(1), "n": 1})
    store.put(table, {**_key(2), "n": 2})
    store.put(hash_table, {"pk": "h", "n": 3})
    actions = [
        TxUpdate(table, _key(1), "SET n = :v", condition="n = :one", values={":v": 10, ":one": 1}),
        TxDelete(table, _key(2), condition="attribute_exists(n)"),
        TxPut(table, {**_key(3), "n": 30}, condition="attribute_not_exists(pk)"),
        TxCheck(hash_table, {"pk": "h"}, "n = :three", values={":three": 3}, return_old_on_failure=True),
    ]
    breaking = {
        0: TxUpdate(
            table, _key(1), "SET n = :v", condition="n = :two", values={":v": 10, ":two": 2}, return_old_on_failure=True
        ),
        1: TxDelete(table, _key(2), condition="attribute_not_exists(n)"),
        3: TxCheck(hash_table, {"pk": "h"}, "n = :four", values={":four": 4}, return_old_on_failure=True),
    }
    actions[failing] = breaking[failing]
    with unchanged(store, table, hash_table), pytest.raises(TransactionCanceled) as caught:
        store.transact_write(actions)
    codes = ["None"] * 4
    codes[failing] = "ConditionalCheckFailed"
    assert caught.value.codes == codes
    assert len(caught.value.reasons) == 4
    reason = caught.value.reasons[failing]
    expected_item = {0: {**_key(1), "n": Decimal(1)}, 1: None, 3: {"pk": "h", "n": Decimal(3)}}[failing]
    assert typed(reason.item) == typed(expected_item)
    for i, r in enumerate(caught.value.reasons):
        if i != failing:
            assert r.item is None
    # with every condition true, everything applies
    store.transact_write(
        [
            TxUpdate(table, _key(1), "SET n = :v", condition="n = :one", values={":v": 10, ":one": 1}),
            TxDelete(table, _key(2), condition="attribute_exists(n)"),
            TxPut(table, {**_key(3), "n": 30}, condition="attribute_not_exists(pk)"),
            TxCheck(hash_table, {"pk": "h"}, "n = :three", values={":three": 3}),
        ]
    )
    assert {i["sk"]: i["n"] for i in store.scan_all(table)} == {"001": 10, "003": 30}


@pytest.mark.req("T2")
@notyet(
    ["dynamodb"],
    reason="moto 5.2.5: a transaction with a failing update raises a top-level ValidationError "
    "instead of a cancellation with a reason per action",
    raises=ValidationError,
)
def test_several_failing_actions_each_have_a_reason(store, table):
    store.put(table, {**_key(1), "n": 1})
    with unchanged(store, table), pytest.raises(TransactionCanceled) as caught:
        store.transact_write(
            [
                TxCheck(table, _key(1), "n = :two", values={":two": 2}),
                TxPut(table, {**_key(2)}),
                TxUpdate(table, _key(3), "SET n = n + :one", values={":one": 1}),  # n missing: a validation failure
                TxDelete(table, _key(4), condition="attribute_exists(pk)"),
            ]
        )
    assert caught.value.codes == ["ConditionalCheckFailed", "None", "ValidationError", "ConditionalCheckFailed"]


@pytest.mark.req("T2", "X1", "X2")
def test_transaction_with_bad_input_is_rejected_before_anything_runs(store, table):
    store.put(table, {**_key(1), "n": 1})
    with unchanged(store, table), pytest.raises(ValidationError):
        store.transact_write([TxPut(table, {**_key(2)}), TxPut(table, {**_key(3), "f": 1.5})])
    with unchanged(store, table), pytest.raises(TableNotFound):
        store.transact_write([TxPut(table, {**_key(2)}), TxPut("no_such_table_here", {**_key(3)})])
    with unchanged(store, table), pytest.raises(ValidationError):
        store.transact_write([TxPut(table, {**_key(2)}), TxUpdate(table, _key(1), "SET pk = :v", values={":v": "x"})])


@pytest.mark.req("T2")
@notyet(["dynamodb"], reason="moto 5.2.5: TransactGetItems ignores ProjectionExpression", raises=AssertionError)
def test_transact_get(store, table, hash_table):
    store.put(table, {**_key(1), "a": 1, "b": {"c": 2}})
    store.put(hash_table, {"pk": "h", "v": "x"})
    got = store.transact_get(
        [
            TxGet(hash_table, {"pk": "h"}),
            TxGet(table, _key(2)),
            TxGet(table, _key(1), projection="b.c, #a", names={"#a": "a"}),
        ]
    )
    assert [typed(g) for g in got] == [
        typed({"pk": "h", "v": "x"}),
        typed(None),
        typed({"a": Decimal(1), "b": {"c": Decimal(2)}}),
    ]


# ------------------------------------------------------------------ idempotency (T3)


@pytest.mark.req("T3")
@notyet(
    ["dynamodb"],
    reason="moto 5.2.5: ClientRequestToken ignored (no idempotency), a repeated transaction is applied again",
    raises=AssertionError,
)
def test_repeating_a_transaction_with_its_token_is_a_no_op(store, table):
    token = uuid.uuid4().hex
    actions = [TxUpdate(table, _key(1), "ADD n :one", values={":one": 1}), TxPut(table, {**_key(2), "v": "x"})]
    store.transact_write(actions, token=token)
    store.put(table, {**_key(2), "v": "changed since"})
    store.transact_write(actions, token=token)
    store.transact_write(actions, token=token)
    got = {i["sk"]: i for i in store.scan_all(table)}
    assert got["001"]["n"] == 1
    assert got["002"]["v"] == "changed since"
    store.transact_write(actions, token=uuid.uuid4().hex)  # a new token applies again
    assert store.get(table, _key(1))["n"] == 2


@pytest.mark.req("T3", "X1", "X2")
@notyet(
    ["dynamodb"],
    reason="moto 5.2.5: ClientRequestToken ignored, so a reused token with new content is not rejected",
    raises=pytest.fail.Exception,
)
def test_same_token_with_different_content_is_rejected(store, table):
    token = uuid.uuid4().hex
    store.transact_write([TxUpdate(table, _key(1), "ADD n :one", values={":one": 1})], token=token)
    with unchanged(store, table), pytest.raises(IdempotencyMismatch):
        store.transact_write([TxUpdate(table, _key(1), "ADD n :two", values={":two": 2})], token=token)
    assert store.get(table, _key(1))["n"] == 1


@pytest.mark.req("T3", "X1")
@pytest.mark.parametrize("token", ["", "x" * 37, 12])
def test_invalid_tokens_are_rejected(store, table, token):
    with unchanged(store, table), pytest.raises(ValidationError):
        store.transact_write([TxPut(table, {**_key(1)})], token=token)


# ------------------------------------------------------------------ serialisability (T4)


def _retrying(fn):
    for _ in range(200):
        try:
            return fn()
        except TransactionConflict:
            continue
        except TransactionCanceled as e:
            if "TransactionConflict" in e.codes:
                continue
            raise
    raise AssertionError("too many conflicts")


@pytest.mark.req("T4")
def test_transfers_keep_the_total(store, table):
    store.put(table, {**_key(1), "n": 1000})
    store.put(table, {**_key(2), "n": 0})
    errors: list[BaseException] = []

    def transfer():
        try:
            for _ in range(25):
                _retrying(
                    lambda: store.transact_write(
                        [
                            TxUpdate(table, _key(1), "ADD n :minus", values={":minus": -1}),
                            TxUpdate(table, _key(2), "ADD n :plus", values={":plus": 1}),
                        ]
                    )
                )
                _retrying(lambda: store.update(table, _key(3), "ADD n :one", values={":one": 1}))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=transfer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    got = {i["sk"]: i["n"] for i in store.scan_all(table, consistent=True)}
    assert got == {"001": 900, "002": 100, "003": 100}


@pytest.mark.req("T4", "C1")
def test_only_one_conditional_create_wins(store, table):
    winners: list[int] = []
    losers: list[int] = []
    barrier = threading.Barrier(8)

    def race(i):
        barrier.wait()
        try:
            _retrying(lambda: store.put(table, {**_key(1), "owner": i}, condition="attribute_not_exists(pk)"))
            winners.append(i)
        except ConditionFailed:
            losers.append(i)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1 and len(losers) == 7
    assert store.get(table, _key(1), consistent=True)["owner"] == winners[0]
