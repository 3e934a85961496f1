"""Persistence: the tables, the engine and sessions, the queries."""
