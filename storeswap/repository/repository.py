"""The repository: typed get / put / delete / query / increment / transactions over one table of any store.

One :class:`Repository` serves one table and every entity type stored in it
(single-table design): each type is declared by a :class:`Model`, and the
``_type`` attribute tells the types apart.  It only calls the public port
(:class:`storeswap.ItemStore`), so it behaves the same on every store.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any, Generic, TypeVar

import attrs

from storeswap.core.errors import ConditionFailed, ValidationError
from storeswap.core.expressions.builders import Attr, Key
from storeswap.core.port import ItemStore, TxAction, TxDelete, TxPut, TxUpdate
from storeswap.repository.conversion import ItemConverter
from storeswap.repository.errors import EntityExists, EntityNotFound, ModelError, StaleEntity
from storeswap.repository.model import TYPE_ATTRIBUTE, BoundModel, Model
from storeswap.repository.templates import SHARD_FIELD

__all__ = ["Repository", "Page", "Cursor", "Transaction"]

T = TypeVar("T")


@attrs.define(frozen=True)
class Cursor(Generic[T]):
    """Where a typed query stops: bound to its entity type and index, so it cannot resume another query.

    ``token`` is an opaque URL-safe string (hand it to a client, read it back
    with :meth:`from_token`); the port cursor inside stays store-neutral (P4).
    """

    entity: str
    index: str | None
    shard: int | None
    position: str | None

    @property
    def token(self) -> str:
        """The cursor as an opaque string."""
        raw = json.dumps([self.entity, self.index, self.shard, self.position], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Cursor[Any]:
        """Rebuild a cursor from :attr:`token` (:class:`ValidationError` when it is not one)."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            entity, index, shard, position = json.loads(raw)
        except (ValueError, TypeError, binascii.Error, RecursionError):
            raise ValidationError("not a repository cursor") from None
        if not isinstance(entity, str) or not (index is None or isinstance(index, str)) \
                or not (shard is None or (type(shard) is int and shard >= 0)) \
                or not (position is None or isinstance(position, str)):
            raise ValidationError("not a repository cursor")
        return cls(entity, index, shard, position)


@attrs.define(frozen=True)
class Page(Generic[T]):
    """One page of typed entities; ``cursor`` is None after the last page."""

    items: list[T]
    cursor: Cursor[T] | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Repository:
    """Typed access to the entities of one table.

    ``Repository(store, "app", [Model(Counter, pk="TENANT#{tenant_id}", sk="COUNTER#{id}", version="version")])``.
    The table must exist (its spec names the key attributes the templates fill).
    """

    def __init__(self, store: ItemStore, table: str, models: Iterable[Model[Any]]) -> None:
        self.store = store
        self.table = table
        self.spec = store.spec(table)
        self.converter = ItemConverter()
        self._models: dict[type, BoundModel[Any]] = {}
        names: set[str] = set()
        if isinstance(models, (str, bytes, Model)) or not isinstance(models, Iterable):
            raise ModelError(f"Repository takes an iterable of Model declarations, not {type(models).__name__}")
        for m in models:
            if not isinstance(m, Model):
                raise ModelError(f"Repository takes Model declarations, not {type(m).__name__}")
            if m.cls in self._models or m.name in names:
                raise ModelError(f"{m.name} is declared twice")
            names.add(m.name)
            self._models[m.cls] = BoundModel(m, self.spec, self.converter)

    def __repr__(self) -> str:
        return f"Repository({self.store!r}, {self.table!r}, [{', '.join(m.name for m in self._models.values())}])"

    def model(self, cls: type[T]) -> BoundModel[T]:
        """The bound model of ``cls`` (:class:`ModelError` when it was not declared)."""
        try:
            return self._models[cls]
        except (KeyError, TypeError):  # TypeError: an unhashable argument, no class at all
            raise ModelError(f"{getattr(cls, '__name__', cls)!r} is not an entity of this repository") from None

    def _of(self, entity: Any) -> BoundModel[Any]:
        return self.model(type(entity))

    # ------------------------------------------------------------------- reads

    def get(self, cls: type[T], /, *, consistent: bool = False, **key: Any) -> T | None:
        """The entity with these key fields, or None."""
        m = self.model(cls)
        item = self.store.get(self.table, m.key(m.field_values(key, m.table_keys)), consistent=consistent)
        return None if item is None else m.from_item(item)

    def query(
        self,
        cls: type[T],
        /,
        *,
        index: str | None = None,
        limit: int | None = None,
        cursor: Cursor[T] | None = None,
        forward: bool = True,
        consistent: bool = False,
        **fields: Any,
    ) -> Page[T]:
        """One page of ``cls`` entities of one partition, by template prefix.

        ``fields`` must fill the partition-key template; sort-key fields given
        in template order narrow the ``begins_with`` prefix.  A sharded model
        queried without ``_shard`` reads shard 0, then 1, ... (each shard in
        sort-key order; the cursor carries the shard).
        """
        m = self.model(cls)
        if index is not None and not isinstance(index, str):
            raise ValidationError(f"index is the name of an index, not {type(index).__name__}")
        keys = m.table_keys if index is None else m.index_keys.get(index)
        if keys is None:
            raise ModelError(f"{m.name} declares no template for index {index!r}")
        values = m.field_values(fields, keys)
        fan_out = index is None and m.model.shards is not None and values.get(SHARD_FIELD) is None
        if cursor is not None:
            if not isinstance(cursor, Cursor) or cursor.entity != m.name or cursor.index != index:
                raise ValidationError(f"this cursor does not belong to a query of {m.name} on index {index!r}")
            if fan_out != (cursor.shard is not None):
                raise ValidationError("this cursor belongs to a query over another set of shards")
            shards = m.model.shards or 0  # set whenever the query fans out
            if fan_out and not (type(cursor.shard) is int and 0 <= cursor.shard < shards):
                raise ValidationError(f"this cursor names shard {cursor.shard!r}; {m.name} has shards 0 to {shards - 1}")
        shard = (cursor.shard if cursor is not None else 0) if fan_out else None
        position = None if cursor is None else cursor.position
        while True:
            if shard is not None:
                values = {**values, SHARD_FIELD: shard}
            missing = [f for f in keys.pk.fields if values.get(f) is None]
            if missing:
                raise ModelError(f"a query of {m.name} needs {', '.join(missing)} (the partition key)")
            condition: Any = Key(keys.pk_attr).eq(keys.pk.render(values))
            if keys.sk is not None and keys.sk_attr is not None:
                if keys.sk.raw:
                    if keys.sk.complete(values):
                        condition = condition & Key(keys.sk_attr).eq(keys.sk.render(values))
                else:
                    prefix = keys.sk.prefix(values)
                    if prefix:
                        condition = condition & Key(keys.sk_attr).begins_with(prefix)
            page = self.store.query(
                self.table, condition, index=index, filter=Attr(TYPE_ATTRIBUTE).eq(m.name), limit=limit,
                forward=forward, cursor=position, consistent=consistent,
            )
            items = [m.from_item(i) for i in page.items]
            assert m.model.shards is not None or shard is None
            if page.cursor is not None:
                return Page(items, Cursor(m.name, index, shard, page.cursor))
            if shard is None or shard + 1 >= (m.model.shards or 0):
                return Page(items, None)
            if items:
                return Page(items, Cursor(m.name, index, shard + 1, None))
            shard, position = shard + 1, None

    def query_all(self, cls: type[T], /, **kwargs: Any) -> Iterator[T]:
        """Every entity :meth:`query` would return, following cursors."""
        cursor = kwargs.pop("cursor", None)
        kwargs.setdefault("limit", 1000)
        while True:
            page = self.query(cls, cursor=cursor, **kwargs)
            yield from page.items
            if page.cursor is None:
                return
            cursor = page.cursor

    # ------------------------------------------------------------------ writes

    def put(self, entity: T, *, create_only: bool = False) -> T:
        """Store ``entity``; returns it as stored (with its version advanced).

        ``create_only``: :class:`EntityExists` when the key is taken.  A
        versioned entity is written only when the stored version is the
        entity's own (0: not stored yet), else :class:`StaleEntity`.
        """
        m = self._of(entity)
        action, stored = self._put_action(m, entity, create_only)
        try:
            self.store.put(self.table, action.item, condition=action.condition, names=action.names,
                           values=action.values)
        except ConditionFailed:
            if create_only:
                raise EntityExists(f"a {m.name} with this key exists", entity=entity) from None
            raise StaleEntity(f"{m.name} version {getattr(entity, m.model.version or '')} is stale",
                              entity=entity) from None
        return stored  # type: ignore[no-any-return]

    def _put_action(self, m: BoundModel[Any], entity: Any, create_only: bool) -> tuple[TxPut, Any]:
        if type(create_only) is not bool:  # here, so that Repository.put and Transaction.put both refuse it
            raise ValidationError(f"create_only is True or False, not {create_only!r}")
        pk = m.table_keys.pk_attr
        v = m.model.version
        stored = entity
        if v is not None:
            current = getattr(entity, v)
            if type(current) is not int:
                raise ValidationError(f"{m.name}.{v} is the version, an int; found {current!r}")
            stored = attrs.evolve(entity, **{v: current + 1})
        item = m.to_item(stored)
        if v is not None and not create_only and getattr(entity, v) > 0:
            return (TxPut(self.table, item, "#v = :v", {"#v": v}, {":v": getattr(entity, v)}), stored)
        if create_only or v is not None:
            return TxPut(self.table, item, "attribute_not_exists(#pk)", {"#pk": pk}), stored
        return TxPut(self.table, item), stored

    def delete(self, target: Any, /, **key: Any) -> bool:
        """Delete an entity (``delete(entity)``) or a key (``delete(Counter, id=...)``); True when one was there.

        Deleting a versioned entity checks its version (:class:`StaleEntity`).
        """
        action = self._delete_action(target, key)
        try:
            old = self.store.delete(self.table, action.key, condition=action.condition, names=action.names,
                                    values=action.values, return_values="ALL_OLD")
        except ConditionFailed:
            raise StaleEntity("the entity was changed or deleted since it was read", entity=target) from None
        return old is not None

    def _delete_action(self, target: Any, key: Mapping[str, Any]) -> TxDelete:
        m: BoundModel[Any]
        if isinstance(target, type):
            m = self.model(target)
            return TxDelete(self.table, m.key(m.field_values(key, m.table_keys)))
        if key:
            raise ValidationError("delete(entity) takes no key fields")
        m = self._of(target)
        v = m.model.version
        if v is None:
            return TxDelete(self.table, m.key_of(target))
        return TxDelete(self.table, m.key_of(target), "#v = :v", {"#v": v}, {":v": getattr(target, v)})

    def increment(self, entity: T, field: str, by: int | Decimal = 1) -> T:
        """Atomically add ``by`` to a number field; returns the entity as stored afterwards.

        Concurrent increments never lose one another (``ADD`` in the store);
        the version advances too, so a save of an older copy is stale.
        :class:`EntityNotFound` when nothing is stored under the key.
        """
        m = self._of(entity)
        action = self._increment_action(m, m.key_of(entity), field, by)
        try:
            new = self.store.update(self.table, action.key, action.update, condition=action.condition,
                                    names=action.names, values=action.values, return_values="ALL_NEW")
        except ConditionFailed:
            raise EntityNotFound(f"no {m.name} is stored under {action.key}") from None
        assert new is not None
        return m.from_item(new)  # type: ignore[no-any-return]

    def _increment_action(self, m: BoundModel[Any], key: dict[str, Any], field: str, by: int | Decimal) -> TxUpdate:
        if not isinstance(field, str):
            raise ValidationError(f"increment names a field, not {type(field).__name__}")
        hint = m.hints.get(field)
        if field not in m.fields or hint not in (int, Decimal):
            raise ModelError(f"{m.name}.{field} is not an int or Decimal field")
        if field in m.key_fields or field == m.model.version:
            raise ModelError(f"{m.name}.{field} is part of a key template or the version; it cannot be incremented")
        if isinstance(by, bool) or not isinstance(by, (int, Decimal)) or (isinstance(by, Decimal) and not by.is_finite()) \
                or (hint is int and isinstance(by, Decimal) and by != by.to_integral_value()):
            raise ValidationError(f"increment by an {hint.__name__}, not {by!r}")
        names = {"#f": field, "#pk": m.table_keys.pk_attr}
        values: dict[str, Any] = {":by": by}
        update = "ADD #f :by"
        if m.model.version is not None:
            names["#v"] = m.model.version
            values[":one"] = 1
            update += ", #v :one"
        return TxUpdate(self.table, key, update, "attribute_exists(#pk)", names, values)

    def transaction(self) -> Transaction:
        """A unit of work: ``with repo.transaction() as tx: tx.put(a); tx.delete(b)``, applied all-or-nothing."""
        return Transaction(self)


class Transaction:
    """Writes collected inside ``with repository.transaction() as tx:`` and applied as one ``transact_write``.

    Leaving the block normally commits; an exception inside it discards the
    writes.  A failed condition cancels everything with the port's
    :class:`storeswap.TransactionCanceled` (one reason per action, in the order
    they were added).  After the commit, :attr:`results` holds each put's
    stored entity (with its advanced version) and None for deletes and increments.
    """

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.actions: list[TxAction] = []
        self._results: list[Any] = []
        self.committed = False

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()

    def put(self, entity: T, *, create_only: bool = False) -> T:
        """Add a put (same rules as :meth:`Repository.put`); returns the entity as it will be stored."""
        action, stored = self.repo._put_action(self.repo._of(entity), entity, create_only)
        self._add(action, stored)
        return stored  # type: ignore[no-any-return]

    def delete(self, target: Any, /, **key: Any) -> None:
        """Add a delete (same rules as :meth:`Repository.delete`)."""
        self._add(self.repo._delete_action(target, key), None)

    def increment(self, entity: Any, field: str, by: int | Decimal = 1) -> None:
        """Add an atomic increment (same rules as :meth:`Repository.increment`)."""
        m = self.repo._of(entity)
        self._add(self.repo._increment_action(m, m.key_of(entity), field, by), None)

    def _add(self, action: TxAction, result: Any) -> None:
        if self.committed:
            raise ValidationError("this transaction was committed already")
        self.actions.append(action)
        self._results.append(result)

    @property
    def results(self) -> list[Any]:
        """Per action, the stored entity (puts) or None; only after the commit."""
        if not self.committed:
            raise ValidationError("the transaction has not been committed")
        return list(self._results)

    def commit(self) -> None:
        """Apply every collected write at once (nothing happens for an empty transaction)."""
        if self.committed:
            raise ValidationError("this transaction was committed already")
        if self.actions:
            self.repo.store.transact_write(self.actions)
        self.committed = True
