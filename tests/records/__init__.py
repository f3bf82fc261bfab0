"""Tests of the other tables (`records/`), against a real PostgreSQL."""
