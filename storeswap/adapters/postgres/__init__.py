"""The PostgreSQL adapter (SQLAlchemy for schema and URLs, psycopg 3 prepared statements on the hot path)."""

from storeswap.adapters.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
