"""GET /healthz against real and broken dependencies; the OpenAPI document."""

from __future__ import annotations

import httpx
from temporalio.client import Client

from api.app import create_app
from database import open_pool
from tests.api.conftest import Api
from workers.temporal import DATA_CONVERTER


async def test_healthy(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"temporal": "ok", "database": "ok"}


async def test_a_closed_database_pool_is_503(api: Api, db_url: str) -> None:
    pool = await open_pool(db_url)
    await pool.close()
    app = create_app(api.settings, temporal=api.env.client, pool=pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"temporal": "ok", "database": "unavailable"}


async def test_an_unreachable_temporal_is_503(api: Api) -> None:
    nowhere = await Client.connect("127.0.0.1:9", lazy=True, data_converter=DATA_CONVERTER)
    app = create_app(api.settings, temporal=nowhere, pool=api.pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"temporal": "unavailable", "database": "ok"}
        read = await c.get("/journeys/cl-1", headers=api.ops.headers)
    assert read.status_code == 503
    assert read.json()["detail"].startswith("the workflow service is unavailable")


async def test_openapi_lists_the_routes_and_documents_the_decision_body(api: Api) -> None:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    assert set(paths) >= {
        "/journeys",
        "/journeys/{client_id}",
        "/journeys/{client_id}/events",
        "/journeys/{client_id}/decisions",
        "/caseload",
        "/audit",
        "/healthz",
    }
    assert "post" in paths["/journeys"] and "get" in paths["/journeys/{client_id}"]
    body = paths["/journeys/{client_id}/decisions"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    text = str(schema)
    assert "discriminator" in text or "oneOf" in text
    schemas = spec["components"]["schemas"]
    screening = schemas["RecordScreeningDecision"]
    assert set(screening["properties"]) >= {"type", "decision_id", "instrument", "answers"}
    assert "actor" not in screening["properties"]
    assert {"type", "decision_id"} <= set(screening["required"])
    assert "StartJourneyDecision" not in schemas
    for name in ("PauseDecision", "ScheduleDosingDecision", "CompleteDosingDecision"):
        assert name in schemas
    assert "ClinicianToken" in spec["components"]["securitySchemes"]
