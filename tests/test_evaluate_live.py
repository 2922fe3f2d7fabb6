"""``evaluate --live``: migrate under a background writer, follow, sample lag, catch up, verify, cut-over check.

End to end on memory -> memory and memory -> PostgreSQL with a small table and
a writer window of a few seconds; a target that silently drops replayed
writes must come out NOT SAFE; a source without a change stream UNKNOWN;
bad ``--live-rate`` values one typed error; the user's own table is never
written (refused without ``--live-scratch``, a scratch copy with it).
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from broken_store import DropsReplayedWritesStore

from storeswap import ConfigurationError, GlobalIndex, KeyAttribute, Projection, TableSpec
from storeswap.adapters.memory import MemoryStore
from storeswap.core.errors import StoreUnavailable
from storeswap.core.port import ItemStore
from storeswap.core.streams import StreamMethods
from storeswap.evaluate import Endpoint, EvaluateOptions, Evaluation, evaluate, write_evaluation
from storeswap.evaluate.document import LiveEvaluation, LiveWriterStats, Step
from storeswap.evaluate.live import (
    MAX_LIVE_RATE,
    LiveOptions,
    LiveWritesRefused,
    live_options_for,
    parse_live_rate,
)
from storeswap.evaluate.suite_target import ContractStore
from storeswap.evaluate.verdict import decide
from storeswap.migrate.canonical import item_digest

TABLE_SPEC = TableSpec(
    "orders",
    KeyAttribute("pk", "S"),
    KeyAttribute("sk", "N"),
    global_indexes=(GlobalIndex("by_group", KeyAttribute("grp", "S"), KeyAttribute("sk", "N"), Projection("ALL")),),
)
ITEMS = 400
#: A short window: the writer goes on this long after the copy (it writes during the copy too).
WINDOW_S = 3.0


def _seed(store: ItemStore, name: str = "orders") -> None:
    store.create_table(TableSpec(name, TABLE_SPEC.partition_key, TABLE_SPEC.sort_key,
                                 global_indexes=TABLE_SPEC.global_indexes))  # fmt: skip
    store.bulk_put(name, [{"pk": f"p{i % 23}", "sk": Decimal(i), "grp": f"g{i % 7}", "body": "x" * (i % 50),
                           "n": Decimal(i)} for i in range(ITEMS)])  # fmt: skip


def _table_digest(store: ItemStore, table: str) -> str:
    items = sorted(item_digest(i) for i in store.scan_all(table, consistent=True))
    return str(hash(tuple(items)))


def _run(
    source: ItemStore, target: ItemStore, table: str, live: LiveOptions, target_label: str = "memory://"
) -> Evaluation:
    return evaluate(
        Endpoint(source, "memory://", ContractStore(builtin="memory")),
        Endpoint(target, target_label, None),
        [table],
        options=EvaluateOptions(contract=False, bench=False, live=live),
    )


def _assert_healthy_live(ev: Evaluation, rate: float) -> LiveEvaluation:
    live = ev.tables[0].live
    assert live is not None
    assert live.step.status == "ok", live.step
    w = live.writer
    assert w is not None and w.writes > 0 and w.errors == 0, w
    assert w.puts and w.updates and w.deletes, w  # every kind of write happened
    assert live.records_replayed > 0
    assert live.samples, "no lag sample was taken while the writer ran"
    assert live.caught_up and live.catch_up_s is not None
    assert live.catch_up_report is not None and all(v == 0 for v in live.catch_up_report.lag_records.values())
    assert live.verify.status == "ok" and live.verify_report is not None and live.verify_report.identical
    assert all(ix.identical for ix in live.verify_report.indexes)
    doc = live.to_json()
    rmax, rp50 = doc["lag_records_max"], doc["lag_records_p50"]
    assert rmax is not None and rp50 is not None and rmax >= rp50 >= 0
    assert len(live.samples) >= 2 and live.peak_records_per_second is not None
    assert live.peak_records_per_second >= 0
    print(
        f"live {ev.source.kind}->{ev.target.kind}: {w.writes} writes at {w.achieved_rate:.0f}/s (asked {rate:g}), "
        f"{live.records_replayed} records replayed, {doc['replay_records_per_second']} records/s (peak "
        f"{doc['peak_records_per_second']}), lag records "
        f"max/p50 {rmax}/{rp50}, lag s max/p50 {doc['lag_seconds_max']}/{doc['lag_seconds_p50']}, catch-up "
        f"{doc['catch_up_s']} s; cut-over: {live.cutover.status} {live.cutover_summary or live.cutover.reason}"
    )
    return live


def _assert_cutover_outcome(ev: Evaluation, live: LiveEvaluation) -> None:
    """The cut-over check ran on the live tables and said go; with every other part passing the verdict is SAFE."""
    assert ev.verdict is not None
    assert live.cutover.status == "ok", live.cutover
    assert live.cutover_outcome == "go", live.cutover_reasons
    assert live.cutover_json is not None and live.cutover_json["caught_up"] is True
    assert ev.verdict.status == "SAFE", [r.render() for r in ev.verdict.reasons + ev.verdict.unknown]
    assert sorted(ev.verdict.not_checked) == ["the benchmark (--no-bench)", "the contract suite (--no-contract)"]


def test_memory_to_memory_live_on_a_scratch_copy_leaves_the_table_untouched(tmp_path: Path) -> None:
    source, target = MemoryStore(), MemoryStore()
    _seed(source)
    before = _table_digest(source, "orders")
    ev = _run(source, target, "orders", LiveOptions(rate=150, seconds=WINDOW_S, on="scratch"))
    live = _assert_healthy_live(ev, 150)
    _assert_cutover_outcome(ev, live)
    # The writer wrote to a scratch copy: the evaluated table is as it was, and both scratch tables are gone.
    assert _table_digest(source, "orders") == before
    assert live.source_table != "orders"
    assert source.list_tables() == ["orders"] and target.list_tables() == ["orders"]
    # The report shows the live part.
    paths = write_evaluation(ev, tmp_path / "report")
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "## Live migration" in md and live.source_table in md
    saved = json.loads(paths["results"].read_text(encoding="utf-8"))
    assert saved["tables"][0]["live"]["records_replayed"] == live.records_replayed
    assert saved["options"]["live"]["rate"] == 150


def test_a_window_shorter_than_one_reading_still_takes_the_minimum_of_lag_readings() -> None:
    """A loaded machine can spend a short window on one slow lag reading; the window goes on until it has
    MIN_LAG_SAMPLES (here: a window of a tenth of the interval between readings, which took one before)."""
    from storeswap.evaluate.live import MIN_LAG_SAMPLES

    source, target = MemoryStore(), MemoryStore()
    _seed(source)
    ev = _run(source, target, "orders", LiveOptions(rate=100, seconds=0.05, sample_interval=0.5, on="scratch"))
    live = ev.tables[0].live
    assert live is not None
    assert len(live.samples) >= MIN_LAG_SAMPLES == 2


def test_memory_to_memory_live_on_the_table_itself_gives_it_a_stream() -> None:
    """``on="table"`` (the CLI's built-in samples): the table itself is written, after the other parts ran."""
    source, target = MemoryStore(), MemoryStore()
    _seed(source)
    ev = _run(source, target, "orders", LiveOptions(rate=100, seconds=2.0, on="table"))
    live = _assert_healthy_live(ev, 100)
    assert live.source_table == "orders"
    assert source.describe_table("orders").stream == "NEW_AND_OLD_IMAGES"
    # The static copy ran before the writer: its verify saw the table as loaded.
    assert ev.tables[0].verify_report is not None and ev.tables[0].verify_report.identical
    _assert_cutover_outcome(ev, live)


def test_memory_to_postgres_live() -> None:
    from storeswap.adapters.postgres import PostgresStore
    from storeswap.backends.postgres import provision

    source = MemoryStore()
    target = PostgresStore(provision(), pool_size=4)
    name = f"live_{uuid.uuid4().hex[:10]}"
    try:
        _seed(source, name)
        ev = _run(source, target, name, LiveOptions(rate=100, seconds=WINDOW_S), target_label="postgres")
        live = _assert_healthy_live(ev, 100)
        _assert_cutover_outcome(ev, live)
        assert not target.table_exists(live.target_table)  # the live scratch table was deleted
    finally:
        for t in (name,):
            if target.table_exists(t):
                target.delete_table(t)
        target.close()


def test_a_target_that_drops_replayed_writes_is_not_safe() -> None:
    source, target = MemoryStore(), DropsReplayedWritesStore()
    _seed(source)
    ev = _run(source, target, "orders", LiveOptions(rate=150, seconds=WINDOW_S))
    assert target.dropped > 0
    assert ev.verdict is not None
    lines = [r.render() for r in ev.verdict.reasons]
    print("\n".join(lines))
    assert ev.verdict.status == "NOT SAFE", (ev.verdict.headline, [r.render() for r in ev.verdict.unknown])
    # The static copy is fine; the live verify (and a cut-over check, where the build has one) finds the loss.
    assert not any(r.step == "verify" for r in ev.verdict.reasons)
    assert any(r.step == "live verify" and "after the follower caught up" in r.text for r in ev.verdict.reasons)
    live = ev.tables[0].live
    assert live is not None and live.verify_report is not None and not live.verify_report.identical
    assert live.cutover.status == "ok" and live.cutover_outcome == "no-go", live.cutover
    assert any(r.step == "cut-over" and r.text.startswith("no-go: ") for r in ev.verdict.reasons), lines


class ReplayFailsStore(MemoryStore):
    """A target whose deletes fail (only the replay deletes): the follower stops with the error."""

    def batch_write(self, requests: Any) -> None:
        raise StoreUnavailable("the target went away")


def test_a_replay_that_fails_is_not_safe() -> None:
    source = MemoryStore()
    _seed(source)
    ev = _run(source, ReplayFailsStore(), "orders", LiveOptions(rate=150, seconds=2.0))
    assert ev.verdict is not None and ev.verdict.status == "NOT SAFE", ev.verdict.headline
    assert [r.step for r in ev.verdict.reasons] == ["live"]
    assert "the live migration failed: StoreUnavailable" in ev.verdict.reasons[0].text
    assert source.list_tables() == ["orders"]  # the scratch copy is gone all the same


class NoStreamStore(MemoryStore):
    """A memory store without change streams (the port's defaults, which raise NotSupported)."""

    _stream_info = StreamMethods._stream_info
    _read_shard = StreamMethods._read_shard
    _set_stream = StreamMethods._set_stream


def test_a_source_without_a_stream_makes_the_live_part_unknown() -> None:
    source, target = NoStreamStore(), MemoryStore()
    assert not source.supports_change_streams
    _seed(source)
    ev = _run(source, target, "orders", LiveOptions(rate=50, seconds=1.0))
    assert ev.verdict is not None and ev.verdict.status == "UNKNOWN"
    assert [r.step for r in ev.verdict.unknown] == ["live migration"]
    assert "no change stream" in ev.verdict.unknown[0].text
    assert source.list_tables() == ["orders"]


# ---------------------------------------------------------------- the verdict rules, on documents


def _doc_with(live: LiveEvaluation) -> Evaluation:
    source, target = MemoryStore(), MemoryStore()
    _seed(source)
    ev = evaluate(Endpoint(source, "memory://", ContractStore(builtin="memory")), Endpoint(target, "memory://"),
                  ["orders"], options=EvaluateOptions(contract=False, bench=False))  # fmt: skip
    ev.tables[0].live = live
    return ev


def _ran(**kw: Any) -> LiveEvaluation:
    from storeswap.migrate.follow import FollowReport

    live = LiveEvaluation(100.0, 1.0, "scratch", "s", "t", catch_up_timeout_s=5.0)
    live.step = Step.ok()
    live.writer = LiveWriterStats(100.0, 1.0, puts=50, updates=30, deletes=20)
    live.catch_up_report = FollowReport("s", "t", 3, 100, 2, 1, 0.1, True, {"shard-0000": 0}, 0.0, "")
    live.verify = Step.ok()
    live.verify_report = _IDENTICAL
    live.cutover_in_flight = 0
    for k, v in kw.items():
        setattr(live, k, v)
    return live


_IDENTICAL: Any = None


@pytest.fixture(scope="module", autouse=True)
def _identical_report() -> None:
    global _IDENTICAL
    from storeswap.migrate.verify import verify_tables

    a, b = MemoryStore(), MemoryStore()
    _seed(a)
    _seed(b)
    _IDENTICAL = verify_tables(a, b, "orders", "orders")
    assert _IDENTICAL.identical


def test_verdict_a_go_cutover_with_everything_else_passing_is_safe() -> None:
    ev = _doc_with(_ran(cutover=Step.ok(), cutover_outcome="go"))
    v = decide(ev)
    assert v.status == "SAFE", [r.render() for r in v.reasons + v.unknown]


def test_verdict_an_unknown_cutover_is_unknown() -> None:
    ev = _doc_with(_ran(cutover=Step.ok(), cutover_outcome="unknown", cutover_reasons=["cannot read the stream"]))
    v = decide(ev)
    assert v.status == "UNKNOWN" and [r.text for r in v.unknown] == ["unknown: cannot read the stream"]


def test_verdict_a_no_go_cutover_is_not_safe_with_its_reasons() -> None:
    ev = _doc_with(
        _ran(cutover=Step.ok(), cutover_outcome="no-go", cutover_reasons=["lag 12 records", "3 items differ"])
    )
    v = decide(ev)
    assert v.status == "NOT SAFE"
    assert [r.text for r in v.reasons if r.step == "cut-over"] == ["no-go: lag 12 records", "no-go: 3 items differ"]


def test_verdict_a_cutover_not_checked_is_never_safe() -> None:
    ev = _doc_with(_ran(cutover=Step.error("the cut-over check failed: StoreUnavailable: down")))
    v = decide(ev)
    assert v.status == "UNKNOWN" and [r.step for r in v.unknown] == ["cut-over check"]
    # A cut-over step nobody set (NOT_REACHED) reads the same way.
    v = decide(_doc_with(_ran()))
    assert v.status == "UNKNOWN"


def test_verdict_not_caught_up_is_not_safe_and_no_writes_is_unknown() -> None:
    from storeswap.migrate.follow import FollowReport

    behind = FollowReport("s", "t", 3, 100, 2, 1, 5.0, False, {"shard-0000": 40}, 2.5, "")
    v = decide(_doc_with(_ran(cutover=Step.ok(), cutover_outcome="go", catch_up_report=behind)))
    assert v.status == "NOT SAFE" and any("did not catch up within 5 s" in r.text for r in v.reasons)
    idle = LiveWriterStats(100.0, 1.0, errors=100, first_error="StoreUnavailable: down")
    v = decide(_doc_with(_ran(cutover=Step.ok(), cutover_outcome="go", writer=idle)))
    assert v.status == "UNKNOWN" and "the writer made no write" in v.unknown[0].text


def test_verdict_without_live_ignores_it() -> None:
    ev = _doc_with(_ran())
    ev.tables[0].live = None
    assert decide(ev).status == "SAFE"


# ---------------------------------------------------------------- options and the CLI


@pytest.mark.parametrize(
    "value", [0, -1, "0", "-5", "nan", "inf", "-inf", "abc", "", " ", MAX_LIVE_RATE * 2, "1e9", True, None, [100]]
)
def test_bad_live_rates_are_one_typed_error(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="--live-rate is writes per second"):
        parse_live_rate(value)
    with pytest.raises(ConfigurationError, match="--live-rate is writes per second"):
        LiveOptions(rate=value)


@pytest.mark.parametrize("value", ["100", 0.5, 25, " 250 ", MAX_LIVE_RATE])
def test_good_live_rates(value: Any) -> None:
    assert LiveOptions(rate=value).rate == float(value)


@pytest.mark.parametrize("value", ["0", "nan", "fast", "-3"])
def test_cli_bad_live_rate_exits_2_before_any_store_is_opened(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.cli import main

    # An unreachable source: had it been opened first, the error would be StoreUnavailable, not the rate.
    rc = main(["evaluate", "--source", "postgresql://nobody@127.0.0.1:1/none", "--table", "t", "--live",
               "--live-scratch", "--live-rate", value])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1 and err[0].startswith("error: ConfigurationError: --live-rate is writes per second"), err


def test_cli_live_on_your_own_source_without_scratch_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.cli import main

    rc = main(["evaluate", "--source", "postgresql://nobody@127.0.0.1:1/none", "--table", "t", "--live"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "LiveWritesRefused" in err[0] and "--live-scratch" in err[0], err


def test_cli_live_options_need_live(capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.cli import main

    for extra in (["--live-rate", "10"], ["--live-seconds", "5"], ["--live-scratch"]):
        rc = main(["evaluate", "--source", "memory://", "--table", "t", *extra])
        assert rc == 2, extra
        assert "goes with --live" in capsys.readouterr().err


def test_live_options_rule_never_writes_your_table() -> None:
    with pytest.raises(LiveWritesRefused, match="--live-scratch"):
        live_options_for(own_source=True, scratch=False)
    assert live_options_for(own_source=True, scratch=True).on == "scratch"
    assert live_options_for(own_source=False, scratch=False).on == "table"  # the built-in samples
    assert live_options_for(own_source=False, scratch=True).on == "scratch"
    with pytest.raises(ConfigurationError, match="--live-seconds"):
        live_options_for(own_source=False, scratch=False, seconds=0)
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ConfigurationError, match="at least one thread"):
            LiveOptions(writer_threads=bad)


def make_seeded_source() -> MemoryStore:
    """``--source-factory`` for the CLI test: a memory store holding the ``orders`` table."""
    store = MemoryStore()
    _seed(store)
    return store


def test_cli_live_with_live_scratch_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.cli import main

    out = tmp_path / "report"
    rc = main(["evaluate", "--source-factory", f"{__file__}:make_seeded_source", "--table", "orders", "--target",
               "memory://", "--no-contract", "--no-bench", "--live", "--live-scratch", "--live-rate", "80",
               "--live-seconds", "2", "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    live = doc["tables"][0]["live"]
    assert live["on"] == "scratch" and live["rate"] == 80.0 and live["window_s"] == 2.0
    assert live["writer"]["writes"] > 0 and live["caught_up"] and live["cutover"]["outcome"] == "go", live
    # The source factory's store is not reachable by the contract suite here (--no-contract): SAFE is possible.
    assert rc == {"SAFE": 0, "NOT SAFE": 1, "UNKNOWN": 3}[doc["verdict"]["status"]], captured.err[-2000:]
    assert doc["verdict"]["status"] == "SAFE", doc["verdict"]
    assert "## Live migration" in (out / "report.md").read_text(encoding="utf-8")


def test_verdict_lag_samples_that_could_not_be_read_are_a_caveat_not_a_failed_move() -> None:
    live = _ran(cutover=Step.ok(), cutover_outcome="go", sample_errors=["Throttled: slow down", "Throttled: again"])
    v = decide(_doc_with(live))
    assert v.status == "SAFE", [r.render() for r in v.reasons + v.unknown]
    assert any("2 lag sample(s) could not be read" in r.text for r in v.caveats)
