"""Small helpers for tests that run real servers on loopback."""

from __future__ import annotations

import asyncio
import time

import httpx


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
