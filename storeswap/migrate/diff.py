"""Field-level differences between two versions of an item (type-exact, sets unordered).

Used by ``verify`` for base-table items and by the index verify for index entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import define

from storeswap.core.errors import StoreError
from storeswap.core.values import type_tag
from storeswap.migrate.canonical import canonical_bytes
from storeswap.migrate.ddbjson import marshal_value

__all__ = ["FieldDifference", "diff_items"]


@define(frozen=True)
class FieldDifference:
    """One attribute path whose value differs: ``kind`` is changed, type, missing (on the target) or extra."""

    path: str
    kind: str
    source: Any = None
    target: Any = None

    def to_json(self) -> dict[str, Any]:
        """JSON form; values in DynamoDB JSON so their types show."""
        out: dict[str, Any] = {"path": self.path, "kind": self.kind}
        if self.kind != "extra":
            out["source"] = marshal_value(self.source)
        if self.kind != "missing":
            out["target"] = marshal_value(self.target)
        return out


def _tag(value: Any) -> str:
    try:
        return type_tag(value)
    except StoreError:
        return type(value).__name__


def _sub(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _diff_value(a: Any, b: Any, path: str, out: list[FieldDifference]) -> None:
    if canonical_bytes(a) == canonical_bytes(b):
        return
    ta, tb = _tag(a), _tag(b)
    if ta != tb:
        out.append(FieldDifference(path, "type", a, b))
    elif ta == "M":
        _diff_map(a, b, path, out)
    elif ta == "L":
        for i in range(min(len(a), len(b))):
            _diff_value(a[i], b[i], f"{path}[{i}]", out)
        for i in range(len(b), len(a)):
            out.append(FieldDifference(f"{path}[{i}]", "missing", a[i], None))
        for i in range(len(a), len(b)):
            out.append(FieldDifference(f"{path}[{i}]", "extra", None, b[i]))
    else:
        out.append(FieldDifference(path, "changed", a, b))


def _diff_map(a: Mapping[str, Any], b: Mapping[str, Any], path: str, out: list[FieldDifference]) -> None:
    for name in sorted(set(a) | set(b), key=lambda n: n.encode("utf-8", "surrogatepass")):
        if name not in b:
            out.append(FieldDifference(_sub(path, name), "missing", a[name], None))
        elif name not in a:
            out.append(FieldDifference(_sub(path, name), "extra", None, b[name]))
        else:
            _diff_value(a[name], b[name], _sub(path, name), out)


def diff_items(source: Mapping[str, Any], target: Mapping[str, Any]) -> list[FieldDifference]:
    """Field-level differences between two versions of an item (type-exact, sets unordered)."""
    out: list[FieldDifference] = []
    _diff_map(source, target, "", out)
    return out
