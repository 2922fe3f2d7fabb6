"""``check_table``: what would not survive the move, before anything is copied.

The rules are data (:data:`RULES`): a stable id, a severity, the target
kinds it concerns (``None`` for every target) and a sentence saying why it
matters.  ``blocking`` findings make ``storeswap check`` exit 1 and stop
``storeswap migrate`` unless ``--force``; ``warning`` findings are printed.

Most blocking rules can only fire for sources that do not enforce
DynamoDB's rules themselves — a DynamoDB export written by another tool, or a
store with a bug — because every storeswap store validates on write.  Those
are exactly the sources where finding out during the copy is worst.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Literal

from attrs import define, field

from storeswap.core.errors import ItemTooLarge, StoreError, ValidationError
from storeswap.core.keys import check_item_keys
from storeswap.core.port import ItemStore
from storeswap.core.schema import TableSpec
from storeswap.core.values import (
    MAX_ITEM_SIZE,
    MAX_NESTING,
    MAX_PARTITION_KEY_SIZE,
    MAX_SORT_KEY_SIZE,
    BinarySet,
    Item,
    NumberSet,
    StringSet,
    item_size,
    normalize_item,
    value_size,
)
from storeswap.migrate.canonical import canonical_key, number_text
from storeswap.migrate.ddbjson import marshal_item
from storeswap.migrate.engine import MAX_LOCAL_THREADS
from storeswap.migrate.sources import ScanSource, as_source
from storeswap.migrate.stream_settings import settings_findings
from storeswap.migrate.transform import TransformCheck, TransformedSource, check_transform

__all__ = ["Rule", "RULES", "Finding", "CheckReport", "check_table", "TARGET_KINDS", "Preflight", "preflight"]

Severity = Literal["blocking", "warning"]
TARGET_KINDS = ("memory", "postgres", "dynamodb")
NEAR = 0.9
MAX_ATTRIBUTE_NAME = 65_535
KEY_ATTRIBUTE_NAME = 255
NEAR_NESTING = 30


@define(frozen=True)
class Rule:
    """One thing that may not survive a move."""

    id: str
    severity: Severity
    title: str
    why: str
    targets: tuple[str, ...] | None = None

    def applies_to(self, target_kind: str | None) -> bool:
        """True when the rule concerns moves to ``target_kind`` (every rule applies when it is unknown)."""
        return self.targets is None or target_kind is None or target_kind in self.targets


RULES: tuple[Rule, ...] = (
    Rule(
        "invalid-item",
        "blocking",
        "item breaks a DynamoDB value or key rule",
        "every store validates on write (V1-V10, V8, Q6), so the copy would fail on this item",
    ),
    Rule(
        "item-too-large",
        "blocking",
        "item larger than 400 KB",
        "the 409,600-byte limit (V6) rejects the item on every store",
    ),
    Rule(
        "nesting-too-deep",
        "blocking",
        "lists and maps nested deeper than 32 levels",
        "V7 rejects the item on every store",
    ),
    Rule(
        "key-collision",
        "blocking",
        "two items share a key once numbers are normalised",
        "N keys 1 and 1.0 are the same key (V2): the copy would keep only the last one",
    ),
    Rule(
        "attribute-name-too-long",
        "blocking",
        "attribute name longer than 64 KB",
        "DynamoDB rejects attribute names over 65,535 bytes",
    ),
    Rule(
        "lone-surrogate",
        "blocking",
        "string holds a lone UTF-16 surrogate",
        "it has no UTF-8 encoding, which DynamoDB's wire format requires",
        ("dynamodb",),
    ),
    Rule(
        "lone-surrogate-text",
        "warning",
        "string holds a lone UTF-16 surrogate",
        "PostgreSQL text is UTF-8; survives only if the adapter escapes it",
        ("postgres",),
    ),
    Rule(
        "number-normalised",
        "warning",
        "number not in DynamoDB's normal form",
        "it is stored normalised (1.50 becomes 1.5, V2); equal as a number, different as text",
    ),
    Rule(
        "item-near-size-limit", "warning", "item within 10% of 400 KB", "an update that grows it will be rejected (V6)"
    ),
    Rule(
        "nesting-near-limit",
        "warning",
        "nesting of 30 levels or more",
        "an update that nests deeper will be rejected (V7)",
    ),
    Rule(
        "partition-key-near-limit",
        "warning",
        "partition key value within 10% of 2048 bytes",
        "V8: a slightly longer key would be rejected",
    ),
    Rule(
        "sort-key-near-limit",
        "warning",
        "sort key value within 10% of 1024 bytes",
        "V8: a slightly longer key would be rejected",
    ),
    Rule(
        "attribute-name-long",
        "warning",
        "attribute name longer than 255 bytes",
        "DynamoDB allows it, but not as a key or index-projected attribute name",
    ),
    Rule(
        "nul-in-name",
        "warning",
        "attribute name holds U+0000",
        "legal (V5) but PostgreSQL text and jsonb reject NUL: relies on the adapter's escaping",
        ("postgres",),
    ),
    Rule(
        "nul-in-key",
        "warning",
        "key value holds U+0000",
        "legal (V5) but PostgreSQL text rejects NUL: relies on the adapter's key encoding",
        ("postgres",),
    ),
    Rule(
        "ttl-expired",
        "warning",
        "TTL attribute already in the past",
        "the target's TTL process may delete the item soon after the copy (S1, S2); verify would then differ",
    ),
)

_RULES = {r.id: r for r in RULES}
_EXAMPLES = 5


@define
class Finding:
    """How many items broke one rule, with a few examples (key and detail)."""

    rule: Rule
    count: int = 0
    examples: list[dict[str, Any]] = field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "id": self.rule.id,
            "severity": self.rule.severity,
            "title": self.rule.title,
            "why": self.rule.why,
            "count": self.count,
            "examples": self.examples,
        }


@define
class CheckReport:
    """The outcome of :func:`check_table`."""

    table: str
    source_kind: str
    target_kind: str | None
    items: int = 0
    findings: list[Finding] = field(factory=list)
    seconds: float = 0.0
    #: The table's stream and TTL settings, each with whether the target keeps it (``supported``: True,
    #: False, or None when no target was named so it was not checked).
    settings: list[dict[str, Any]] = field(factory=list)

    @property
    def blocking(self) -> list[Finding]:
        """Findings that stop a migration."""
        return [f for f in self.findings if f.rule.severity == "blocking"]

    @property
    def settings_lost(self) -> list[dict[str, Any]]:
        """Stream / TTL settings the target cannot keep: consumers or expiry would silently stop."""
        return [s for s in self.settings if s["supported"] is False]

    @property
    def ok(self) -> bool:
        """True when nothing blocks the move (no blocking item finding, no setting the target loses)."""
        return not self.blocking and not self.settings_lost

    def to_json(self) -> dict[str, Any]:
        """A machine-readable report."""
        return {
            "ok": self.ok,
            "table": self.table,
            "source_kind": self.source_kind,
            "target_kind": self.target_kind,
            "items": self.items,
            "findings": [f.to_json() for f in self.findings],
            "settings": self.settings,
            "seconds": round(self.seconds, 3),
        }


class _Walk:
    """Facts about one raw item gathered in a single recursive walk."""

    __slots__ = ("depth", "long_names", "nul_names", "odd_numbers", "surrogates", "too_long_names")

    def __init__(self) -> None:
        self.depth = 0
        self.nul_names: list[str] = []
        self.long_names: list[str] = []
        self.too_long_names: list[str] = []
        self.surrogates: list[str] = []
        self.odd_numbers: list[str] = []

    def name(self, name: str, path: str) -> None:
        if "\0" in name:
            self.nul_names.append(path)
        size = len(name.encode("utf-8", "surrogatepass"))
        if size > MAX_ATTRIBUTE_NAME:
            self.too_long_names.append(path[:60])
        elif size > KEY_ATTRIBUTE_NAME:
            self.long_names.append(path[:60])
        self.text(name, path)

    def text(self, s: str, path: str) -> None:
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            self.surrogates.append(path)

    def value(self, v: Any, path: str, depth: int) -> None:
        if isinstance(v, str):
            self.text(v, path)
        elif isinstance(v, bool) or v is None:
            return
        elif isinstance(v, (Decimal, int)):
            if str(v) != number_text(v):
                self.odd_numbers.append(f"{path}={v}")
        elif isinstance(v, Mapping):
            self.depth = max(self.depth, depth + 1)
            for k, x in v.items():
                p = f"{path}.{k}"
                self.name(str(k), p)
                self.value(x, p, depth + 1)
        elif isinstance(v, (list, tuple)):
            self.depth = max(self.depth, depth + 1)
            for i, x in enumerate(v):
                self.value(x, f"{path}[{i}]", depth + 1)
        elif isinstance(v, (StringSet, NumberSet, BinarySet, set, frozenset)):
            for x in v:
                self.value(x, f"{path}<set>", depth)


class _Collector:
    def __init__(self, report: CheckReport, target_kind: str | None) -> None:
        self.report = report
        self.target_kind = target_kind
        self.lock = threading.Lock()
        self.by_id: dict[str, Finding] = {}

    def add(self, rule_id: str, key: Mapping[str, Any], detail: str) -> None:
        rule = _RULES[rule_id]
        if not rule.applies_to(self.target_kind):
            return
        with self.lock:
            f = self.by_id.get(rule_id)
            if f is None:
                f = self.by_id[rule_id] = Finding(rule)
            f.count += 1
            if len(f.examples) < _EXAMPLES:
                try:
                    shown: Any = marshal_item(key)
                except StoreError:
                    shown = repr(key)[:200]
                f.examples.append({"key": shown, "detail": detail[:300]})

    def findings(self) -> list[Finding]:
        order = {r.id: i for i, r in enumerate(RULES)}
        return sorted(self.by_id.values(), key=lambda f: (f.rule.severity != "blocking", order[f.rule.id]))


def _key_of(spec: TableSpec, item: Mapping[str, Any]) -> dict[str, Any]:
    return {n: item[n] for n in spec.key_names if n in item}


def _key_is_canonical(spec: TableSpec, item: Mapping[str, Any]) -> bool:
    for n in spec.key_names:
        v = item.get(n)
        if isinstance(v, (Decimal, int)) and not isinstance(v, bool) and str(v) != number_text(v):
            return False
    return True


def _check_item(spec: TableSpec, item: Item, out: _Collector, now: float) -> None:
    key = _key_of(spec, item)
    normalized: Item | None = None
    try:
        normalized = normalize_item(item)
        check_item_keys(spec, normalized)
    except ItemTooLarge as e:
        out.add("item-too-large", key, str(e))
    except ValidationError as e:
        rule = "nesting-too-deep" if "nesting" in str(e) else "invalid-item"
        out.add(rule, key, str(e))
    walk = _Walk()
    for name, value in item.items():
        walk.name(name, name)
        walk.value(value, name, 0)
    for path in walk.too_long_names:
        out.add("attribute-name-too-long", key, path)
    for path in walk.long_names:
        out.add("attribute-name-long", key, path)
    for path in walk.nul_names:
        out.add("nul-in-name", key, repr(path))
    if walk.surrogates:
        out.add("lone-surrogate", key, ", ".join(walk.surrogates[:5]))
        out.add("lone-surrogate-text", key, ", ".join(walk.surrogates[:5]))
    if walk.odd_numbers:
        out.add("number-normalised", key, ", ".join(walk.odd_numbers[:5]))
    # Deeper than MAX_NESTING is already reported by normalize_item above.
    if NEAR_NESTING <= walk.depth <= MAX_NESTING:
        out.add("nesting-near-limit", key, f"{walk.depth} levels")
    base = normalized if normalized is not None else item
    try:
        size = item_size(base)
    except StoreError:
        size = 0
    if MAX_ITEM_SIZE * NEAR <= size <= MAX_ITEM_SIZE:
        out.add("item-near-size-limit", key, f"{size} bytes")
    for attr, limit, rule in (
        (spec.partition_key, MAX_PARTITION_KEY_SIZE, "partition-key-near-limit"),
        (spec.sort_key, MAX_SORT_KEY_SIZE, "sort-key-near-limit"),
    ):
        if attr is None or attr.name not in base:
            continue
        v = base[attr.name]
        try:
            vs = value_size(v)
        except StoreError:
            continue
        if limit * NEAR <= vs <= limit:
            out.add(rule, key, f"{attr.name}: {vs} bytes")
        if isinstance(v, str) and "\0" in v:
            out.add("nul-in-key", key, attr.name)
    if spec.ttl_attribute is not None:
        ttl = base.get(spec.ttl_attribute)
        if isinstance(ttl, Decimal) and now - 5 * 365 * 86400 <= ttl <= now:
            out.add("ttl-expired", key, f"{spec.ttl_attribute}={ttl}")


def check_table(
    source: ItemStore | ScanSource,
    table: str,
    target_kind: str | None = None,
    *,
    segments: int = 4,
    batch: int = 1000,
    target: ItemStore | None = None,
) -> CheckReport:
    """Scan ``table`` once (twice when number keys need normalising) and report what would not survive the move.

    ``target_kind`` (memory, postgres, dynamodb) limits target-specific rules
    to that target; ``None`` applies them all. The table's stream and TTL
    settings are checked against ``target`` (a store) when given, else
    against the built-in adapter of ``target_kind``; with neither they are
    listed as not checked.
    """
    if target_kind is not None and target_kind not in TARGET_KINDS:
        raise ValidationError(f"unknown target kind {target_kind!r}; use one of {', '.join(TARGET_KINDS)}")
    src = as_source(source)
    spec = src.describe(table)
    started = time.perf_counter()
    report = CheckReport(table, src.kind, target_kind, settings=_settings(spec, target, target_kind))
    out = _Collector(report, target_kind)
    now = time.time()
    lock = threading.Lock()
    # Keys holding a number that normalisation changes: usually none, so holding them is cheap.
    odd_keys: dict[bytes, list[dict[str, Any]]] = {}
    counted = [0]

    def run(seg: int, second_pass: bool) -> None:
        n = 0
        for page in src.pages(table, seg, segments, None, batch):
            for item in page.items:
                n += 1
                canonical = _key_is_canonical(spec, item)
                if second_pass:
                    k = canonical_key(spec, item)
                    if canonical and k in odd_keys:
                        with lock:
                            odd_keys[k].append(_key_of(spec, item))
                    continue
                _check_item(spec, item, out, now)
                if not canonical:
                    k = canonical_key(spec, item)
                    with lock:
                        odd_keys.setdefault(k, []).append(_key_of(spec, item))
        if not second_pass:
            with lock:
                counted[0] += n

    def run_all(second_pass: bool) -> None:
        with ThreadPoolExecutor(max_workers=min(segments, MAX_LOCAL_THREADS), thread_name_prefix="storeswap-check") as pool:
            for f in [pool.submit(run, s, second_pass) for s in range(segments)]:
                f.result()

    run_all(False)
    if odd_keys:
        run_all(True)
        for keys in odd_keys.values():
            if len(keys) > 1:
                shown = "; ".join(str(marshal_item(k)) for k in keys[:4])
                out.add("key-collision", keys[0], f"{len(keys)} items: {shown}")
    report.items = counted[0]
    report.findings = out.findings()
    report.seconds = time.perf_counter() - started
    return report


def _settings(spec: TableSpec, target: ItemStore | None, target_kind: str | None) -> list[dict[str, Any]]:
    if target is not None:
        return settings_findings(spec, target)
    out: list[dict[str, Any]] = []
    for setting, value in (("stream", spec.stream), ("ttl", spec.ttl_attribute)):
        if value is None:
            continue
        # Every built-in adapter implements S1-S11 (the contract suite proves it per store).
        supported = True if target_kind in TARGET_KINDS else None
        where = (
            f"the built-in {target_kind} store keeps it (S requirements)"
            if supported
            else "not checked: name a target store to check whether it keeps it"
        )
        out.append({"setting": setting, "value": value, "supported": supported, "detail": f"table {spec.name}: {where}"})
    return out


@define
class Preflight:
    """What ``migrate`` and ``check`` run before a copy: the transform's check (when given), then the rules.

    ``rules`` is None when the transform check failed: the rules would run
    over items the copy refuses to write.
    """

    transform: TransformCheck | None
    rules: CheckReport | None

    @property
    def ok(self) -> bool:
        """True when every part ran and found nothing blocking."""
        if self.transform is not None and not self.transform.ok:
            return False
        return self.rules is not None and self.rules.ok

    def to_json(self) -> dict[str, Any]:
        """The rules' report, with the transform check under ``transform`` when one ran."""
        out: dict[str, Any] = self.rules.to_json() if self.rules is not None else {"ok": False}
        if self.transform is not None:
            out["transform"] = self.transform.to_json()
        return out


def preflight(
    source: ItemStore | ScanSource,
    table: str,
    target_kind: str | None = None,
    *,
    segments: int = 4,
    transform: TransformedSource | None = None,
    target: ItemStore | None = None,
) -> Preflight:
    """Check ``table`` before moving it: with ``transform`` (wrapping ``source``), first collisions, rejections and
    key-size overflows over the whole source (:func:`check_transform`), then the rules over the transformed items."""
    if transform is None:
        return Preflight(None, check_table(source, table, target_kind, segments=segments, target=target))
    report = check_transform(transform.source, table, transform.fn, target_spec=transform.describe(table))
    if not report.ok:
        return Preflight(report, None)
    return Preflight(report, check_table(transform, table, target_kind, segments=segments, target=target))
