"""Key templates, cursor tokens and model declarations of storeswap.repository (no store needed)."""

from __future__ import annotations

import uuid

import attrs
import pytest

from storeswap.core.errors import ValidationError
from storeswap.repository import Cursor, KeyTemplate, Model, ModelError, shard_of


def test_templates_render_and_give_query_prefixes():
    t = KeyTemplate("ORDER#{day}#{n:05d}")
    assert t.fields == ("day", "n") and not t.raw
    assert t.render({"day": "2024-01-02", "n": 42}) == "ORDER#2024-01-02#00042"
    assert t.constant_prefix == "ORDER#"
    assert t.prefix({"day": "2024-01-02"}) == "ORDER#2024-01-02#"
    assert t.prefix({"n": 1}) == "ORDER#"  # stops at the first missing field
    with pytest.raises(ModelError):
        t.render({"day": "x"})


def test_a_single_placeholder_keeps_the_raw_value():
    t = KeyTemplate("{n}")
    assert t.raw and t.render({"n": 7}) == 7
    assert KeyTemplate("{b}").render({"b": b"\x00"}) == b"\x00"
    with pytest.raises(ModelError):
        KeyTemplate("B#{b}").render({"b": b"\x00"})
    assert KeyTemplate("CONSTANT").render({}) == "CONSTANT"


@pytest.mark.parametrize("text", ["", "A#{x!r}", "A#{x.y}", "A#{x}#{x}", "A#{", 7])
def test_bad_templates_are_model_errors(text):
    with pytest.raises(ModelError):
        KeyTemplate(text)  # type: ignore[arg-type]


def test_shards_are_stable_and_in_range():
    assert shard_of("EVENT#00000001", 10) == shard_of("EVENT#00000001", 10)
    assert {shard_of(f"k{i}", 10) for i in range(1000)} == set(range(10))
    assert shard_of("x", 1) == 0


def test_cursor_tokens_round_trip_and_reject_junk():
    c = Cursor("Counter", "gsi1", 3, "abc")
    assert Cursor.from_token(c.token) == c
    for junk in ("", "!!!", "W10", Cursor("x", None, None, None).token[:-2]):
        with pytest.raises(ValidationError):
            Cursor.from_token(junk)


def test_models_need_attrs_classes_and_positive_shards():
    @attrs.frozen
    class Thing:
        id: uuid.UUID

    class Plain:
        pass

    with pytest.raises(ModelError):
        Model(Plain, pk="P#{id}")
    for shards in (0, -1, True, 1.5):
        with pytest.raises(ModelError):
            Model(Thing, pk="P#{id}#{_shard}", shards=shards)  # type: ignore[arg-type]
    assert Model(Thing, pk="P#{id}").name == "Thing"
