"""The metadata store: SQL schema, migrations and queries."""
