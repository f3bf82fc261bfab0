"""Fixtures for the activity tests: the real activities against a real PostgreSQL database
(`db_pool`) and real local servers for SMTP, the SMS gateway and the referral partner.

`db_pool` here is one migrated database for all the activity tests, emptied before each test:
the suite-wide `db_pool` (a database per test) costs about half a second a test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import pytest_asyncio

from database import open_pool
from database.pgtypes import Pool
from tests.activities.servers import HttpServer, SmtpServer

if TYPE_CHECKING:
    from tests.conftest import DatabaseFactory


@pytest_asyncio.fixture(scope="session")
async def activities_database(
    database_factory: DatabaseFactory, template_database: str
) -> AsyncIterator[Pool]:
    url = await database_factory.create(template=template_database)
    pool = await open_pool(url, min_size=1, max_size=10)
    try:
        yield pool
    finally:
        await pool.close()
        await database_factory.drop(url)


@pytest_asyncio.fixture
async def db_pool(activities_database: Pool) -> Pool:
    """The activity tests' database with no clients, clinicians or notifications in it."""
    await activities_database.execute("TRUNCATE clients, clinicians, notifications CASCADE")
    return activities_database


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def sms_gateway() -> AsyncIterator[HttpServer]:
    server = HttpServer()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def partner() -> AsyncIterator[HttpServer]:
    server = HttpServer()
    await server.start()
    yield server
    await server.stop()
