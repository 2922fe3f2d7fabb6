"""Streams and TTL settings for migration tools: what ``check``, ``verify`` and ``evaluate`` need to know.

Library functions only (``check``/``verify``/``evaluate`` call them):

- :func:`store_support` — does a store implement change streams and TTL, and
  does it sweep by itself (never "yes" by default: a store whose stream
  primitives are the port's defaults has none);
- :func:`settings_findings` — a table's stream / TTL settings against a
  target store's support: one line per setting the target cannot keep;
- :func:`compare_settings` — differences between a source and a target
  table's stream view type and TTL attribute (for ``verify``);
- :func:`stream_requirement_ids` — the S requirement ids (for ``evaluate``'s
  per-store pass/fail).
"""

from __future__ import annotations

from typing import Any

from storeswap.contract_tests.requirements import REQUIREMENTS
from storeswap.core.port import ItemStore
from storeswap.core.schema import TableSpec

__all__ = ["store_support", "settings_findings", "compare_settings", "stream_requirement_ids"]


def store_support(store: ItemStore) -> dict[str, bool]:
    """``{"streams": ..., "ttl": ..., "native_ttl_sweeper": ...}`` for a store, from what its adapter implements."""
    return {
        "streams": store.supports_change_streams,
        "ttl": store.supports_ttl_settings,
        "native_ttl_sweeper": bool(store.native_ttl_sweeper),
    }


def settings_findings(spec: TableSpec, target: ItemStore) -> list[dict[str, Any]]:
    """What of ``spec``'s stream and TTL settings ``target`` cannot keep (empty: everything carries over)."""
    support = store_support(target)
    out: list[dict[str, Any]] = []
    if spec.stream is not None:
        out.append(
            {
                "setting": "stream",
                "value": spec.stream,
                "supported": support["streams"],
                "detail": f"table {spec.name} has a {spec.stream} stream; the {target.kind} store "
                + ("records changes with the same view type" if support["streams"] else "has no change streams"),
            }
        )
    if spec.ttl_attribute is not None:
        detail = f"table {spec.name} expires items on {spec.ttl_attribute!r}; the {target.kind} store "
        if not support["ttl"]:
            detail += "cannot hold the TTL setting"
        elif support["native_ttl_sweeper"]:
            detail += "sweeps expired items by itself"
        else:
            detail += "sweeps when expire() runs: open it with ttl_sweep_s=N (or run `storeswap expire` on a schedule)"
        out.append({"setting": "ttl", "value": spec.ttl_attribute, "supported": support["ttl"], "detail": detail})
    return out


def compare_settings(source: TableSpec, target: TableSpec) -> list[str]:
    """Human-readable differences of the stream view type and the TTL attribute (empty: the same)."""
    diffs = []
    if source.stream != target.stream:
        diffs.append(f"stream: source {source.stream or 'off'}, target {target.stream or 'off'}")
    if source.ttl_attribute != target.ttl_attribute:
        diffs.append(f"ttl: source {source.ttl_attribute or 'off'}, target {target.ttl_attribute or 'off'}")
    return diffs


def stream_requirement_ids() -> list[str]:
    """The ids of section S (time to live and change streams) of docs/semantics.md, in order."""
    return [r for r in REQUIREMENTS if r.startswith("S") and r[1:].isdigit()]
