"""The clinicians' HTTP API: `create_app(settings, temporal=..., pool=...)`.

Routes live in small modules (journeys, decisions, caseload, audit, health); what they share is
on `app.state.services`. With `settings.api_runs_projections`, the app's lifespan keeps the read
models current (caseload, audit, outcomes) by following the event log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from temporalio.client import Client

from api import (
    audit,
    caseload,
    decisions,
    errors,
    health,
    journeys,
    notes,
    outcomes,
    survey_page,
    surveys,
)
from api.context import Services
from config.settings import Settings
from eventstore.pgtypes import Pool
from privacy.keys import load_key_ring
from projections import ProjectionRunner, all_projections

# Resolved at each use, so that it follows `configure_logging` (JSON, PHI dropped).
log = structlog.stdlib.get_logger("carepath.api")


def create_app(settings: Settings, *, temporal: Client, pool: Pool) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        followers: list[asyncio.Task[None]] = []
        if settings.api_runs_projections:
            # One runner for all: one read of the log per batch, one transaction.
            followers = [asyncio.create_task(ProjectionRunner(pool, all_projections()).follow())]
            log.info("projections following the event log", count=len(all_projections()))
        try:
            yield
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)

    app = FastAPI(
        title="Carepath",
        summary="Care pathways for ketamine-assisted psychotherapy: the clinicians' API",
        version="1",
        lifespan=lifespan,
    )
    keys = load_key_ring(settings.payload_keys, settings.payload_key_file)
    app.state.services = Services(settings=settings, temporal=temporal, pool=pool, keys=keys)
    errors.install(app)
    routers = (journeys, outcomes, decisions, caseload, audit, health, notes, surveys, survey_page)
    for module in routers:
        app.include_router(module.router)
    return app
