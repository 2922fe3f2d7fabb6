"""Helpers for check / verify / evaluate about streams and TTL (storeswap.migrate.stream_settings)."""

from __future__ import annotations

from tiny_adapter import PickleStore  # tests/ is on sys.path under pytest

from storeswap.adapters.memory import MemoryStore
from storeswap.core.schema import KeyAttribute, TableSpec
from storeswap.migrate.stream_settings import compare_settings, settings_findings, store_support, stream_requirement_ids

SPEC = TableSpec("orders", KeyAttribute("pk"), ttl_attribute="exp", stream="NEW_IMAGE")


def test_support_is_read_from_the_adapter() -> None:
    assert store_support(MemoryStore()) == {"streams": True, "ttl": True, "native_ttl_sweeper": False}


def test_findings_name_what_the_target_cannot_keep() -> None:
    found = settings_findings(SPEC, MemoryStore())
    assert [(f["setting"], f["supported"]) for f in found] == [("stream", True), ("ttl", True)]
    assert "ttl_sweep_s" in found[1]["detail"]
    plain = settings_findings(TableSpec("t_1", KeyAttribute("pk")), MemoryStore())
    assert plain == []


def test_a_store_without_streams_is_never_reported_as_supporting_them() -> None:
    store = PickleStore()
    assert store_support(store)["streams"] is False
    assert [f["supported"] for f in settings_findings(SPEC, store)] == [False, False]


def test_compare_settings() -> None:
    other = TableSpec("orders", KeyAttribute("pk"))
    assert compare_settings(SPEC, SPEC) == []
    assert compare_settings(SPEC, other) == ["stream: source NEW_IMAGE, target off", "ttl: source exp, target off"]


def test_the_s_ids() -> None:
    assert stream_requirement_ids()[:2] == ["S1", "S2"] and "S11" in stream_requirement_ids()


def test_check_reports_the_settings_and_whether_the_target_keeps_them() -> None:
    from storeswap.migrate.check import check_table

    source = MemoryStore()
    source.create_table(SPEC)
    source.put("orders", {"pk": "a", "exp": 2_000_000_000})
    kept = check_table(source, "orders", target=MemoryStore())
    assert [(s["setting"], s["supported"]) for s in kept.settings] == [("stream", True), ("ttl", True)]
    assert kept.ok
    by_kind = check_table(source, "orders", "postgres")
    assert [s["supported"] for s in by_kind.settings] == [True, True] and by_kind.ok
    unnamed = check_table(source, "orders")
    assert [s["supported"] for s in unnamed.settings] == [None, None]
    # A target without change streams or TTL loses both: the move is blocked, not passed with a caveat.
    lost = check_table(source, "orders", target=PickleStore())
    assert [s["setting"] for s in lost.settings_lost] == ["stream", "ttl"]
    assert not lost.ok
    assert lost.to_json()["settings"] == lost.settings


def test_check_cli_prints_the_settings(tmp_path) -> None:
    from storeswap.cli import main
    from storeswap.migrate import write_export

    source = MemoryStore()
    source.create_table(SPEC)
    source.put("orders", {"pk": "a", "exp": 2_000_000_000})
    write_export(source, "orders", tmp_path / "exp")
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        rc = main(["check", "--source", f"dynamodb-export:{tmp_path / 'exp'}", "--table", "orders",
                   "--target", "postgres"])
    text = out.getvalue()
    assert rc == 0, text
    assert "[setting] stream NEW_IMAGE: kept" in text and "[setting] ttl exp: kept" in text, text
