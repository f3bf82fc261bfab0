"""The worker process: `python -m workers` or `carepath worker`."""

from __future__ import annotations

import asyncio
import signal

from config.logs import configure_logging, get_logger
from config.settings import Settings, get_settings
from eventstore import create_pool
from workers.temporal import connect
from workers.worker import build_worker


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run a worker until SIGTERM/SIGINT (or `stop`), then finish in-flight work and exit."""
    log = get_logger("carepath.worker", task_queue=settings.task_queue)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    pool = await create_pool(settings)
    try:
        client = await connect(settings)
        worker = build_worker(client, pool, settings)
        async with worker:
            log.info("worker started", namespace=settings.temporal_namespace)
            await stop.wait()
            log.info("worker stopping: finishing in-flight tasks")
        log.info("worker stopped")
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings, "worker")
    asyncio.run(run_worker(settings))
