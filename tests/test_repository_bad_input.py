"""The typed repository refuses bad input with one typed error and writes nothing (found by fuzzing its entry points).

Before these checks a ``str`` field holding ``5`` or an ``int`` field holding ``True`` was stored: its key collided
with another entity's (``TENANT#5``, ``EVENT#00000001``) and overwrote it, and every read of its partition then
failed.  Other calls raised bare Python errors (TypeError, ValueError, RecursionError, OverflowError).
"""

from __future__ import annotations

import base64
import datetime as dt
import typing
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest

from storeswap import open_store
from storeswap.core.errors import StoreError, ValidationError
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.repository import Cursor, Model, Repository, epoch, single_table_spec
from storeswap.repository.errors import EntityDecodeError


@attrs.frozen
class Note:
    tenant_id: str
    id: str
    text: str = ""
    tags: frozenset[str] = frozenset()
    data: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class Event:
    tenant_id: str
    seq: int
    payload: str = ""


@attrs.frozen
class Counter:
    tenant_id: str
    id: uuid.UUID
    value: int = 0
    version: int = 0


@attrs.frozen
class Stamp:
    tenant_id: str
    when: dt.datetime = epoch(factory=lambda: dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def _repo() -> tuple[Any, Repository]:
    s = open_store("memory://")
    s.create_table(single_table_spec("app"))
    return s, Repository(s, "app", [
        Model(Note, pk="TENANT#{tenant_id}", sk="NOTE#{id}"),
        Model(Event, pk="EVENTS#{tenant_id}#{_shard}", sk="EVENT#{seq:08d}", shards=10),
        Model(Counter, pk="TENANT#{tenant_id}", sk="COUNTER#{id}", version="version"),
        Model(Stamp, pk="S#{tenant_id}", sk="STAMP"),
    ])  # fmt: skip


def _items(s: Any) -> list[Any]:
    return sorted(map(repr, s.scan_all("app")))


WRONG_FIELDS: dict[str, Callable[[Repository], Any]] = {
    "int-in-str": lambda r: r.put(Note("t", "b", text=5)),  # type: ignore[arg-type]
    "int-key-in-str": lambda r: r.put(Note(5, "n1")),  # type: ignore[arg-type]  # would be TENANT#5, as "5" is
    "bool-in-int": lambda r: r.put(Event("t", True, "bool")),  # would be EVENT#00000001, as 1 is
    "fraction-in-int": lambda r: r.put(Event("t", Decimal("1.5"))),  # type: ignore[arg-type]
    "list-in-dict": lambda r: r.put(Note("t", "n", data=[])),  # type: ignore[arg-type]
    "none-in-set": lambda r: r.put(Note("t", "n", tags=None)),  # type: ignore[arg-type]
    "list-in-str-set": lambda r: r.put(Note("t", "n", tags=frozenset({(1,)}))),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", list(WRONG_FIELDS), ids=list(WRONG_FIELDS))
def test_a_field_not_of_its_declared_type_is_refused_before_anything_is_written(case: str) -> None:
    s, r = _repo()
    r.put(Note("5", "n1", text="real"))
    r.put(Event("t", 1, "real"))
    before = _items(s)
    with pytest.raises(ValidationError, match="does not hold its declared type"):
        WRONG_FIELDS[case](r)
    assert _items(s) == before
    assert r.get(Note, tenant_id="5", id="n1") == Note("5", "n1", text="real")  # nothing overwritten
    assert r.get(Event, tenant_id="t", seq=1) == Event("t", 1, "real")


def _cursor_token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_cursors_naming_no_shard_of_the_model_are_refused() -> None:
    _s, r = _repo()
    for i in range(30):
        r.put(Event("t", i))
    for shard in (True, -5, 10**40, 10, "1"):
        with pytest.raises(ValidationError):  # True skipped shards 0 and 1; "1" was a TypeError
            r.query(Event, tenant_id="t", cursor=Cursor.from_token(Cursor("Event", None, shard, None).token))
        with pytest.raises(ValidationError):
            r.query(Event, tenant_id="t", cursor=Cursor("Event", None, shard, None))
    with pytest.raises(ValidationError, match="not a repository cursor"):  # was a RecursionError
        Cursor.from_token(_cursor_token(b"[" * 100_000 + b"]" * 100_000))


BARE_BEFORE: dict[str, Callable[[Repository, Counter], Any]] = {
    "version-none": lambda r, c: r.put(attrs.evolve(c, version=None)),
    "version-str": lambda r, c: r.put(attrs.evolve(c, version="1")),
    "increment-nan": lambda r, c: r.increment(c, "value", Decimal("NaN")),
    "increment-infinity": lambda r, c: r.increment(c, "value", Decimal("Infinity")),
    "increment-field-list": lambda r, c: r.increment(c, ["value"]),  # type: ignore[arg-type]
    "get-class-list": lambda r, c: r.get([Note], tenant_id="t", id="n"),  # type: ignore[arg-type]
    "query-index-list": lambda r, c: r.query(Note, index=["gsi1"], tenant_id="t"),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", list(BARE_BEFORE), ids=list(BARE_BEFORE))
def test_bad_arguments_are_one_typed_error(case: str) -> None:
    s, r = _repo()
    c = r.put(Counter("t", uuid.uuid4()))
    before = _items(s)
    with pytest.raises(StoreError) as caught:
        BARE_BEFORE[case](r, c)
    assert isinstance(caught.value, ValidationError)
    assert _items(s) == before


def test_a_stored_epoch_beyond_datetime_is_an_entity_decode_error() -> None:
    s, r = _repo()
    s.put("app", {"pk": "S#t", "sk": "STAMP", "_type": "Stamp", "tenant_id": "t", "when": Decimal("1E+20")})
    with pytest.raises(EntityDecodeError, match="not a datetime"):  # was an OverflowError
        r.get(Stamp, tenant_id="t")


MODEL_DECLARATIONS: dict[str, Callable[[], Any]] = {
    # a bare string was read letter by letter: pk template "T", every entity in one index partition
    "index-bare-string": lambda: Model(Note, pk="TENANT#{tenant_id}", sk="NOTE#{id}", indexes={"g": "TEXT#{text}"}),
    "index-three-parts": lambda: Model(Note, pk="T#{tenant_id}", sk="N#{id}", indexes={"g": ("A#{text}", "B", "C")}),
    "index-empty": lambda: Model(Note, pk="T#{tenant_id}", sk="N#{id}", indexes={"g": ()}),
    "indexes-none": lambda: Model(Note, pk="T#{tenant_id}", sk="N#{id}", indexes=None),  # type: ignore[arg-type]
    "shards-unbounded": lambda: Model(Event, pk="E#{tenant_id}#{_shard}", sk="E#{seq}", shards=10**400),
    "version-list": lambda: Model(Counter, pk="T#{tenant_id}", sk="C#{id}", version=["version"]),  # type: ignore[arg-type]
    "type-name-int": lambda: Model(Note, pk="T#{tenant_id}", sk="N#{id}", type_name=5),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("case", list(MODEL_DECLARATIONS), ids=list(MODEL_DECLARATIONS))
def test_a_model_declared_wrongly_is_a_model_error(case: str) -> None:
    from storeswap.repository.errors import ModelError

    with pytest.raises(ModelError):
        MODEL_DECLARATIONS[case]()


def test_a_key_value_its_template_cannot_format_and_a_non_bool_create_only_are_validation_errors() -> None:
    s, r = _repo()
    before = _items(s)
    with pytest.raises(ValidationError, match="seq does not hold its declared type"):  # '{seq:08d}' given a str
        r.get(Event, tenant_id="t", seq="1")
    with pytest.raises(ValidationError, match="create_only"):  # "no" was taken as True
        r.put(Note("t", "n"), create_only="no")  # type: ignore[arg-type]
    assert _items(s) == before


def test_fields_outside_the_key_templates_are_refused_not_ignored() -> None:
    s, r = _repo()
    r.put(Counter("t", uuid.uuid4(), value=1))
    r.put(Counter("t", uuid.uuid4(), value=2))
    before = _items(s)
    with pytest.raises(ValidationError, match="value is not in the key templates"):  # returned every counter
        r.query(Counter, tenant_id="t", value=3)
    with pytest.raises(ValidationError):
        r.get(Note, tenant_id="t", id="n", text="zz")
    with pytest.raises(ValidationError):  # deleted the note whatever its text
        r.delete(Note, tenant_id="t", id="n", text="x")
    assert _items(s) == before


def test_declarations_and_helpers_given_the_wrong_types_are_typed_errors() -> None:
    from storeswap.repository import KeyTemplate, shard_of
    from storeswap.repository.errors import ModelError

    @attrs.frozen
    class Obj:
        tenant_id: str
        x: object = None

    @attrs.frozen
    class Fwd:
        tenant_id: str
        x: Undefined = None  # type: ignore[name-defined]  # noqa: F821

    s = open_store("memory://")
    s.create_table(single_table_spec("app"))
    for model in (Model(Obj, pk="O#{tenant_id}", sk="O"), Model(Fwd, pk="F#{tenant_id}", sk="F")):
        with pytest.raises(ModelError):  # a cattrs StructureHandlerNotFoundError, a NameError
            Repository(s, "app", [model])
    with pytest.raises(ModelError):
        Repository(s, "app", None)  # type: ignore[arg-type]
    for count in (-1, True, None, 10**6):
        with pytest.raises(ValidationError):  # -1 gave no index, True one, 10**6 took seconds to refuse
            single_table_spec("other", global_indexes=count)  # type: ignore[arg-type]
    for args in (("x", 0), (None, 10), ("x", True)):
        with pytest.raises(ValidationError):
            shard_of(*args)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        KeyTemplate("A#{x}").render(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("optional", [True, False])
def test_a_number_in_a_datetime_ttl_field_is_refused(optional: bool) -> None:
    if optional:

        @attrs.frozen
        class Lease:
            tenant_id: str
            expires: dt.datetime | None = None
    else:

        @attrs.frozen
        class Lease:  # type: ignore[no-redef]
            tenant_id: str
            expires: dt.datetime = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)

    s = open_store("memory://")
    s.create_table(single_table_spec("app", ttl_attribute="expires"))
    r = Repository(s, "app", [Model(Lease, pk="L#{tenant_id}", sk="L", ttl="expires")])
    with pytest.raises(ValidationError):  # it was stored, and read back as 1970-01-01
        r.put(Lease("t", expires=5))  # type: ignore[arg-type]
    assert list(s.scan_all("app")) == []
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert r.put(Lease("t", expires=when)) == Lease("t", expires=when)
    assert r.get(Lease, tenant_id="t") == Lease("t", expires=when)


def test_keys_given_the_wrong_types_are_refused_not_rendered_as_another_entitys_key() -> None:
    """``delete(Note(5, "n"))`` rendered ``TENANT#5`` and deleted the note of tenant "5"; a get or query of
    ``tenant_id=5`` read it, and ``seq=True`` in an int key read the event whose seq is 1."""
    s, r = _repo()
    r.put(Note("5", "n", text="tenant five's"))
    r.put(Event("t", 1, "one"))
    r.put(Stamp("t"))
    before = _items(s)
    for call in (
        lambda: r.delete(Note(5, "n")),  # type: ignore[arg-type]
        lambda: r.delete(Note, tenant_id=5, id="n"),
        lambda: r.get(Note, tenant_id=5, id="n"),
        lambda: r.query(Note, tenant_id=5),
        lambda: r.get(Event, tenant_id="t", seq=True),
        lambda: r.get(Event, tenant_id="t", seq=Decimal("1.0000001")),
        lambda: r.get(Stamp, tenant_id=b"t"),
    ):
        with pytest.raises(ValidationError, match="does not hold its declared type"):
            call()
    assert _items(s) == before
    assert r.get(Note, tenant_id="5", id="n") == Note("5", "n", text="tenant five's")  # the right types still work
    assert r.get(Event, tenant_id="t", seq=1) == Event("t", 1, "one")



@attrs.frozen
class Numbered:
    tenant_id: str
    n: int
    amount: Decimal = Decimal(0)
    text: str = ""


def test_equal_numbers_render_equal_keys() -> None:
    """``Decimal("5.0")`` in an int key rendered ``N#5.0``: a put stored a second entity beside the one of 5,
    and a get of it missed that one; ``{seq:08d}`` refused an integral Decimal outright."""
    s = open_store("memory://")
    s.create_table(single_table_spec("app"))
    r = Repository(s, "app", [
        Model(Numbered, pk="T#{tenant_id}", sk="N#{n}#A#{amount}"),
        Model(Event, pk="EVENTS#{tenant_id}#{_shard}", sk="EVENT#{seq:08d}", shards=10),
    ])  # fmt: skip
    r.put(Numbered("t", 5, Decimal("1.5"), "five"))
    r.put(Event("t", 1, "one"))
    for n, amount in ((5, Decimal("1.5")), (Decimal("5.0"), Decimal("1.50")), (Decimal("5E0"), Decimal("15E-1"))):
        assert r.get(Numbered, tenant_id="t", n=n, amount=amount) == Numbered("t", 5, Decimal("1.5"), "five")
    assert r.get(Event, tenant_id="t", seq=Decimal("1.0")) == Event("t", 1, "one")
    r.put(Numbered("t", Decimal("5.0"), Decimal("1.50"), "again"))  # type: ignore[arg-type]
    assert sorted(i["sk"] for i in s.scan("app").items if i["_type"] == "Numbered") == ["N#5#A#1.5"]  # one entity
    assert r.get(Numbered, tenant_id="t", n=5, amount=Decimal("1.5")) == Numbered("t", 5, Decimal("1.5"), "again")


def test_equal_numbers_in_a_raw_sharded_sort_key_choose_one_shard() -> None:
    """A raw sort key's shard hashed ``str(value)``: ``Decimal("1.50")`` and ``Decimal("1.5")`` chose different
    shards, so a get of one missed the entity the other stored, and a second put stored it twice."""
    s = open_store("memory://")
    s.create_table(TableSpec("seqs", KeyAttribute("pk"), KeyAttribute("sk", "N")))
    r = Repository(s, "seqs", [Model(Event, pk="E#{tenant_id}#{_shard}", sk="{seq}", shards=10)])
    r.put(Event("t", Decimal("5.0"), "five"))  # type: ignore[arg-type]
    assert r.get(Event, tenant_id="t", seq=5) == Event("t", 5, "five")
    r.put(Event("t", 5, "again"))
    assert len(s.scan("seqs").items) == 1


def test_a_decimal_key_value_keeps_its_formats_output() -> None:
    """An integral Decimal becomes an int only for an integer format: as an int, '.2f' went through a float
    (two 20-digit numbers rendered one key) and 'e' or 'f' changed their text."""
    from storeswap.repository.templates import KeyTemplate

    for spec, value, text in (
        (".2f", Decimal("12345678901234567890"), "12345678901234567890.00"),
        (".2f", Decimal("12345678901234567891"), "12345678901234567891.00"),
        ("f", Decimal("5.0"), "5"),
        ("e", Decimal(5), "5e+0"),
        ("08d", Decimal("5.0"), "00000005"),
        ("x", Decimal(255), "ff"),
        ("", Decimal("1.50"), "1.5"),
    ):
        assert KeyTemplate(f"N#{{n:{spec}}}" if spec else "N#{n}").render({"n": value}) == f"N#{text}"


def test_a_bytearray_in_a_bytes_field_is_stored_as_its_bytes() -> None:
    """The type check before a put (checked_data) refused a bytearray, which was stored before it."""

    @attrs.frozen
    class Blob:
        tenant_id: str
        data: bytes = b""

    s = open_store("memory://")
    s.create_table(single_table_spec("app"))
    r = Repository(s, "app", [Model(Blob, pk="B#{tenant_id}", sk="BLOB")])
    r.put(Blob("a", bytearray(b"xy")))  # type: ignore[arg-type]
    r.put(Blob("b", memoryview(b"zz")))  # type: ignore[arg-type]
    assert r.get(Blob, tenant_id="a") == Blob("a", b"xy")
    assert r.get(Blob, tenant_id="b") == Blob("b", b"zz")


def test_incrementing_by_a_huge_decimal_is_refused_without_building_the_integer() -> None:
    """``int(Decimal("1E+100000000"))`` (the old integral check) builds a hundred-million-digit integer."""
    import threading

    s, r = _repo()
    r.put(Counter("t", uuid.UUID(int=1), value=1))
    before = _items(s)
    caught: list[BaseException] = []

    def call() -> None:
        try:
            r.increment(Counter("t", uuid.UUID(int=1), value=1), "value", Decimal("1E+100000000"))
        except BaseException as e:
            caught.append(e)

    t = threading.Thread(target=call, daemon=True)
    t.start()
    t.join(60)  # not a timing assertion: the old check took minutes and gigabytes; the new one a microsecond
    assert not t.is_alive(), "the integral check is building the integer"
    assert len(caught) == 1 and isinstance(caught[0], ValidationError), caught
    assert _items(s) == before


def test_key_values_take_what_a_put_takes_and_refuse_a_literal_outside_it_with_one_typed_error() -> None:
    """From a review of the key check: a datetime for an int TTL key field, a bytearray for a bytes key, are what a
    put stores; a value outside a Literal leaked cattrs' own error (not a StoreError) from both checks."""
    from storeswap.core.schema import KeyAttribute, TableSpec

    @attrs.frozen
    class Lease:
        k: str
        exp: int

    @attrs.frozen
    class Blob:
        k: bytes

    @attrs.frozen
    class Tier:
        k: typing.Literal["free", "paid"]

    s = open_store("memory://")
    s.create_table(single_table_spec("app", ttl_attribute="exp"))
    s.create_table(TableSpec("blobs", KeyAttribute("k", "B")))
    r = Repository(s, "app", [Model(Lease, pk="L#{k}", sk="E#{exp}", ttl="exp"), Model(Tier, pk="T#{k}", sk="T")])
    rb = Repository(s, "blobs", [Model(Blob, pk="{k}")])
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    r.put(Lease("a", int(when.timestamp())))
    assert r.get(Lease, k="a", exp=when) == Lease("a", int(when.timestamp()))
    rb.put(Blob(b"xy"))
    assert rb.get(Blob, k=bytearray(b"xy")) == rb.get(Blob, k=memoryview(b"xy")) == Blob(b"xy")
    r.put(Tier("paid"))
    before = _items(s)
    for call in (lambda: r.get(Tier, k="gold"), lambda: r.put(Tier("gold"))):  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="does not hold its declared type"):
            call()
    assert _items(s) == before
