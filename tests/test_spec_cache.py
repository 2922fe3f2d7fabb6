"""The port's spec cache: a spec read while the table was being forgotten is never cached (a stale spec stays out)."""

from __future__ import annotations

import threading

from storeswap import KeyAttribute, TableSpec
from storeswap.adapters.memory import MemoryStore

OLD = TableSpec(name="tbl", partition_key=KeyAttribute("pk", "S"))
NEW = TableSpec(name="tbl", partition_key=KeyAttribute("pk", "S"), stream="NEW_IMAGE")


class SlowCatalog(MemoryStore):
    """Its catalog read returns ``OLD`` after ``during_read`` ran: another process's DDL landing mid-read."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.during_read = lambda: None

    def _describe_table(self, name: str) -> TableSpec:
        self.reads += 1
        answer = OLD if self.reads == 1 else NEW
        self.during_read()
        return answer


def test_a_spec_read_across_a_forget_is_returned_but_not_cached() -> None:
    store = SlowCatalog()
    store.during_read = lambda: store.forget("tbl")  # the change notification arrives while the catalog is read
    assert store.spec("tbl") is OLD  # what the read saw is the caller's answer
    store.during_read = lambda: None
    assert store.spec("tbl") is NEW and store.reads == 2  # but it was not cached: the next look-up reads again
    assert store.spec("tbl") is NEW and store.reads == 2  # and a read with no forget across it is cached


def test_forget_of_every_table_also_keeps_a_racing_read_out() -> None:
    store = SlowCatalog()
    store.during_read = store.forget
    store.spec("tbl")
    store.during_read = lambda: None
    assert store.spec("tbl") is NEW and store.reads == 2


def test_a_forget_from_another_thread_during_the_read() -> None:
    store = SlowCatalog()
    reading, forgotten = threading.Event(), threading.Event()

    def wait_for_forget() -> None:
        reading.set()
        assert forgotten.wait(10)

    store.during_read = wait_for_forget
    t = threading.Thread(target=store.spec, args=("tbl",))
    t.start()
    assert reading.wait(10)
    store.forget("tbl")
    forgotten.set()
    t.join(10)
    store.during_read = lambda: None
    assert store.spec("tbl") is NEW and store.reads == 2


class SlowDelete(MemoryStore):
    """Its delete lets another look-up read the catalog (which still holds the table) before the table goes."""

    def __init__(self) -> None:
        super().__init__()
        self.during_delete = lambda: None

    def _delete_table(self, name: str) -> None:
        self.during_delete()
        super()._delete_table(name)


def test_a_look_up_during_a_delete_does_not_keep_the_deleted_tables_spec() -> None:
    store = SlowDelete()
    store.create_table(OLD)
    store.during_delete = lambda: store.describe_table("tbl")  # reads the catalog, which still has the table
    store.delete_table("tbl")
    assert not store.table_exists("tbl") and store.list_tables() == []
