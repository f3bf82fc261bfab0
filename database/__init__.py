"""Carepath's PostgreSQL: the embedded server, pools, connection codecs, all migrations."""

from database.codec import init_connection
from database.migrations import MigrationError, migrate
from database.pool import create_pool, open_pool
from database.server import database_url, run_migrations

__all__ = [
    "MigrationError",
    "create_pool",
    "database_url",
    "init_connection",
    "migrate",
    "open_pool",
    "run_migrations",
]
