"""``storeswap changes``, ``ttl`` and ``expire`` on PostgreSQL (the CLI opens its own store per command)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from storeswap.cli import main
from storeswap.core.schema import KeyAttribute, TableSpec

pytestmark = pytest.mark.slow

#: How long the writer of the never-pausing test writes: a liveness bound far above the command's own time.
WRITER_S = 120.0


@pytest.fixture(scope="module")
def url() -> str:
    from storeswap.backends.postgres import provision

    return provision()


def test_changes_ttl_and_expire(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from storeswap.connect import open_store

    name = f"cli-{uuid.uuid4().hex[:10]}"
    with open_store(url) as store:
        store.create_table(TableSpec(name, KeyAttribute("pk"), stream="NEW_AND_OLD_IMAGES"))
        store.put(name, {"pk": "a", "n": 1, "exp": 5})
        store.put(name, {"pk": "a", "n": 2, "exp": 5})
    try:
        assert main(["changes", "--store", url, "--table", name, "--json"]) == 0
        out, err = capsys.readouterr()
        records = [json.loads(line) for line in out.splitlines()]
        assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
        assert records[1]["dynamodb"]["OldImage"]["n"] == {"N": "1"}
        assert records[1]["dynamodb"]["NewImage"]["n"] == {"N": "2"}
        assert records[0]["eventSource"] == "aws:dynamodb" and "userIdentity" not in records[0]
        position = err.strip().rsplit("position: ", 1)[1]

        assert main(["ttl", "--store", url, "--table", name, "--attribute", "exp"]) == 0
        assert main(["expire", "--store", url, "--table", name, "--now", "100"]) == 0
        out, _ = capsys.readouterr()
        assert "removed 1 expired item from" in out

        assert main(["changes", "--store", url, "--table", name, "--from", position, "--json"]) == 0
        out, _ = capsys.readouterr()
        (remove,) = [json.loads(line) for line in out.splitlines()]
        assert remove["eventName"] == "REMOVE"
        assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}

        assert main(["changes", "--store", url, "--table", name, "--from", "not-a-position"]) == 2
        assert main(["ttl", "--store", url, "--table", name]) == 2  # neither --attribute nor --disable
    finally:
        with open_store(url) as store:
            store.delete_table(name)


@pytest.mark.parametrize("kind", ["postgres", "dynamodb"])
def test_changes_without_follow_ends_while_writes_never_pause(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    """It prints what the stream held when it started and ends; --from its position prints the rest, once each.

    On moto, where each read of a page meets the writes made meanwhile, reading until a page came back empty
    printed for as long as the writer wrote.  (PostgreSQL reads pages faster than one writer fills them, so
    there the test checks what is printed and the resume position, not the end.)
    """
    import importlib
    import threading

    from storeswap.connect import open_store

    if kind == "dynamodb":
        pytest.importorskip("moto")
    url = str(importlib.import_module(f"storeswap.backends.{kind}").provision())

    name = f"cli-{uuid.uuid4().hex[:10]}"
    stop = threading.Event()
    failed: list[BaseException] = []
    with open_store(url) as store:
        store.create_table(TableSpec(name, KeyAttribute("pk"), stream="NEW_IMAGE"))
        store.put(name, {"pk": "seed"})

        # The writer stops by itself after WRITER_S, so that a command that reads until the writer stops (the old
        # one) ends too, and the test can tell: the command must end while the writer is still writing.
        written = [0]

        def write() -> None:
            deadline = time.monotonic() + WRITER_S
            try:
                while not stop.is_set() and time.monotonic() < deadline:
                    store.put(name, {"pk": f"k{written[0] % 7}", "n": written[0]})
                    written[0] += 1
            except BaseException as e:  # reported below
                failed.append(e)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            assert main(["changes", "--store", url, "--table", name]) == 0
            still_writing = writer.is_alive()
        finally:
            stop.set()
            writer.join(60)
        assert not failed, failed
        assert still_writing, f"changes printed until the writer stopped ({WRITER_S:.0f} s, {written[0]} puts)"
        out, err = capsys.readouterr()
        first = [tuple(line.split()[1:3]) for line in out.splitlines()]  # "KIND shard sequence keys"
        position = err.strip().rsplit("position: ", 1)[1]
        assert main(["changes", "--store", url, "--table", name, "--from", position]) == 0
        out, _ = capsys.readouterr()
        rest = [tuple(line.split()[1:3]) for line in out.splitlines()]
        everything = [(r.shard, r.sequence) for r in store.iter_changes(name)]
        try:
            assert first and rest, (len(first), len(rest))  # the writer went on after the first command's read
            assert sorted(first + rest) == sorted(everything) and len(set(first + rest)) == len(everything)
        finally:
            store.delete_table(name)


def test_changes_from_a_position_of_an_earlier_stream_reads_that_stream_to_its_end(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """S9 keeps a disabled stream's records readable; --from a position in it prints the rest of it and ends."""
    from storeswap.connect import open_store

    name = f"cli-{uuid.uuid4().hex[:10]}"
    with open_store(url) as store:
        store.create_table(TableSpec(name, KeyAttribute("pk"), stream="NEW_IMAGE"))
        try:
            store.put(name, {"pk": "a"})
            store.put(name, {"pk": "b"})
            middle = store.changes(name, limit=1).position  # after a, in the first stream
            store.set_stream(name, None)
            store.set_stream(name, "NEW_IMAGE")
            store.put(name, {"pk": "c"})
            assert main(["changes", "--store", url, "--table", name, "--from", middle]) == 0
            out, _ = capsys.readouterr()
            assert [json.loads(line.split(None, 3)[3])["pk"] for line in out.splitlines()] == ["b"]
        finally:
            store.delete_table(name)
