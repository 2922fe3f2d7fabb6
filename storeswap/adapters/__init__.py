"""Driven adapters: the stores behind the port (memory, PostgreSQL, DynamoDB)."""
