"""`GET /healthz`: can this process reach Temporal and PostgreSQL?"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.context import Api
from api.errors import log
from api.models import Health

router = APIRouter(tags=["health"])

CHECK_TIMEOUT = 5.0


async def _temporal_ok(api: Api) -> bool:
    try:
        await api.temporal.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=CHECK_TIMEOUT)
        )
    except Exception as error:
        log.warning("health: temporal unavailable", error=type(error).__name__)
        return False
    return True


async def _database_ok(api: Api) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await api.pool.fetchval("SELECT 1")
    except Exception as error:
        log.warning("health: database unavailable", error=type(error).__name__)
        return False
    return True


@router.get(
    "/healthz",
    response_model=Health,
    summary="Temporal and PostgreSQL reachable: 200, else 503 naming what is not",
    responses={503: {"model": Health}},
)
async def healthz(api: Api) -> JSONResponse:
    temporal, database = await asyncio.gather(_temporal_ok(api), _database_ok(api))
    health = Health(
        temporal="ok" if temporal else "unavailable",
        database="ok" if database else "unavailable",
    )
    return JSONResponse(health.model_dump(), status_code=200 if temporal and database else 503)
