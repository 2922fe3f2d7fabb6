"""PynamoDB against the gateway: a model with a GSI, conditional saves, queries, transactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute, VersionAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from storeswap.connect import open_store
from storeswap.gateway.server import GatewayServer


@pytest.fixture(scope="module")
def models() -> Iterator[tuple[Any, Any, str]]:
    with GatewayServer(open_store("memory://")) as g:
        class ByStatus(GlobalSecondaryIndex["Order"]):
            class Meta:
                index_name = "by_status"
                projection = AllProjection()

            status = UnicodeAttribute(hash_key=True)
            total = NumberAttribute(range_key=True)

        class Order(Model):
            class Meta:
                table_name = "pynamodb_orders"
                host = g.endpoint_url
                region = "us-east-1"
                aws_access_key_id = "k"
                aws_secret_access_key = "s"
                billing_mode = "PAY_PER_REQUEST"

            customer = UnicodeAttribute(hash_key=True)
            order_id = UnicodeAttribute(range_key=True)
            status = UnicodeAttribute()
            total = NumberAttribute()
            tags = UnicodeSetAttribute(null=True)
            version = VersionAttribute()
            by_status = ByStatus()

        Order.create_table(wait=True)
        yield Order, ByStatus, g.endpoint_url


def test_save_get_and_optimistic_locking(models: tuple[Any, Any, str]) -> None:
    Order, _, _ = models
    o = Order("c1", "o1", status="new", total=10, tags={"a"})
    o.save()
    assert o.version == 1
    stale = Order.get("c1", "o1")
    o.status = "paid"
    o.save()
    stale.status = "cancelled"
    with pytest.raises(PutError) as e:
        stale.save()  # the version condition fails
    assert e.value.cause_response_code == "ConditionalCheckFailedException"
    assert Order.get("c1", "o1").status == "paid"
    with pytest.raises(PutError):
        Order("c1", "o1", status="x", total=1).save(condition=Order.customer.does_not_exist())


def test_queries_on_the_table_and_the_gsi(models: tuple[Any, Any, str]) -> None:
    Order, _, _ = models
    for i in range(12):
        Order("c2", f"o{i:02}", status="open" if i % 3 else "closed", total=i).save()
    ids = [o.order_id for o in Order.query("c2", Order.order_id.startswith("o0"), filter_condition=Order.total > 2)]
    assert ids == [f"o{i:02}" for i in range(3, 10)]
    assert Order.count("c2") == 12
    paged = list(Order.query("c2", limit=5, page_size=2))
    assert len(paged) == 5
    closed = [o.total for o in Order.by_status.query("closed", Order.total >= 3)]
    assert closed == [3, 6, 9]
    assert sorted(o.order_id for o in Order.scan(Order.status == "closed") if o.customer == "c2") == ["o00", "o03", "o06", "o09"]


def test_transactions(models: tuple[Any, Any, str]) -> None:
    Order, _, endpoint = models
    connection = Connection(host=endpoint, region="us-east-1")
    connection.session.set_credentials("k", "s")
    Order("c3", "a", status="new", total=1).save()
    with TransactWrite(connection=connection) as tx:
        tx.update(Order.get("c3", "a"), actions=[Order.total.add(5)])
        tx.save(Order("c3", "b", status="new", total=2))
    assert Order.get("c3", "a").total == 6
    with pytest.raises(TransactWriteError) as e, TransactWrite(connection=connection) as tx:
        tx.save(Order("c3", "c", status="new", total=3))
        tx.condition_check(Order, "c3", "a", condition=Order.total == 999)
    # PynamoDB sends condition checks first: the reasons come back in request order.
    assert [r.code if r else None for r in e.value.cancellation_reasons] == ["ConditionalCheckFailed", None]
    assert not list(Order.query("c3", Order.order_id == "c"))
    with TransactGet(connection=connection) as tg:
        a = tg.get(Order, "c3", "a")
        b = tg.get(Order, "c3", "b")
    assert (a.get().total, b.get().total) == (6, 2)
