"""The access-pattern workload: operations follow from the key schema, and the evaluated table is never written."""

from __future__ import annotations

from storeswap.adapters.memory import MemoryStore
from storeswap.benchmarks.access_patterns import AccessPatternWorkload, run_interleaved
from storeswap.evaluate.profile import profile_table
from storeswap.evaluate.samples import EDGES_TABLE, load_samples
from storeswap.migrate import verify_tables


def test_operations_follow_from_the_spec_and_reads_never_write() -> None:
    source = MemoryStore()
    load_samples(source)
    target = MemoryStore()
    load_samples(target)
    _profile, sample = profile_table(source, EDGES_TABLE, sample=50)
    workload = AccessPatternWorkload(source.spec(EDGES_TABLE), sample)
    assert workload.ops == (
        "get",
        "query partition",
        "query index by_grp",
        "query index by_lsk",
        "put",
        "conditional update",
    )
    for store in (source, target):
        workload.bind(store, EDGES_TABLE, "scratch_table")
    result = run_interleaved(workload, [("source", source), ("target", target)], per_op=4, warmup=1)
    for store in (source, target):
        workload.unbind(store)
        assert not store.table_exists("scratch_table")
    assert result["errors"] == {"source": {}, "target": {}}
    for entry in result["ops"].values():
        assert entry["stores"]["source"]["count"] == entry["stores"]["target"]["count"] == 4
        assert entry["ratio_to_first"]["target"] > 0
    assert verify_tables(source, target, EDGES_TABLE).identical  # neither table was written
