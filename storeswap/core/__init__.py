"""The hexagon: values, schema, expressions, the port and its errors.

Imports nothing from boto3, SQLAlchemy or psycopg.
"""
