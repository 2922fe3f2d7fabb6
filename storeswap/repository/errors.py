"""The repository's typed errors: all :class:`storeswap.StoreError` subclasses, like the port's."""

from __future__ import annotations

from typing import Any

from storeswap.core.errors import StoreError, ValidationError

__all__ = ["RepositoryError", "StaleEntity", "EntityExists", "EntityNotFound", "EntityDecodeError", "ModelError"]


class RepositoryError(StoreError):
    """Base class of the errors the repository adds to the port's."""


class StaleEntity(RepositoryError):
    """A save or delete carried a version that is no longer the stored one (optimistic locking).

    ``entity`` is what the caller tried to write; reload it and try again.
    """

    def __init__(self, message: str, *, entity: Any = None) -> None:
        super().__init__(message)
        self.entity = entity


class EntityExists(RepositoryError):
    """A create-only put found an entity with the same key."""

    def __init__(self, message: str, *, entity: Any = None) -> None:
        super().__init__(message)
        self.entity = entity


class EntityNotFound(RepositoryError):
    """An increment (or a versioned delete) found no entity with that key."""


class EntityDecodeError(RepositoryError):
    """A stored item does not match the entity class it was read as (a type or field mismatch)."""


class ModelError(ValidationError):
    """An entity model is declared wrongly: unknown template fields, clashing names, bad TTL or version fields."""
