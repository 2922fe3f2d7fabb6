"""How the contract suite reaches an evaluated store (no pytest needed to decide it).

A built-in adapter is selected by name and URL (``--store NAME=URL``); any
other store — a subclass, a wrapper, a third-party adapter, whatever its
``kind`` says — only through its factory (``--store-factory
module:callable``), so the suite tests the adapter itself and never a
built-in one in its place.
"""

from __future__ import annotations

from attrs import define

from storeswap.core.port import ItemStore

__all__ = ["ContractStore", "builtin_name", "contract_store_for"]


@define(frozen=True)
class ContractStore:
    """How the contract suite reaches one evaluated store.

    ``builtin`` is a built-in store name (``memory``, ``postgres``,
    ``dynamodb``) with an optional ``url`` (else the default provisioning);
    ``factory`` a ``module:callable`` (or ``path.py:callable``) spec.
    """

    builtin: str | None = None
    factory: str | None = None
    url: str | None = None

    def __attrs_post_init__(self) -> None:
        if (self.builtin is None) == (self.factory is None):
            raise ValueError("a ContractStore names exactly one of builtin or factory")
        if self.url is not None and self.builtin is None:
            raise ValueError("a url goes with a built-in store name")

    def args(self) -> list[str]:
        """The pytest options selecting this store."""
        if self.factory is not None:
            return ["--store-factory", self.factory]
        assert self.builtin is not None
        return ["--store", self.builtin if self.url is None else f"{self.builtin}={self.url}"]

    @property
    def key(self) -> tuple[str | None, str | None, str | None]:
        """Identity: two roles with equal keys share one run of the suite."""
        return (self.builtin, self.factory, self.url)


def builtin_name(store: ItemStore) -> str | None:
    """The built-in store name when ``store`` is exactly a built-in adapter (not a subclass), else None."""
    cls = type(store)
    if store.kind == "memory":
        from storeswap.adapters.memory import MemoryStore

        return "memory" if cls is MemoryStore else None
    if store.kind == "postgres":
        from storeswap.adapters.postgres import PostgresStore

        return "postgres" if cls is PostgresStore else None
    if store.kind == "dynamodb":
        from storeswap.adapters.dynamodb import DynamoStore

        return "dynamodb" if cls is DynamoStore else None
    return None


def contract_store_for(store: ItemStore, url: str | None) -> ContractStore | None:
    """How the suite reaches ``store``, opened from ``url``; None when it cannot (give a factory then).

    Only an instance of a built-in adapter class is tested under its
    built-in name; a bare name (``postgres``) or no URL means the default
    provisioning, which the suite's built-in store of that name uses too.
    """
    name = builtin_name(store)
    if name is None:
        return None
    if name == "memory" or url is None or "://" not in url:
        return ContractStore(builtin=name)
    return ContractStore(builtin=name, url=url)
