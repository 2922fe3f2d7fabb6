"""R1-R8: the typed repository (storeswap.repository) on every store, through the port only."""

from __future__ import annotations

import datetime as dt
import enum
import threading
import uuid
from decimal import Decimal

import attrs
import pytest

from storeswap.contract_tests.helpers import snapshot
from storeswap.core.errors import TransactionCanceled, ValidationError
from storeswap.core.values import BinarySet, StringSet
from storeswap.repository import (
    SHARD_FIELD,
    EntityDecodeError,
    EntityExists,
    EntityNotFound,
    Model,
    ModelError,
    Repository,
    StaleEntity,
    epoch,
    shard_of,
    single_table_spec,
)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Address:
    street: str
    number: int
    moved_in: dt.datetime = epoch()
    note: str | None = None


@attrs.frozen
class Everything:
    """One field of every value type the repository maps."""

    tenant_id: str
    id: uuid.UUID
    count: int
    huge: int
    price: Decimal
    tiny: Decimal
    flag: bool
    colour: Colour
    priority: Priority
    blob: bytes
    created: dt.datetime
    naive: dt.datetime
    stamped: dt.datetime = epoch()
    day: dt.date = dt.date(2024, 2, 29)
    tags: frozenset[str] = frozenset()
    scores: set[int] = attrs.field(factory=set)
    blobs: set[bytes] = attrs.field(factory=set)
    ids: list[uuid.UUID] = attrs.field(factory=list)
    attributes: dict[str, Decimal] = attrs.field(factory=dict)
    address: Address | None = None
    history: list[Address] = attrs.field(factory=list)
    nickname: str | None = None
    empty_text: str = ""


@attrs.frozen
class Counter:
    tenant_id: str
    id: uuid.UUID
    value: int = 0
    version: int = 0
    owner: str | None = None
    expires: dt.datetime | None = None


@attrs.frozen
class Note:
    tenant_id: str
    id: str
    text: str = ""


@attrs.frozen
class Event:
    tenant_id: str
    seq: int
    payload: str = ""


@attrs.frozen
class Lease:
    tenant_id: str
    id: str
    expires: int | None = None


EVERYTHING = Model(Everything, pk="TENANT#{tenant_id}", sk="EVERYTHING#{id}")
COUNTER = Model(
    Counter, pk="TENANT#{tenant_id}", sk="COUNTER#{id}", version="version", ttl="expires",
    indexes={"gsi1": ("OWNER#{owner}", "COUNTER#{id}")},
)
NOTE = Model(Note, pk="TENANT#{tenant_id}", sk="NOTE#{id}")
EVENT = Model(Event, pk="EVENTS#{tenant_id}#{_shard}", sk="EVENT#{seq:08d}", shards=10)
LEASE = Model(Lease, pk="TENANT#{tenant_id}", sk="LEASE#{id}", ttl="expires")

UTC = dt.UTC
PLUS2 = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def repo(store, table_factory):
    name = table_factory(single_table_spec("template", ttl_attribute="expires"))
    return Repository(store, name, [EVERYTHING, COUNTER, NOTE, EVENT, LEASE])


def _everything(**changes):
    base = Everything(
        tenant_id="t1",
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        count=-7,
        huge=10**37 + 1,
        price=Decimal("19.99"),
        tiny=Decimal("1E-130"),
        flag=False,
        colour=Colour.BLUE,
        priority=Priority.HIGH,
        blob=b"\x00\xffbytes",
        created=dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=PLUS2),
        naive=dt.datetime(1999, 12, 31, 23, 59, 59),
        stamped=dt.datetime(2001, 9, 9, 1, 46, 40, 1, tzinfo=UTC),
        tags=frozenset({"a", "", "z\x00"}),
        scores={1, 2, 3},
        blobs={b"x", b"y"},
        ids=[uuid.UUID(int=1), uuid.UUID(int=2)],
        attributes={"w": Decimal("1.5"), "h": Decimal("-2")},
        address=Address("Main St", 12, dt.datetime(2010, 1, 1, tzinfo=UTC), note="by the park"),
        history=[Address("Old Rd", 1, dt.datetime(1990, 6, 1, 12, tzinfo=UTC))],
    )
    return attrs.evolve(base, **changes)


# ------------------------------------------------------------------ values (R1)


@pytest.mark.req("R1")
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"nickname": "nick", "empty_text": "", "address": None, "tags": frozenset(), "scores": set()},
        {"created": dt.datetime(1970, 1, 1, tzinfo=UTC), "stamped": dt.datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)},
        {"count": 0, "price": Decimal("-0.000001"), "flag": True, "priority": Priority.LOW, "colour": Colour.RED},
    ],
    ids=["all-values", "optional-and-empty", "epoch-edges", "other-members"],
)
def test_every_value_type_round_trips(store, repo, changes):
    entity = _everything(**changes)
    assert repo.put(entity) == entity
    back = repo.get(Everything, tenant_id="t1", id=entity.id, consistent=True)
    assert back == entity
    assert type(back.priority) is Priority and type(back.colour) is Colour and type(back.count) is int
    assert type(back.price) is Decimal and isinstance(back.scores, set) and isinstance(back.tags, frozenset)


@pytest.mark.req("R1")
def test_values_are_stored_in_their_declared_form(store, repo):
    entity = _everything(nickname=None, scores=set())
    repo.put(entity)
    item = store.get(repo.table, {"pk": "TENANT#t1", "sk": f"EVERYTHING#{entity.id}"}, consistent=True)
    assert item["_type"] == "Everything"
    assert item["id"] == str(entity.id) and item["colour"] == "blue" and item["priority"] == Decimal(2)
    assert item["created"] == "2024-05-06T07:08:09.123456+02:00"
    assert item["stamped"] == Decimal("1000000000.000001")
    assert item["address"]["moved_in"] == Decimal(1262304000)
    assert item["day"] == "2024-02-29"
    assert isinstance(item["tags"], StringSet) and isinstance(item["blobs"], BinarySet)
    assert "nickname" not in item and "scores" not in item and "note" not in item["history"][0]
    assert isinstance(item["ids"], list) and item["ids"][0] == "00000000-0000-0000-0000-000000000001"


@pytest.mark.req("R1")
def test_a_stored_item_of_the_wrong_shape_is_a_typed_error(store, repo):
    store.put(repo.table, {"pk": "TENANT#t1", "sk": "NOTE#n1", "_type": "Note", "tenant_id": "t1", "id": "n1",
                           "text": Decimal(5)})
    with pytest.raises(EntityDecodeError):
        repo.get(Note, tenant_id="t1", id="n1")
    store.put(repo.table, {"pk": "TENANT#t1", "sk": "NOTE#n2", "_type": "Counter", "tenant_id": "t1", "id": "n2"})
    with pytest.raises(EntityDecodeError):
        repo.get(Note, tenant_id="t1", id="n2")


@pytest.mark.req("R1")
def test_float_fields_and_naive_epoch_datetimes_are_refused(store, repo):
    with pytest.raises(ValidationError):
        repo.put(_everything(price=1.5))  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        repo.put(_everything(stamped=dt.datetime(2020, 1, 1)))
    assert snapshot(store, repo.table) == []


# -------------------------------------------------------- keys and queries (R2)


@pytest.mark.req("R2")
def test_query_by_template_prefix_returns_one_entity_type_in_key_order(store, repo):
    ids = sorted((uuid.uuid4() for _ in range(7)), key=str)
    for i in ids:
        repo.put(Counter("t1", i))
    repo.put(Counter("t2", uuid.uuid4()))
    for n in ("a", "b"):
        repo.put(Note("t1", n, "hello"))
    repo.put(_everything())
    pages, cursor = [], None
    while True:
        page = repo.query(Counter, tenant_id="t1", limit=3, cursor=cursor, consistent=True)
        pages.append([c.id for c in page])
        cursor = page.cursor
        if cursor is None:
            break
    assert [i for p in pages for i in p] == ids
    assert all(len(p) <= 3 for p in pages)
    assert [n.id for n in repo.query_all(Note, tenant_id="t1")] == ["a", "b"]
    back = list(repo.query_all(Counter, tenant_id="t1", forward=False))
    assert [c.id for c in back] == ids[::-1]


@pytest.mark.req("R2")
def test_typed_cursors_round_trip_as_tokens_and_refuse_other_queries(store, repo):
    for _ in range(3):
        repo.put(Counter("t1", uuid.uuid4()))
        repo.put(Note("t1", uuid.uuid4().hex))
    page = repo.query(Counter, tenant_id="t1", limit=1)
    assert page.cursor is not None
    again = type(page.cursor).from_token(page.cursor.token)
    assert again == page.cursor
    rest = repo.query(Counter, tenant_id="t1", cursor=again)
    assert len(page.items) + len(rest.items) == 3
    with pytest.raises(ValidationError):
        repo.query(Note, tenant_id="t1", cursor=page.cursor)
    with pytest.raises(ValidationError):
        type(page.cursor).from_token("not-a-cursor")


@pytest.mark.req("R2")
def test_index_templates_are_written_only_when_complete(store, repo, settle):
    owned = repo.put(Counter("t1", uuid.uuid4(), owner="ann"))
    repo.put(Counter("t1", uuid.uuid4()))
    item = store.get(repo.table, repo.model(Counter).key_of(owned), consistent=True)
    assert item["gsi1pk"] == "OWNER#ann" and item["gsi1sk"] == f"COUNTER#{owned.id}"
    settle(lambda: [c.id for c in repo.query_all(Counter, index="gsi1", owner="ann")] == [owned.id] or None)
    assert [c.id for c in repo.query_all(Counter, index="gsi1", owner="ann")] == [owned.id]
    assert sum(1 for i in store.scan_all(repo.table, index="gsi1")) == 1


@pytest.mark.req("R2")
def test_models_that_cannot_fit_the_table_are_refused(store, repo):
    with pytest.raises(ModelError):
        Repository(store, repo.table, [Model(Note, pk="TENANT#{tenant}", sk="NOTE#{id}")])
    with pytest.raises(ModelError):
        Repository(store, repo.table, [Model(Note, pk="TENANT#{tenant_id}")])
    with pytest.raises(ModelError):
        Repository(store, repo.table, [Model(Note, pk="T#{tenant_id}", sk="N#{id}", version="text")])
    with pytest.raises(ModelError):
        Repository(store, repo.table, [Model(Counter, pk="T#{tenant_id}", sk="C#{id}", ttl="owner")])
    with pytest.raises(ModelError):
        repo.query(Counter)  # the partition key is not filled


@pytest.mark.req("R2")
def test_index_templates_need_an_index_that_projects_whole_items(store, table_factory):
    from storeswap.core.schema import GlobalIndex, KeyAttribute, Projection, TableSpec

    name = table_factory(TableSpec("template", KeyAttribute("pk"), KeyAttribute("sk"), global_indexes=(
        GlobalIndex("keys", KeyAttribute("gpk"), KeyAttribute("gsk"), Projection("KEYS_ONLY")),)))
    with pytest.raises(ModelError):
        Repository(store, name, [Model(Note, pk="T#{tenant_id}", sk="N#{id}", indexes={"keys": ("T#{tenant_id}", "{id}")})])
    assert Repository(store, name, [Model(Note, pk="T#{tenant_id}", sk="N#{id}")]).get(Note, tenant_id="x", id="y") is None


# ----------------------------------------------- create-only and versions (R3)


@pytest.mark.req("R3")
def test_create_only_put_and_stale_saves(store, repo):
    first = repo.put(Counter("t1", uuid.uuid4()), create_only=True)
    assert first.version == 1
    with pytest.raises(EntityExists):
        repo.put(attrs.evolve(first, version=0), create_only=True)
    second = repo.put(attrs.evolve(first, value=5))
    assert second.version == 2
    with pytest.raises(StaleEntity):
        repo.put(attrs.evolve(first, value=9))  # carries version 1: stale
    with pytest.raises(StaleEntity):
        repo.delete(first)
    assert repo.get(Counter, tenant_id="t1", id=first.id, consistent=True) == second
    assert repo.delete(second) is True
    assert repo.get(Counter, tenant_id="t1", id=first.id, consistent=True) is None
    with pytest.raises(StaleEntity):
        repo.put(second)  # deleted meanwhile
    assert repo.delete(Note, tenant_id="t1", id="nothing") is False


@pytest.mark.req("R3")
def test_two_concurrent_writers_of_one_version_one_wins(store, repo):
    rounds = 10
    base = repo.put(Counter("t1", uuid.uuid4()), create_only=True)
    for r in range(rounds):
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def write(who: str, entity: Counter = base, barrier: threading.Barrier = barrier,
                  outcomes: dict[str, object] = outcomes) -> None:
            barrier.wait()
            try:
                outcomes[who] = repo.put(attrs.evolve(entity, owner=who))
            except StaleEntity as e:
                outcomes[who] = e

        threads = [threading.Thread(target=write, args=(w,)) for w in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [v for v in outcomes.values() if isinstance(v, Counter)]
        losers = [v for v in outcomes.values() if isinstance(v, StaleEntity)]
        assert len(winners) == 1 and len(losers) == 1, f"round {r}: {outcomes}"
        stored = repo.get(Counter, tenant_id="t1", id=base.id, consistent=True)
        assert stored == winners[0] and stored.version == base.version + 1
        base = stored


# ------------------------------------------------------------- increments (R4)


@pytest.mark.req("R4")
def test_increments_from_8_threads_sum_exactly(store, repo):
    counter = repo.put(Counter("t1", uuid.uuid4()), create_only=True)
    per_thread = 25
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(per_thread):
                repo.increment(counter, "value", 1)
        except BaseException as e:  # surfaced below: a thread's failure must fail the test
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = repo.get(Counter, tenant_id="t1", id=counter.id, consistent=True)
    assert stored.value == 8 * per_thread
    assert stored.version == 1 + 8 * per_thread
    with pytest.raises(StaleEntity):
        repo.put(attrs.evolve(counter, owner="late"))  # an increment advanced the version


@pytest.mark.req("R4")
def test_increment_rules(store, repo):
    with pytest.raises(EntityNotFound):
        repo.increment(Counter("t1", uuid.uuid4()), "value", 1)
    assert snapshot(store, repo.table) == []
    c = repo.put(Counter("t1", uuid.uuid4()))
    assert repo.increment(c, "value", -3).value == -3
    for field, by in (("owner", 1), ("version", 1), ("value", Decimal("0.5")), ("value", True)):
        with pytest.raises((ModelError, ValidationError)):
            repo.increment(c, field, by)


# ------------------------------------------------------------ transactions (R5)


@pytest.mark.req("R5")
def test_a_two_entity_transaction_applies_as_a_whole(store, repo):
    counter = repo.put(Counter("t1", uuid.uuid4()))
    with repo.transaction() as tx:
        saved = tx.put(attrs.evolve(counter, value=10))
        tx.put(Note("t1", "n1", "created with the counter"), create_only=True)
    assert tx.results[0] == saved and saved.version == 2
    assert repo.get(Counter, tenant_id="t1", id=counter.id, consistent=True) == saved
    assert repo.get(Note, tenant_id="t1", id="n1", consistent=True) == Note("t1", "n1", "created with the counter")


@pytest.mark.req("R5")
def test_a_two_entity_transaction_that_fails_changes_nothing(store, repo):
    counter = repo.put(Counter("t1", uuid.uuid4()))
    repo.put(Note("t1", "taken"))
    before = snapshot(store, repo.table)
    with pytest.raises(TransactionCanceled) as info, repo.transaction() as tx:
        tx.put(attrs.evolve(counter, value=99))  # would succeed alone
        tx.put(Note("t1", "taken", "again"), create_only=True)  # the key is taken
    assert info.value.codes == ["None", "ConditionalCheckFailed"]
    assert snapshot(store, repo.table) == before
    with pytest.raises(TransactionCanceled), repo.transaction() as tx:
        tx.delete(Note, tenant_id="t1", id="taken")
        tx.put(attrs.evolve(counter, version=7))  # stale version
    assert snapshot(store, repo.table) == before


@pytest.mark.req("R5")
def test_a_transaction_left_by_an_exception_writes_nothing(store, repo):
    with pytest.raises(RuntimeError), repo.transaction() as tx:
        tx.put(Note("t1", "n1"))
        raise RuntimeError("abandon")
    assert snapshot(store, repo.table) == []


# --------------------------------------------------------------------- TTL (R6)


@pytest.mark.req("R6")
def test_ttl_fields_are_whole_epoch_seconds(store, repo):
    expires = dt.datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
    c = repo.put(Counter("t1", uuid.uuid4(), expires=expires))
    item = store.get(repo.table, repo.model(Counter).key_of(c), consistent=True)
    assert item["expires"] == Decimal(int(expires.timestamp())) and repo.spec.ttl_attribute == "expires"
    assert repo.get(Counter, tenant_id="t1", id=c.id).expires == expires
    with pytest.raises(ValidationError):
        repo.put(Counter("t1", uuid.uuid4(), expires=expires.replace(microsecond=5)))
    lease = repo.put(Lease("t1", "l1", expires=1_900_000_000))
    assert store.get(repo.table, repo.model(Lease).key_of(lease), consistent=True)["expires"] == Decimal(1_900_000_000)
    assert repo.get(Lease, tenant_id="t1", id="l1") == lease
    repo.put(Lease("t1", "l2"))
    assert "expires" not in store.get(repo.table, {"pk": "TENANT#t1", "sk": "LEASE#l2"}, consistent=True)


# ----------------------------------------------------------- write shards (R7)


@pytest.mark.req("R7")
def test_a_sharded_model_spreads_writes_and_reads_every_shard(store, repo):
    for seq in range(60):
        repo.put(Event("hot", seq, f"p{seq}"))
    partitions = {i["pk"] for i in store.scan_all(repo.table)}
    expected = {f"EVENTS#hot#{shard_of(f'EVENT#{s:08d}', 10)}" for s in range(60)}
    assert partitions == expected and len(partitions) > 1
    assert sorted(e.seq for e in repo.query_all(Event, tenant_id="hot")) == list(range(60))
    seen, cursor = [], None
    while True:
        page = repo.query(Event, tenant_id="hot", limit=7, cursor=cursor)
        seen.extend(e.seq for e in page)
        if page.cursor is None:
            break
        cursor = page.cursor
    assert sorted(seen) == list(range(60)) and len(seen) == 60
    one = shard_of("EVENT#00000005", 10)
    in_shard = [e.seq for e in repo.query_all(Event, tenant_id="hot", **{SHARD_FIELD: one})]
    assert 5 in in_shard and in_shard == sorted(in_shard)
    assert repo.get(Event, tenant_id="hot", seq=5) == Event("hot", 5, "p5")


# ------------------------------------------------------------- store neutrality (R8)


@pytest.mark.req("R8")
def test_entities_written_on_one_store_read_back_on_another(store, repo):
    from storeswap.adapters.memory import MemoryStore
    from storeswap.migrate import copy_table

    entity = _everything()
    counter = repo.put(Counter("t1", uuid.uuid4(), owner="ann"))
    repo.put(entity)
    other = MemoryStore()
    copy_table(store, other, repo.table)
    mirror = Repository(other, repo.table, [EVERYTHING, COUNTER, NOTE, EVENT])
    assert mirror.get(Everything, tenant_id="t1", id=entity.id) == entity
    assert list(mirror.query_all(Counter, index="gsi1", owner="ann")) == [counter]
    assert isinstance(store.get(repo.table, mirror.model(Counter).key_of(counter))["version"], Decimal)
