"""Tests of the event store, against a real PostgreSQL."""
