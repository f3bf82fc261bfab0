"""Small helpers for tests that run real servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from temporalio.client import Client

from config.settings import Settings
from database.pgtypes import Pool
from devstack.ports import free_port
from domain.ids import journey_workflow_id
from tests.temporal import terminate_if_running
from workers.api import serve_api
from workers.worker import build_worker


async def wait_until_healthy(http: httpx.AsyncClient, server: asyncio.Task[None]) -> None:
    """Wait (20 s at most) until the API served by `server` answers /healthz with 200."""
    deadline = time.monotonic() + 20
    while True:
        assert not server.done(), server
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the API did not come up"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def served_api(
    temporal: Client, pool: Pool, db_url: str, **settings: Any
) -> AsyncIterator[Settings]:
    """The API served on a free loopback port (`carepath api`'s code) with a worker on a task
    queue of its own; yields the settings it runs with, and stops both on leaving."""
    port = free_port()
    served = Settings(
        **{
            "temporal_address": temporal.service_client.config.target_host,
            "database_url": db_url,
            "task_queue": f"api-{uuid.uuid4().hex[:8]}",
            "api_host": "127.0.0.1",
            "api_port": port,
            "api_url": f"http://127.0.0.1:{port}",
            "db_pool_max": 8,
            **settings,
        }
    )
    stop = asyncio.Event()
    async with build_worker(temporal, pool, served, channels={}):
        server = asyncio.create_task(serve_api(served, stop=stop))
        try:
            async with httpx.AsyncClient(base_url=served.api_url) as http:
                await wait_until_healthy(http, server)
            yield served
        finally:
            stop.set()
            await asyncio.wait_for(server, timeout=30)
            # The served API starts journeys with a client of its own: find them in the store.
            for workflow_id in await journeys_in(pool):  # while the worker still runs
                await terminate_if_running(temporal.get_workflow_handle(workflow_id))


async def journeys_in(pool: Pool) -> list[str]:
    """The workflow ids of every journey in this database's store."""
    rows = await pool.fetch(
        "SELECT DISTINCT data->>'client_id' AS client_id, data->>'clinic_id' AS clinic_id"
        " FROM events WHERE event_type = 'journey_started'"
    )
    return [journey_workflow_id(r["client_id"], r["clinic_id"]) for r in rows]
