"""Alembic migrations for the metadata store."""
