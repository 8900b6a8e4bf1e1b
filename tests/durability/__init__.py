"""Durability tests: crash recovery, replicas on one database, and database outages."""
