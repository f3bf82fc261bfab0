"""Shared fixtures: a real PostgreSQL for the whole session, a fresh database per test.

``pg_server_uri``: the server, embedded in a temp dir unless ``CAREPATH_DATABASE_URL``
names one (it must allow CREATE DATABASE). A template database is migrated once;
``db_url`` clones it for each test (fast) and drops the clone afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from database import migrate, open_pool
from database.pgtypes import Pool
from database.server import embedded_server
from eventstore import EventStore


def url_for_database(server_uri: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(server_uri)
    return urlunsplit(parts._replace(path="/" + database))


class DatabaseFactory:
    """Creates and drops scratch databases on the test server."""

    def __init__(self, server_uri: str) -> None:
        self.server_uri = server_uri

    async def create(self, template: str | None = None) -> str:
        """A new empty (or cloned from ``template``) database; returns its URL."""
        name = f"carepath_test_{uuid.uuid4().hex[:12]}"
        clause = f" TEMPLATE {template}" if template else ""
        conn = await asyncpg.connect(self.server_uri)
        try:
            await conn.execute(f"CREATE DATABASE {name}{clause}")
        finally:
            await conn.close()
        return url_for_database(self.server_uri, name)

    async def drop(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        conn = await asyncpg.connect(self.server_uri)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await conn.close()


# Stops the test server and deletes its files once the test process is gone, even if it
# was killed (SIGKILL, or a timeout's SIGTERM) before its fixtures could clean up.
_WATCHDOG = """
import os, pathlib, shutil, signal, sys, time
import psutil
sys.stdin.read()  # end of file: the test process has exited, one way or another
root = pathlib.Path(sys.argv[1])
try:
    pid = int((root / "pgdata" / "postmaster.pid").read_text().split()[0])
    if str(root) in " ".join(psutil.Process(pid).cmdline()):
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
except (OSError, ValueError, IndexError, psutil.Error):
    pass  # already stopped (the usual case: the fixture stopped it)
shutil.rmtree(root, ignore_errors=True)
"""


@pytest_asyncio.fixture(scope="session")
async def pg_server_uri() -> AsyncIterator[str]:
    """URI of a PostgreSQL server for this test session."""
    external = os.environ.get("CAREPATH_DATABASE_URL")
    if external:
        yield external
        return
    data_dir = Path(tempfile.mkdtemp(prefix="carepath-test-pg-"))
    # Its own session: a Ctrl-C or a timeout's signal to our process group spares it.
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(data_dir)],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    server = embedded_server(data_dir / "pgdata")
    try:
        uri: str = server.get_uri()
        conn = await asyncpg.connect(uri)
        try:
            # Test data is disposable: skip the flushes to disk.
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                await conn.execute(f"ALTER SYSTEM SET {setting} = off")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        yield uri
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)
        assert watchdog.stdin is not None
        watchdog.stdin.close()
        watchdog.wait(timeout=30)


@pytest.fixture(scope="session")
def database_factory(pg_server_uri: str) -> DatabaseFactory:
    return DatabaseFactory(pg_server_uri)


@pytest_asyncio.fixture(scope="session")
async def template_database(database_factory: DatabaseFactory) -> AsyncIterator[str]:
    """Name of a database with every migration applied, to clone from."""
    url = await database_factory.create()
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield urlsplit(url).path.lstrip("/")
    await database_factory.drop(url)


@pytest_asyncio.fixture
async def db_url(database_factory: DatabaseFactory, template_database: str) -> AsyncIterator[str]:
    """URL of a fresh, migrated database of this test's own."""
    url = await database_factory.create(template=template_database)
    yield url
    await database_factory.drop(url)


@pytest_asyncio.fixture
async def db_pool(db_url: str) -> AsyncIterator[Pool]:
    pool = await open_pool(db_url, min_size=1, max_size=20)
    yield pool
    await pool.close()


@pytest.fixture
def event_store(db_pool: Pool) -> EventStore:
    return EventStore(db_pool, max_event_bytes=64 * 1024)
