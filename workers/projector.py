"""Keeping the read models current (`carepath projections run`) and rebuilding them."""

from __future__ import annotations

import asyncio

from config.logs import configure_logging, get_logger
from config.settings import Settings
from database import create_pool
from projections import ProjectionRunner, all_projections
from workers.signals import stop_on_signals


async def rebuild(settings: Settings, name: str | None = None) -> dict[str, int]:
    pool = await create_pool(settings)
    try:
        chosen = [p for p in all_projections() if name in (None, p.name)]
        if not chosen:
            raise SystemExit(f"no projection named {name!r}")
        read = await ProjectionRunner(pool, chosen).rebuild()
        return {p.name: read for p in chosen}
    finally:
        await pool.close()


async def follow_all(settings: Settings, stop: asyncio.Event) -> None:
    log = get_logger("carepath.projector")
    pool = await create_pool(settings)
    # One runner: one read of the log per batch for every projection.
    tasks = [asyncio.create_task(ProjectionRunner(pool, all_projections()).follow())]
    log.info("projections following the event log", count=len(all_projections()))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()
        log.info("projections stopped")


def run_projector(settings: Settings) -> None:
    configure_logging(settings, "projector")

    async def main() -> None:
        with stop_on_signals() as stop:
            await follow_all(settings, stop)

    asyncio.run(main())
