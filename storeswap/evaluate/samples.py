"""The built-in data sets ``storeswap evaluate`` runs on when no table is named.

Two tables:

- :data:`TENANTS_SPEC` — a multi-tenant service in one table (single-table
  design): per tenant a profile, users, orders, counters and sessions under
  ``pk = TENANT#<id>``; a global index ``gsi1`` (orders by user, users by
  e-mail); a TTL attribute ``expires_at`` on sessions (a few already expired,
  so the readiness check has something to warn about).  A few thousand
  items, generated from a fixed seed: the same items on every run.
- :data:`storeswap.migrate.sample.SAMPLE_SPEC` — every value type and edge
  (awkward sort keys, NUL, 400 KB items, 32 nesting levels), renamed
  :data:`EDGES_TABLE`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from decimal import Decimal

import attrs

from storeswap.core.errors import TableNotFound
from storeswap.core.port import ItemStore
from storeswap.core.schema import GlobalIndex, KeyAttribute, Projection, TableSpec
from storeswap.core.values import Item, StringSet
from storeswap.migrate.sample import SAMPLE_SPEC, sample_items

__all__ = [
    "TENANTS_TABLE",
    "EDGES_TABLE",
    "TENANTS_SPEC",
    "EDGES_SPEC",
    "TENANT_COUNT",
    "tenant_items",
    "SAMPLE_TABLES",
    "load_samples",
]

TENANTS_TABLE = "storeswap_eval_tenants"
EDGES_TABLE = "storeswap_eval_edges"
TENANT_COUNT = 24
#: Sessions expire at this fixed time (2100-01-01), so a run today never sees them expire...
FUTURE_EPOCH = 4_102_444_800
#: ...except these, which expired in November 2023 (the check's ``ttl-expired`` warning).
PAST_EPOCH = 1_700_000_000

TENANTS_SPEC = TableSpec(
    name=TENANTS_TABLE,
    partition_key=KeyAttribute("pk", "S"),
    sort_key=KeyAttribute("sk", "S"),
    global_indexes=(GlobalIndex("gsi1", KeyAttribute("gsi1pk", "S"), KeyAttribute("gsi1sk", "S"), Projection("ALL")),),
    ttl_attribute="expires_at",
)

EDGES_SPEC = attrs.evolve(SAMPLE_SPEC, name=EDGES_TABLE)

_PLANS = ("free", "team", "business", "enterprise")
_STATUSES = ("pending", "paid", "shipped", "delivered", "refunded")
_PRODUCTS = ("widget", "gadget", "gizmo", "doohickey", "sprocket", "thingamajig")
_ROLES = ("owner", "admin", "member", "viewer")


def _money(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(100, 250_000)).scaleb(-2)


def tenant_items(tenants: int = TENANT_COUNT, seed: int = 7) -> Iterator[Item]:
    """The multi-tenant table's items: deterministic for a given ``tenants`` and ``seed``.

    Tenant ``t`` has a profile, ``8 + t`` users, ``40 + 6 * t`` orders (tenant
    sizes are skewed, as a real service's are), three counters and ten
    sessions: 24 tenants make 3,420 items.
    """
    rng = random.Random(seed)
    for t in range(tenants):
        pk = f"TENANT#{t:04d}"
        users = 8 + t
        orders = 40 + 6 * t
        yield {
            "pk": pk,
            "sk": "#PROFILE",
            "type": "tenant",
            "name": f"Tenant {t} Ltd.",
            "plan": _PLANS[t % len(_PLANS)],
            "created": Decimal(1_600_000_000 + t * 86_400),
            "settings": {
                "locale": ("en-GB", "de-CH", "fr-FR", "ja-JP")[t % 4],
                "sso": t % 3 == 0,
                "limits": {"users": Decimal(users * 2), "storage_gb": Decimal("2.5") * (t + 1)},
                "webhook": None,
            },
            "tags": StringSet({"beta", f"region-{t % 3}"} if t % 2 else {f"region-{t % 3}"}),
        }
        for u in range(users):
            email = f"user{u}@tenant{t}.example"
            yield {
                "pk": pk,
                "sk": f"USER#{u:05d}",
                "type": "user",
                "email": email,
                "display": f"Üser {u} — {t}",
                "role": _ROLES[u % len(_ROLES)],
                "avatar": rng.randbytes(48),
                "last_login": Decimal(1_700_000_000 + rng.randint(0, 10_000_000)),
                "gsi1pk": f"EMAIL#{email}",
                "gsi1sk": pk,
            }
        for o in range(orders):
            user = rng.randrange(users)
            day = 1 + (o * 7) % 28
            month = 1 + (o // 4) % 12
            lines: list[dict[str, Decimal | str]] = [
                {"product": rng.choice(_PRODUCTS), "qty": Decimal(rng.randint(1, 5)), "price": _money(rng)}
                for _ in range(rng.randint(1, 4))
            ]
            total = sum((Decimal(line["qty"]) * Decimal(line["price"]) for line in lines), Decimal(0))
            order: Item = {
                "pk": pk,
                "sk": f"ORDER#2024-{month:02d}-{day:02d}#{o:06d}",
                "type": "order",
                "user": f"USER#{user:05d}",
                "status": _STATUSES[rng.randrange(len(_STATUSES))],
                "total": total,
                "currency": "EUR" if t % 2 else "USD",
                "lines": lines,
                "gsi1pk": f"{pk}#USER#{user:05d}",
                "gsi1sk": f"ORDER#2024-{month:02d}-{day:02d}#{o:06d}",
            }
            if o % 9 == 0:
                order["note"] = ""  # an empty string is legal outside keys (V4)
            if o % 11 == 0:
                order["coupons"] = StringSet({f"SAVE{rng.randint(5, 30)}", "WELCOME"})
            yield order
        for name, value in (("orders", orders), ("users", users), ("api_calls", rng.randint(10_000, 99_999))):
            yield {"pk": pk, "sk": f"COUNTER#{name}", "type": "counter", "n": Decimal(value), "version": Decimal(1)}
        for s in range(10):
            expires = PAST_EPOCH + s * 60 if s == 0 and t % 6 == 0 else FUTURE_EPOCH + t * 1000 + s
            yield {
                "pk": pk,
                "sk": f"SESSION#{rng.getrandbits(64):016x}",
                "type": "session",
                "user": f"USER#{rng.randrange(users):05d}",
                "expires_at": Decimal(expires),
                "ip": f"10.{t}.{s}.{rng.randint(1, 254)}",
            }


#: The built-in tables and their items, in the order the report lists them.
SAMPLE_TABLES: tuple[tuple[TableSpec, str], ...] = (
    (TENANTS_SPEC, "multi-tenant single-table design: tenants, users, orders, counters, sessions; GSI; TTL"),
    (EDGES_SPEC, "every value type and edge: awkward sort keys, NUL, empty values, sets, 400 KB items, 32 levels"),
)


def _items_for(spec: TableSpec) -> Iterator[Item]:
    return tenant_items() if spec.name == TENANTS_TABLE else sample_items()


def load_samples(store: ItemStore, *, replace: bool = True) -> list[str]:
    """Create the built-in tables on ``store`` and load their items; returns the table names.

    With ``replace`` an existing table of the same name is deleted first (the
    built-in tables belong to storeswap; nothing else uses these names).
    """
    names: list[str] = []
    for spec, _description in SAMPLE_TABLES:
        if replace:
            with contextlib.suppress(TableNotFound):
                store.delete_table(spec.name)
        store.create_table(spec)
        store.bulk_load(spec.name, _items_for(spec))
        names.append(spec.name)
    return names
