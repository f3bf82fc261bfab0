"""The clinicians' HTTP API: `create_app(settings, temporal=..., pool=...)`.

Routes live in small modules (journeys, decisions, caseload, audit, health); what they share is
on `app.state.services`. With `settings.api_runs_projections`, the app's lifespan keeps the read
models current (caseload, audit, outcomes) by following the event log. `api.guards` stands in
front of every route (security headers, the request size limit, repeated JSON keys, the sign-in
throttle). The OpenAPI document names every status an operation can answer (`document_errors`):
the routes list their own, the answers every route may give are added here, in one place.
`/docs` shows it in Swagger UI served by this process (`api.docs`), never from a CDN.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI
from pydantic.json_schema import models_json_schema
from temporalio.client import Client

from api import (
    alerts,
    audit,
    caseload,
    decisions,
    docs,
    errors,
    guards,
    health,
    journeys,
    notes,
    outcomes,
    protocols,
    reports,
    survey_page,
    surveys,
    web,
)
from api.context import Services
from api.models import ErrorBody
from config.settings import Settings
from database.pgtypes import Pool
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
        docs_url=None,  # `api.docs` serves the page and its assets itself (offline)
        redoc_url=None,
    )
    keys = load_key_ring(settings.payload_keys, settings.payload_key_file)
    app.state.services = Services(settings=settings, temporal=temporal, pool=pool, keys=keys)
    errors.install(app, body_tags=decisions.DECISION_TYPES)
    guards.install(app, settings)
    routers = (journeys, outcomes, decisions, caseload, audit, health, notes, surveys, survey_page)
    for module in routers:
        app.include_router(module.router)
    app.include_router(reports.router)
    app.include_router(alerts.router)
    app.include_router(protocols.router)
    app.include_router(docs.router(app))
    app.include_router(web.router)
    app.add_exception_handler(web.SignedOut, lambda _request, _error: web.signed_out_response())

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(FastAPI.openapi(app))  # FastAPI keeps it as app.openapi_schema
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
# What any operation may answer besides its own statuses; 401 and 429 where a token is needed,
# 422 where there is something to validate.
COMMON_ERRORS: dict[str, str] = {
    "400": "The body cannot be read as JSON (not UTF-8, a number too long, nested too deep), "
    "or it repeats a key",
    "401": "No bearer token, or one that is unknown, revoked or expired",
    "413": "The request is larger than the API accepts (CAREPATH_MAX_REQUEST_BYTES)",
    "422": "The request is not valid: malformed (JSON syntax too), or values that the pathway's "
    "rules refuse even where the schema allows them (a protocol's cross-field rules, an "
    "instrument's number of answers); `errors` says where and what, never repeating a value",
    "429": "Too many failed sign-ins from this address: try again after Retry-After seconds",
    "500": "The request could not be served",
    "503": "The workflow service or the database is unavailable: try again shortly",
}
_ALWAYS = ("400", "413", "500", "503")
_HEADERS: dict[str, dict[str, Any]] = {
    "401": {
        "WWW-Authenticate": {
            "description": '`Bearer`; `Bearer error="invalid_token"` for a token that fails',
            "schema": {"type": "string"},
        }
    },
    "429": {
        "Retry-After": {
            "description": "seconds until this address may sign in again",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def _json_error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the statuses every operation may answer, all as `ErrorBody` (422 too, in place of
    FastAPI's HTTPValidationError, which this API never sends)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    _, defs = models_json_schema(
        [(ErrorBody, "serialization")], ref_template="#/components/schemas/{model}"
    )
    for name, schema in defs.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for path in spec.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                _document(operation)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return spec


def _document(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    wanted = list(_ALWAYS)
    if operation.get("parameters") or operation.get("requestBody"):
        wanted.append("422")
    if operation.get("security"):
        wanted += ["401", "429"]
    for status in sorted(wanted):
        answer = responses.get(status)
        if answer is None or _is_fastapi_validation(answer):
            answer = responses[status] = _json_error(COMMON_ERRORS[status])
        elif answer.get("description") == HTTPStatus(int(status)).phrase:  # FastAPI's default
            answer["description"] = COMMON_ERRORS[status]
    for status, headers in _HEADERS.items():
        if status in responses:
            responses[status].setdefault("headers", {}).update(headers)
    operation["responses"] = dict(sorted(responses.items()))


def _is_fastapi_validation(answer: dict[str, Any]) -> bool:
    return "HTTPValidationError" in str(answer.get("content"))
