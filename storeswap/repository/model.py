"""Entity models: how one attrs class maps onto the items of a single-table design.

:class:`Model` is the declaration (independent of any table);
:class:`BoundModel` is a model checked against one table's spec, and does the
item <-> entity mapping the repository needs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, Generic, TypeVar

import attrs
import cattrs.errors

from storeswap.core.errors import ValidationError
from storeswap.core.schema import TableSpec
from storeswap.repository.conversion import ItemConverter, declared_type, epoch_seconds, is_epoch_field
from storeswap.repository.errors import EntityDecodeError, ModelError
from storeswap.repository.templates import SHARD_FIELD, KeyTemplate, key_text, shard_of

__all__ = ["Model", "BoundModel", "TYPE_ATTRIBUTE"]

T = TypeVar("T")

#: The attribute naming an item's entity type, so one table holds several types (single-table design).
TYPE_ATTRIBUTE = "_type"


#: What converting a value that does not hold its field's declared type raises besides EntityDecodeError: Python's
#: own errors from a hook, and cattrs' (a Literal field's value outside it, say).
CONVERSION_ERRORS: tuple[type[Exception], ...] = (
    TypeError, ValueError, AttributeError, ArithmeticError, RecursionError, cattrs.errors.CattrsError,
)


@contextlib.contextmanager
def _declared_types(what: str) -> Iterator[None]:
    """The one rule for a value that does not convert as its declared type: a ValidationError naming ``what``."""
    try:
        yield
    except EntityDecodeError as e:
        raise ValidationError(f"{what} does not hold its declared type: {e}") from None
    except CONVERSION_ERRORS as e:
        raise ValidationError(f"{what} does not hold its declared type: {type(e).__name__}: {e}") from None


def _templates(value: Mapping[str, tuple[str, str | None] | list[Any]]) -> dict[str, tuple[str, str | None]]:
    # A bare string would be read letter by letter ("TEXT#{text}" as pk "T"), a 3-tuple would lose its extra part:
    # each is refused, not guessed at.
    if not isinstance(value, Mapping):
        raise ModelError("indexes maps index names to (pk template, sk template or None)")
    out: dict[str, tuple[str, str | None]] = {}
    for name, pair in value.items():
        if not isinstance(name, str) or not isinstance(pair, (tuple, list)) or len(pair) not in (1, 2) \
                or not isinstance(pair[0], str) or not (len(pair) == 1 or pair[1] is None or isinstance(pair[1], str)):
            raise ModelError(f"indexes[{name!r}] is (pk template, sk template or None), not {pair!r}")
        out[name] = (pair[0], pair[1] if len(pair) == 2 else None)
    return out


#: The most write shards a model may declare: a query without ``_shard`` reads every one of them in turn.
MAX_SHARDS = 1000


@attrs.define(frozen=True)
class Model(Generic[T]):
    """How the attrs class ``cls`` is stored.

    ``pk`` / ``sk``: key templates for the table's partition and sort key
    (``sk`` is required when the table has a sort key).  ``indexes``: per
    global or local index name, a ``(pk_template, sk_template)`` pair (use
    ``None`` for an index without a sort key; a local index takes the
    table's partition key, so its pk template is ignored).  An index
    attribute is written only when every field of its template has a value,
    so the index stays sparse.  ``version``: an ``int`` field for optimistic
    locking (0 means "never saved").  ``ttl``: a ``datetime`` / ``int`` /
    ``Decimal`` field stored as whole epoch seconds (the table's TTL
    attribute must have its name, when the table declares one).
    ``shards``: write-shard a hot partition; the pk template then holds
    ``{_shard}``, filled with :func:`shard_of` of the rendered sort key, and
    a query without ``_shard`` reads every shard in turn.  ``type_name`` is
    stored in the ``_type`` attribute (default: the class name).
    """

    cls: type[T]
    pk: str
    sk: str | None = None
    indexes: Mapping[str, tuple[str, str | None]] = attrs.field(factory=dict, converter=_templates)
    version: str | None = None
    ttl: str | None = None
    shards: int | None = None
    type_name: str | None = None

    def __attrs_post_init__(self) -> None:
        if not attrs.has(self.cls):
            raise ModelError(f"{self.cls!r} is not an attrs class")
        if self.shards is not None and (isinstance(self.shards, bool) or not isinstance(self.shards, int)
                                        or not 1 <= self.shards <= MAX_SHARDS):
            raise ModelError(f"shards is an integer from 1 to {MAX_SHARDS}")
        for name in ("pk", "sk", "version", "ttl", "type_name"):
            value = getattr(self, name)
            if not (isinstance(value, str) or (value is None and name != "pk")):
                raise ModelError(f"{name} is a string{'' if name == 'pk' else ' or None'}, not {value!r}")

    @property
    def name(self) -> str:
        """The value of the ``_type`` attribute of this model's items."""
        return self.type_name or self.cls.__name__


@attrs.define(frozen=True)
class _Keys:
    """One key schema's attribute names and templates (the table's or an index's)."""

    index: str | None
    pk_attr: str
    pk: KeyTemplate
    sk_attr: str | None
    sk: KeyTemplate | None


class BoundModel(Generic[T]):
    """A :class:`Model` checked against a table spec: renders keys and converts items."""

    def __init__(self, model: Model[T], spec: TableSpec, converter: ItemConverter) -> None:
        self.model = model
        self.cls = model.cls
        self.name = model.name
        self.spec = spec
        self.converter = converter
        self.fields = {a.name: a for a in attrs.fields(model.cls)}  # type: ignore[arg-type]
        try:
            self.hints = typing.get_type_hints(model.cls)
        except Exception as e:  # a forward reference to a name that does not exist, say: any error of evaluating
            raise ModelError(f"{self.name}: its field annotations cannot be resolved: {type(e).__name__}: {e}") from None
        if TYPE_ATTRIBUTE in self.fields:
            raise ModelError(f"{self.name}: the field name {TYPE_ATTRIBUTE!r} is reserved for the entity type")
        self.table_keys = self._keys(None, model.pk, model.sk)
        self.index_keys: dict[str, _Keys] = {}
        for index, (pk, sk) in model.indexes.items():
            self.index_keys[index] = self._keys(index, pk, sk)
        self._check_version()
        self._check_ttl()
        try:
            self._unstructure = converter.unstructure_fn(model.cls, model.ttl)
            self._structure = converter.structure_fn(model.cls, model.ttl)
        except Exception as e:  # cattrs has no hook for a field's type (object, an unparameterised generic, ...)
            raise ModelError(f"{self.name}: a field's type cannot be stored: {type(e).__name__}: {e}") from None
        self.key_fields = frozenset(
            f for k in (self.table_keys, *self.index_keys.values())
            for t in (k.pk, k.sk) if t is not None for f in t.fields
        )

    # ------------------------------------------------------------------ checks

    def _keys(self, index: str | None, pk: str, sk: str | None) -> _Keys:
        schema = self.spec.index(index)
        if schema.projection.type != "ALL":
            # A query of a KEYS_ONLY / INCLUDE index returns partial items, which are not entities.
            raise ModelError(f"{self.name}: index {index} projects {schema.projection.type}; entities need ALL")
        if index is not None and not schema.is_global:
            pk = self.model.pk  # a local index shares the table's partition key
        pk_t = KeyTemplate(pk)
        sk_t = None if sk is None else KeyTemplate(sk)
        where = f"{self.name}" + (f" index {index}" if index else "")
        if schema.sort_key is None and sk_t is not None:
            raise ModelError(f"{where}: the key schema has no sort key, but a sort-key template was given")
        if schema.sort_key is not None and sk_t is None:
            raise ModelError(f"{where}: the key schema has sort key {schema.sort_key.name!r}; give a template for it")
        for t in (pk_t, sk_t):
            if t is None:
                continue
            for f in t.fields:
                if f == SHARD_FIELD:
                    if t is not pk_t or self.model.shards is None or index is not None:
                        raise ModelError(f"{where}: {{{SHARD_FIELD}}} belongs in the table's pk template of a "
                                         "model declared with shards=N")
                elif f not in self.fields:
                    raise ModelError(f"{where}: key template {t.text!r} names {f!r}, which is not a field")
        if index is None and self.model.shards is not None and SHARD_FIELD not in pk_t.fields:
            raise ModelError(f"{where}: shards=N needs {{{SHARD_FIELD}}} in the pk template")
        pairs = [(schema.partition_key.name, pk_t)]
        if schema.sort_key is not None and sk_t is not None:
            pairs.append((schema.sort_key.name, sk_t))
        for attr, t in pairs:
            if attr == TYPE_ATTRIBUTE:
                raise ModelError(f"{where}: key attribute {attr!r} clashes with the entity-type attribute")
            if attr in self.fields and not (t.raw and t.fields == (attr,)):
                raise ModelError(
                    f"{where}: key attribute {attr!r} is also a field; its template must then be '{{{attr}}}'"
                )
        return _Keys(index, schema.partition_key.name, pk_t,
                     None if schema.sort_key is None else schema.sort_key.name, sk_t)

    def _check_version(self) -> None:
        v = self.model.version
        if v is None:
            return
        if v not in self.fields or self.hints.get(v) is not int:
            raise ModelError(f"{self.name}: the version field {v!r} must be a field of type int")

    def _check_ttl(self) -> None:
        t = self.model.ttl
        if t is None:
            return
        if t not in self.fields:
            raise ModelError(f"{self.name}: the TTL field {t!r} is not a field")
        hint = self.hints.get(t)
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        if len(args) != 1 or args[0] not in (dt.datetime, int, Decimal):
            raise ModelError(f"{self.name}: the TTL field {t!r} must be a datetime, int or Decimal (or Optional)")
        declared = self.spec.ttl_attribute
        if declared is not None and declared != t:
            raise ModelError(f"{self.name}: table {self.spec.name} expires items by {declared!r}, not {t!r}")

    # ----------------------------------------------------------------- values

    def field_value(self, name: str, value: Any) -> Any:
        """A field's value as stored (the form key templates render)."""
        if name == SHARD_FIELD:
            return value
        a = self.fields.get(name)
        if a is None:
            raise ModelError(f"{self.name} has no field {name!r}")
        if value is None:
            return None
        hint = self.hints.get(name)
        if name == self.model.ttl and isinstance(value, dt.datetime):
            return epoch_seconds(value, whole=True)  # any TTL field takes a datetime, stored as whole epoch seconds
        if (name == self.model.ttl and declared_type(hint) is dt.datetime) or is_epoch_field(a):
            if not isinstance(value, dt.datetime):
                raise ValidationError(f"{self.name}.{name} holds a datetime, not {type(value).__name__}")
            return epoch_seconds(value)
        # The same strict rules as an entity's fields (checked_data): a key given as 5 for a str field would render
        # the key of the entity whose field is "5", and a get, delete or query would reach that entity instead.
        with _declared_types(f"{self.name}.{name}"):
            stored = self.converter.unstructure_value(value, hint)
            self.converter.structure_value(stored, hint)
        return stored

    def field_values(self, given: Mapping[str, Any], keys: _Keys) -> dict[str, Any]:
        """Stored forms of the given field values, each a field of ``keys``' templates (a get's, a delete's or a
        query's): any other field would be ignored, and a query meant to select by it would return everything."""
        allowed = set(keys.pk.fields) | set(() if keys.sk is None else keys.sk.fields)
        extra = sorted(map(str, set(given) - allowed))
        if extra:
            where = "the table key" if keys.index is None else f"index {keys.index}"
            raise ValidationError(
                f"{self.name}: {', '.join(extra)} is not in the key templates of {where} "
                f"(they take {', '.join(sorted(allowed)) or 'no fields'})"
            )
        return {name: self.field_value(name, v) for name, v in given.items()}

    def shard(self, values: Mapping[str, Any]) -> int:
        """The write shard of an entity with these stored field values."""
        assert self.model.shards is not None
        keys = self.table_keys
        text = keys.sk.render(values) if keys.sk is not None else ""
        return shard_of(key_text(text), self.model.shards)

    def key(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The table key of an entity with these stored field values."""
        keys = self.table_keys
        if self.model.shards is not None and values.get(SHARD_FIELD) is None:
            values = {**values, SHARD_FIELD: self.shard(values)}
        out = {keys.pk_attr: keys.pk.render(values)}
        if keys.sk is not None and keys.sk_attr is not None:
            out[keys.sk_attr] = keys.sk.render(values)
        return out

    def checked_data(self, entity: T) -> dict[str, Any]:
        """``entity``'s fields as stored, refused (:class:`ValidationError`) unless they read back as its declared types
        (and a :class:`ModelError` unless it is an instance of the model's class).

        attrs does not check field types and cattrs' unstructuring converts what it is given, so a ``str`` field
        holding ``5``, or an ``int`` field holding ``True``, would be stored, give a key that collides with another
        entity's, and make every read of it an :class:`EntityDecodeError`.  Reading the data back with the same
        strict rules as a read refuses it before anything is written.
        """
        if type(entity) is not self.cls:
            raise ModelError(f"expected a {self.cls.__name__}, got {type(entity).__name__}")
        with _declared_types(f"{self.name}: a field"):
            data = self._unstructure(entity)
            self._structure(data, self.cls)
        return data

    def to_item(self, entity: T) -> dict[str, Any]:
        """The item storing ``entity``: its fields, its table and index keys, and ``_type``."""
        data = self.checked_data(entity)
        item = dict(data)
        item.update(self.key(data))
        for keys in self.index_keys.values():
            if keys.index is not None and not self.spec.index(keys.index).is_global:
                assert keys.sk is not None and keys.sk_attr is not None
                if keys.sk.complete(data):
                    item[keys.sk_attr] = keys.sk.render(data)
                continue
            if keys.pk.complete(data) and (keys.sk is None or keys.sk.complete(data)):
                item[keys.pk_attr] = keys.pk.render(data)
                if keys.sk is not None and keys.sk_attr is not None:
                    item[keys.sk_attr] = keys.sk.render(data)
        item[TYPE_ATTRIBUTE] = self.name
        return item

    def key_of(self, entity: T) -> dict[str, Any]:
        """The table key of ``entity`` (refused, as a put is, unless its fields hold their declared types)."""
        return self.key(self.checked_data(entity))

    def from_item(self, item: Mapping[str, Any]) -> T:
        """The entity an item stores (:class:`EntityDecodeError` when it is another type or malformed)."""
        found = item.get(TYPE_ATTRIBUTE)
        if found != self.name:
            raise EntityDecodeError(f"the item holds a {found!r}, not a {self.name}")
        return self._structure(item, self.cls)  # type: ignore[no-any-return]
