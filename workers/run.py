"""The worker process: `python -m workers` or `carepath worker`."""

from __future__ import annotations

import asyncio

from config.logs import configure_logging, get_logger
from config.settings import Settings, get_settings
from database import create_pool
from workers.signals import stop_on_signals
from workers.temporal import connect
from workers.worker import build_worker


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run a worker until SIGTERM/SIGINT (or `stop`), then finish in-flight work and exit."""
    log = get_logger("carepath.worker", task_queue=settings.task_queue)
    pool = await create_pool(settings)
    try:
        client = await connect(settings)
        worker = build_worker(client, pool, settings)
        with stop_on_signals(stop) as stopping:
            async with worker:
                log.info("worker started", namespace=settings.temporal_namespace)
                await stopping.wait()
                log.info("worker stopping: finishing in-flight tasks")
        log.info("worker stopped")
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings, "worker")
    asyncio.run(run_worker(settings))
