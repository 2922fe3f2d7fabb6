"""``storeswap migrate --follow`` SIGKILLed during the copy and the replay under live writers, in three directions.

dynamodb (moto) -> postgres, postgres -> dynamodb (moto) and postgres -> postgres share one harness:

1. the source table (partition + sort key, a global secondary index, a NEW_AND_OLD_IMAGES stream) is seeded;
2. writer threads run against the source through the port for the whole migration: puts, conditional updates
   (an UpdateItem with a condition that fails on a deleted item), deletes and conditional transactions; every
   operation writes a fresh per-key version ``ver`` (one counter per key, only ever increasing);
3. the real CLI (``storeswap migrate ... --follow``) runs as a subprocess and is SIGKILLed at seeded random
   points, during the copy and during the replay (each kill waits for the progress it aims at, read from the
   state file, never for a fixed time), then resumed with the same command each time;
4. the writers stop, the follower runs ``--until-caught-up``, ``storeswap verify --json`` (indexes included)
   must exit 0, and the harness measures, itself, what was lost and what was duplicated.

"Lost" and "duplicated" are measured, not assumed:

- every key's final state on the source is checked against the writers' own record of their last acknowledged
  write (version or deletion), so the comparison below starts from a source known to be right;
- lost = source items missing on the target or older there (a lower ``ver``: the newer change never arrived, or
  a stale image was re-applied over it), source index entries missing on the target (each index queried through
  the port, partition by partition), and stream records since the start position that no checkpoint counted;
- duplicated = target items the source does not have (a delete undone by a re-applied older put), items whose
  version is ahead of the source's, target index entries the source does not have, and stream records that the
  checkpoints counted more than once (the checkpoint's record count against the stream's).

A stale image re-applied over a newer one and never repaired leaves the key's final ``ver`` below the source's, so
the final equality plus the per-key version is what catches a regression; the target's own change log cannot be
used for it, because a migration's loads into PostgreSQL (``bulk_load``) are not change-logged and
moto's stream is not safe to read under the follower's parallel writers (below).

The seed is fixed per direction (:func:`_default_seed`), so every run draws the same kill points; it is printed
and named in every assertion message; run another with ``STORESWAP_FOLLOW_KILL_SEED=N``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storeswap import GlobalIndex, KeyAttribute, TableSpec, open_store
from storeswap.core.errors import ConditionFailed, TransactionCanceled, TransactionConflict
from storeswap.core.port import ItemStore
from storeswap.core.requests import TxDelete, TxPut, TxUpdate

pytestmark = pytest.mark.slow

ITEMS = 2500
GROUPS = 12
INDEX = "by_group"
WRITER_THREADS = 3
#: Writer operations per second, all threads together: enough to keep the stream ahead of the follower while it
#: is being killed, little enough for the final catch-up to be short on a loaded 2-core machine.
WRITE_RATE = 120.0
#: The kill schedule: the phase each SIGKILL must land in.
SCHEDULE = ("copy", "copy", "replay", "replay")
DIRECTIONS = [("dynamodb", "postgres"), ("postgres", "dynamodb"), ("postgres", "postgres")]
#: How long a follower may show no progress (items copied, records replayed) before the test calls it stuck: a
#: bound for a hang, generous for a slow process start on a loaded machine, never a measure of speed.
STALL_S = 90.0


def _default_seed(source_kind: str, target_kind: str) -> int:
    """The seed of a direction when ``STORESWAP_FOLLOW_KILL_SEED`` is unset: fixed, so every run is the same."""
    return zlib.crc32(f"follow-kill {source_kind}->{target_kind}".encode()) % 1_000_000


def _spec(name: str) -> TableSpec:
    # The stream is enabled after the seed is loaded (see the test), so it holds the writers' changes only.
    return TableSpec(
        name,
        KeyAttribute("pk", "S"),
        KeyAttribute("sk", "N"),
        global_indexes=(GlobalIndex(INDEX, KeyAttribute("g", "S"), KeyAttribute("gs", "N")),),
    )


KeyT = tuple[str, int]


def _key(i: int) -> dict[str, Any]:
    return {"pk": f"p{i % 97}", "sk": Decimal(i)}


def _kt(item: Any) -> KeyT:
    return (str(item["pk"]), int(item["sk"]))


def _url(kind: str) -> str:
    import importlib

    return str(importlib.import_module(f"storeswap.backends.{kind}").provision())


class Writers:
    """Writer threads on the source; thread t owns the keys i with i % WRITER_THREADS == t.

    Each key is written by one thread only, so its versions increase in the order the source applied them, and
    the owner knows the key's last acknowledged state (``expected``).  On moto (the DynamoDB source) every
    operation also holds one lock: moto's threaded server is not atomic — concurrent UpdateItems on one item can
    interleave, a stream record's sequence number is taken (``len(records)``) before the record is appended, and a
    cancelled TransactWriteItems restores a deep copy of the whole table, undoing other threads' writes (and their
    stream records) made meanwhile.  None of that is storeswap's behaviour, so it must not be able to produce a
    false failure here; PostgreSQL's writers run unserialised.
    """

    def __init__(self, store: ItemStore, table: str, seed: int, *, serialise: bool) -> None:
        self.store, self.table = store, table
        self.stop = threading.Event()
        self.serialised = serialise
        self.lock: Any = threading.Lock() if serialise else contextlib.nullcontext()
        self.version: dict[KeyT, int] = {}
        #: Per key, the last acknowledged write: its version, or None for a delete.
        self.expected: dict[KeyT, int | None] = {}
        self.ops: dict[str, int] = {"put": 0, "update": 0, "update_refused": 0, "delete": 0, "tx": 0, "tx_refused": 0}
        self.errors: list[BaseException] = []
        # moto serves a TransactWriteItems by deep-copying the whole table (items and stream) first, about half a
        # second here for this table; at PostgreSQL's share the moto writers would manage a few operations a second.
        self.weights = (35, 27, 15, 4 if serialise else 23)  # put, conditional update, delete, transaction
        self._ops_lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(t, random.Random(seed * 1000 + t)), daemon=True)
            for t in range(WRITER_THREADS)
        ]

    def seed_items(self) -> None:
        items = [self._item(i, 0, random.Random(i)) for i in range(ITEMS)]
        for it in items:
            self.version[_kt(it)] = 0
            self.expected[_kt(it)] = 0
        for i in range(0, len(items), 500):
            self.store.bulk_put(self.table, items[i : i + 500])

    @staticmethod
    def _item(i: int, ver: int, rng: random.Random) -> dict[str, Any]:
        item: dict[str, Any] = {**_key(i), "ver": Decimal(ver), "n": Decimal(rng.randrange(1000)),
                                "gs": Decimal(rng.randrange(10_000)), "pad": "x" * rng.randrange(50, 300)}  # fmt: skip
        if rng.random() < 0.85:  # some items are outside the (sparse) index
            item["g"] = f"g{rng.randrange(GROUPS)}"
        return item

    def _next(self, i: int) -> int:
        k = _kt(_key(i))
        self.version[k] = self.version.get(k, 0) + 1
        return self.version[k]

    def _count(self, op: str) -> None:
        with self._ops_lock:
            self.ops[op] += 1

    def _pick(self, rng: random.Random, mine: list[int], op: str) -> int:
        """A key of this thread's for ``op``'s condition (the thread owns its keys, so it knows which exist).

        Left to chance, a condition meets a deleted key too rarely (about one update in a hundred here) for every
        run to see a refusal, so one conditional write in four is aimed at a key this thread deleted.  On moto a
        transaction is never aimed to fail and never left to chance either: moto applies a transaction's actions
        one by one, recording each in the stream, and on a failed condition puts a deep copy of the table taken
        before it in place of the live one; a stream reader's open shard iterator still points at the discarded
        shard, reads the cancelled actions' records from it (writes that never happened) and nothing after, and a
        follower restarted from that position then skips the live stream's records that reuse their sequence
        numbers.  DynamoDB records nothing for a cancelled transaction, so there the condition must hold.
        """
        exists = [i for i in mine if self.expected[_kt(_key(i))] is not None]
        if op == "tx" and self.serialised:
            return rng.choice(exists) if exists else rng.choice(mine)
        if rng.random() < 0.25:
            gone = sorted(set(mine) - set(exists))
            if gone:
                return rng.choice(gone)
        return rng.choice(mine)

    def _one(self, rng: random.Random, mine: list[int]) -> None:
        op = rng.choices(("put", "update", "delete", "tx"), weights=self.weights)[0]
        i = self._pick(rng, mine, op) if op == "update" else rng.choice(mine)
        k = _kt(_key(i))
        if op == "put":
            v = self._next(i)
            with self.lock:
                self.store.put(self.table, self._item(i, v, rng))
            self.expected[k] = v
            self._count("put")
        elif op == "update":
            v = self._next(i)
            update = "SET ver = :v, n = n + :one, gs = :gs" + (" REMOVE g" if rng.random() < 0.2 else "")
            try:
                with self.lock:
                    self.store.update(self.table, _key(i), update, condition="attribute_exists(ver)",
                                      values={":v": Decimal(v), ":one": Decimal(1),
                                              ":gs": Decimal(rng.randrange(10_000))})  # fmt: skip
            except ConditionFailed:  # the item was deleted: nothing written
                self._count("update_refused")
                return
            self.expected[k] = v
            self._count("update")
        elif op == "delete":
            self._next(i)  # a delete takes a version too, so versions stay unique per key
            with self.lock:
                self.store.delete(self.table, _key(i))
            self.expected[k] = None
            self._count("delete")
        else:
            j, d = self._pick(rng, mine, "tx"), rng.choice(mine)
            if len({i, j, d}) < 3:
                return
            kj, kd = _kt(_key(j)), _kt(_key(d))
            vi, vj = self._next(i), self._next(j)
            self._next(d)
            actions = [
                TxPut(self.table, self._item(i, vi, rng)),
                TxUpdate(self.table, _key(j), "SET ver = :v, gs = :gs", condition="attribute_exists(ver)",
                         values={":v": Decimal(vj), ":gs": Decimal(rng.randrange(10_000))}),
                TxDelete(self.table, _key(d)),
            ]  # fmt: skip
            try:
                with self.lock:
                    self.store.transact_write(actions)
            except (TransactionCanceled, TransactionConflict):  # refused whole: nothing written
                self._count("tx_refused")
                return
            self.expected[k], self.expected[kj], self.expected[kd] = vi, vj, None
            self._count("tx")

    def _run(self, t: int, rng: random.Random) -> None:
        mine = [i for i in range(ITEMS) if i % WRITER_THREADS == t]
        pause = WRITER_THREADS / WRITE_RATE
        try:
            while not self.stop.is_set():
                started = time.monotonic()
                self._one(rng, mine)
                self.stop.wait(max(0.0, pause - (time.monotonic() - started)))
        except BaseException as e:  # reported by the test, never swallowed
            self.errors.append(e)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def _state(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())  # replaced atomically (os.replace), so never torn
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _copied(st: dict[str, Any]) -> int:
    return sum(int(s["count"]) for s in st.get("segments", {}).values())


def _copy_done(st: dict[str, Any]) -> bool:
    segs = st.get("segments", {})
    return bool(segs) and all(s.get("done") for s in segs.values())


def _replayed(st: dict[str, Any]) -> int:
    return int((st.get("follow") or {}).get("records", 0))


def _items(store: ItemStore, table: str) -> dict[KeyT, dict[str, Any]]:
    return {_kt(it): dict(it) for it in store.scan_all(table, consistent=True)}


def _index_entries(store: ItemStore, table: str) -> set[tuple[Any, ...]]:
    """Every entry of the index, read through the index (a query per partition), as comparable tuples."""
    out: set[tuple[Any, ...]] = set()
    for g in range(GROUPS):
        for it in store.query_all(table, "g = :g", index=INDEX, values={":g": f"g{g}"}):
            out.add((it["g"], int(it["gs"]), *_kt(it), int(it["ver"]), int(it["n"])))
    return out


def _stream_records(store: ItemStore, table: str, start: str) -> Iterator[Any]:
    return store.iter_changes(table, after=start)


def _history(
    source: ItemStore, table: str, start: str, src: dict[KeyT, dict[str, Any]], dst: dict[KeyT, dict[str, Any]]
) -> str:
    """For the first keys that differ: their version on each side and their stream records since ``start``."""
    keys = sorted(k for k in src.keys() | dst.keys() if src.get(k) != dst.get(k))[:6]
    seen: dict[KeyT, list[str]] = {k: [] for k in keys}
    for rec in _stream_records(source, table, start):
        k = _kt(rec.keys)
        if k in seen:
            ver = rec.new_image.get("ver") if rec.new_image is not None else None
            seen[k].append(f"{rec.kind}:{ver}@{rec.shard[-8:]}/{rec.sequence}")
    return "; ".join(
        f"{k}: source ver {(src.get(k) or {}).get('ver')}, target ver {(dst.get(k) or {}).get('ver')}, "
        f"stream {' '.join(seen[k]) or '-'}"
        for k in keys
    )


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace")
    except OSError:
        return ""


def _wait_and_kill(
    proc: subprocess.Popen[bytes], state: Path, phase: str, rng: random.Random, rerun: str, stderr: Path
) -> str:
    """SIGKILL ``proc`` at a seeded random point of ``phase``; returns the phase the kill landed in (from its state).

    The point is one of progress (items copied, records replayed), polled from the state file; the wait for it
    fails only when the follower shows no progress at all for :data:`STALL_S` (a slow start is waited for); it
    then aborts the follower, whose faulthandler writes every thread's stack to ``stderr`` (a file, not a pipe:
    a pipe nobody reads would stop a follower that wrote enough), and fails with it.
    """
    before = _state(state)
    if phase == "copy":
        # Aim inside the first third of what is left, so that the kill usually lands before the copy ends.
        left = max(ITEMS - _copied(before), 30)
        threshold = _copied(before) + rng.randint(left // 10, left // 3)

        def ready(st: dict[str, Any]) -> bool:
            return _copied(st) >= threshold

        delay = rng.uniform(0, 0.05)
    else:
        threshold = _replayed(before) + rng.randint(20, 200)

        def ready(st: dict[str, Any]) -> bool:
            return _copy_done(st) and _replayed(st) >= threshold

        delay = rng.uniform(0, 0.5)  # often lands inside a page's writes, before its checkpoint
    progress, stuck_at = (_copied(before), _replayed(before)), time.monotonic() + STALL_S
    while not ready(st := _state(state)):
        if proc.poll() is not None:
            raise AssertionError(f"migrate --follow exited ({proc.returncode}) before its {phase} kill {rerun}: "
                                 + _tail(stderr, 3000))
        if (_copied(st), _replayed(st)) != progress:  # it moves: wait on, however slowly it goes
            progress, stuck_at = (_copied(st), _replayed(st)), time.monotonic() + STALL_S
        if time.monotonic() >= stuck_at:
            proc.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack, then the process ends
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            raise AssertionError(
                f"migrate --follow made no progress in {STALL_S:.0f} s towards its {phase} kill (at {progress[0]} "
                f"items copied, {progress[1]} records replayed) {rerun}; its stderr ends:\n{_tail(stderr)}"
            )
        time.sleep(0.01)
    time.sleep(delay)
    assert proc.poll() is None, f"the follower must still be running when it is killed {rerun}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"{proc.returncode} {rerun}"
    after = _state(state)
    if phase == "replay":
        assert _copy_done(after) and _replayed(after) > _replayed(before), f"the replay kill missed the replay {rerun}"
        return "replay"
    if not _copy_done(after):
        return "copy"
    # A starved test process can see the copy's last pages late: the kill then fell after the copy ended, still a
    # kill of the follower (it is named for where it landed, and the test requires at least one real copy kill).
    return "replay" if _replayed(after) > _replayed(before) else "copy-end"


@pytest.mark.parametrize(("source_kind", "target_kind"), DIRECTIONS, ids=[f"{s}->{t}" for s, t in DIRECTIONS])
def test_follow_killed_during_copy_and_replay_loses_and_duplicates_nothing(
    source_kind: str, target_kind: str, tmp_path: Path
) -> None:
    if "dynamodb" in (source_kind, target_kind):
        pytest.importorskip("moto")
    seed = int(os.environ.get("STORESWAP_FOLLOW_KILL_SEED", _default_seed(source_kind, target_kind)))
    rerun = f"[seed {seed}: STORESWAP_FOLLOW_KILL_SEED={seed} reruns it]"
    print(f"\n{source_kind}->{target_kind}: {rerun}")
    rng = random.Random(seed)
    began = time.monotonic()
    source_url, target_url = _url(source_kind), _url(target_kind)
    source, target = open_store(source_url), open_store(target_url)
    name = f"fk_{uuid.uuid4().hex[:10]}"
    copy = f"{name}_copy"
    state = tmp_path / "state.json"
    cli = [sys.executable, "-X", "faulthandler", "-m", "storeswap.cli"]
    args = ["--source", source_url, "--target", target_url, "--table", name, "--target-table", copy]
    # Small pages make the copy long enough to be killed twice; moto's paged scan costs a pass over the table per
    # page, so a moto source gets larger ones (its copy is slow enough anyway).
    batch = "100" if source_kind == "dynamodb" else "25"
    cmd = [*cli, "migrate", *args, "--state", str(state), "--segments", "3", "--batch", batch, "--follow"]
    writers = Writers(source, name, seed, serialise=source_kind == "dynamodb")
    try:
        source.create_table(_spec(name))
        writers.seed_items()
        source.set_stream(name, "NEW_AND_OLD_IMAGES")
        laps = [("seed", time.monotonic())]
        kills: list[str] = []  # the phase each SIGKILL was seen to land in (checked from the state it left)
        with writers:
            for n, phase in enumerate(SCHEDULE):
                err = tmp_path / f"run{n + 1}.stderr"
                with err.open("wb") as sink:
                    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sink)
                try:
                    kills.append(_wait_and_kill(proc, state, phase, rng, rerun, err))
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                laps.append((f"run{n + 1}-{phase}", time.monotonic()))
        assert not writers.errors, f"{writers.errors} {rerun}"
        start = str(_state(state)["follow"]["start"])
        final = subprocess.run([*cmd, "--until-caught-up"], capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, f"{final.stderr[-3000:]} {rerun}"
        assert "resuming from" in final.stderr and "caught up" in final.stdout, final.stdout + final.stderr + rerun
        laps.append(("catch-up", time.monotonic()))
        verify = subprocess.run([*cli, "verify", *args, "--json"], capture_output=True, text=True, timeout=300)
        laps.append(("verify", time.monotonic()))
        vr = json.loads(verify.stdout) if verify.stdout.strip().startswith("{") else {}

        # The source first: its final state is the writers' last acknowledged write of every key.
        src_items, dst_items = _items(source, name), _items(target, copy)
        src_state = {k: int(it["ver"]) for k, it in src_items.items()}
        wrong_source = {k for k, v in writers.expected.items() if src_state.get(k) != v}
        assert not wrong_source, f"the source itself disagrees with its writers on {len(wrong_source)} keys {rerun}"

        stream = sum(1 for _ in _stream_records(source, name, start))
        replayed = _replayed(_state(state))
        src_index, dst_index = _index_entries(source, name), _index_entries(target, copy)
        older = [k for k, it in src_items.items() if k in dst_items and int(dst_items[k]["ver"]) < int(it["ver"])]
        newer = [k for k, it in src_items.items() if k in dst_items and int(dst_items[k]["ver"]) > int(it["ver"])]
        lost = (
            sum(1 for k in src_items if k not in dst_items)
            + len(older)
            + len(src_index - dst_index)
            + max(0, stream - replayed)
        )
        duplicated = (
            sum(1 for k in dst_items if k not in src_items)
            + len(newer)
            + len(dst_index - src_index)
            + max(0, replayed - stream)
        )
        changed = sum(1 for k, it in src_items.items() if k in dst_items and dst_items[k] != it)
        ops = dict(writers.ops)
        print(
            f"{source_kind}->{target_kind}: items {len(src_items)} (target {len(dst_items)}), index entries "
            f"{len(src_index)}, records replayed {replayed} (stream since start {stream}), kills {len(kills)} "
            f"({', '.join(kills)}), lost {lost}, duplicated {duplicated}, differing items {changed}, "
            f"writer ops {ops}, wall {time.monotonic() - began:.1f}s ("
            + ", ".join(f"{n} {t - p:.1f}s" for (_, p), (n, t) in zip([("start", began), *laps], laps))
            + ")"
        )
        assert all(ops[o] > 0 for o in ("put", "update", "delete", "tx")), f"{ops} {rerun}"
        assert ops["update_refused"] > 0, f"no condition was ever refused: the writers test little {rerun}"
        if source_kind == "dynamodb":  # see Writers._pick: on moto the transactions' conditions always hold
            assert ops["tx_refused"] == 0, f"{ops} {rerun}"
        assert stream > 0 and replayed == stream, f"stream {stream}, replayed {replayed} {rerun}"
        assert kills.count("copy") >= 1 and kills.count("replay") >= 1, f"kills {kills} {rerun}"
        assert (lost, duplicated, changed) == (0, 0, 0), (
            f"{_history(source, name, start, src_items, dst_items)} {rerun}"
        )
        assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-2000:] + rerun
        assert vr.get("identical") is True and vr["indexes"] and all(ix["identical"] for ix in vr["indexes"]), (
            f"{vr} {rerun}"
        )
    finally:
        writers.stop.set()
        for store, table in ((source, name), (target, copy)):
            with contextlib.suppress(Exception):
                if store.table_exists(table):
                    store.delete_table(table)
        source.close()
        target.close()
