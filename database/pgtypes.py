"""Type aliases for asyncpg objects the event store accepts."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# Strings: asyncpg's classes are generic only in its stubs.
Pool: TypeAlias = "asyncpg.Pool[Any]"
# A connection of its own or one borrowed from a pool.
Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
