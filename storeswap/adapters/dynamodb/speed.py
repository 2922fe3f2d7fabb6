"""How fast the marshaller is next to boto3's TypeSerializer / TypeDeserializer.

``python -m storeswap.adapters.dynamodb.speed`` prints microseconds per item
for a ~1 KB benchmark-shaped item, both directions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from storeswap.adapters.dynamodb.marshal import deserialize_item, serialize_item
from storeswap.core.values import NumberSet, StringSet

__all__ = ["sample_item", "compare_marshallers"]


def sample_item() -> dict[str, Any]:
    """A ~1 KB item shaped like the benchmark rows: key, counters, ten text fields, a map, a list, a set."""
    item: dict[str, Any] = {"pk": "user#000042", "sk": "order#0000017", "version": Decimal(3), "n": Decimal(17)}
    for i in range(10):
        item[f"field{i}"] = "x" * 80
    item["price"] = Decimal("19.99")
    item["flags"] = {"active": True, "tier": "gold", "score": Decimal("0.75"), "note": None}
    item["tags"] = StringSet({"a", "b", "c"})
    item["nums"] = NumberSet({Decimal(1), Decimal(2)})
    item["history"] = [Decimal(1), "two", {"three": Decimal(3)}]
    item["blob"] = b"\x00\x01\x02" * 4
    return item


def _best(fn: Callable[[], Any], rounds: int, inner: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best * 1e6


def compare_marshallers(rounds: int = 200, inner: int = 50) -> dict[str, float]:
    """Best-of-``rounds`` microseconds per item for ours and boto3's, serialise and deserialise."""
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    item = sample_item()
    ser, de = TypeSerializer(), TypeDeserializer()
    wire: Any = serialize_item(item)
    result = {
        "serialize_ours_us": _best(lambda: serialize_item(item), rounds, inner),
        "serialize_boto3_us": _best(lambda: {k: ser.serialize(v) for k, v in item.items()}, rounds, inner),
        "deserialize_ours_us": _best(lambda: deserialize_item(wire), rounds, inner),
        "deserialize_boto3_us": _best(lambda: {k: de.deserialize(v) for k, v in wire.items()}, rounds, inner),
    }
    result["serialize_speedup"] = result["serialize_boto3_us"] / result["serialize_ours_us"]
    result["deserialize_speedup"] = result["deserialize_boto3_us"] / result["deserialize_ours_us"]
    return result


if __name__ == "__main__":
    for name, value in compare_marshallers().items():
        print(f"{name:24} {value:8.2f}")
