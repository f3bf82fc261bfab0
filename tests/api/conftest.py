"""The API against real services: the Temporal time-skipping test server with a worker per test
(its own task queue), a fresh PostgreSQL database per test, and the app over ASGI.

`api` holds five clinicians registered with real tokens: ops, two therapists, two prescribers,
all in the clinic "default"; and three of another clinic, "other": `ops_b`, `th_b`, `rx_b`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from database.pgtypes import Pool
from devstack.servers import time_skipping_server
from domain.ids import DEFAULT_CLINIC, journey_workflow_id
from projections import ProjectionRunner, all_projections
from records.users import add_user
from tests.temporal import STARTED
from workers.worker import build_worker

OTHER_CLINIC = "other"


@pytest_asyncio.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    # The journey workflow keeps Carepath's search attributes current: define them first.
    async with time_skipping_server(define_search_attributes=True, interceptors=[STARTED]) as env:
        yield env


@dataclass(frozen=True)
class User:
    clinician_id: str
    token: str
    role: str
    clinic: str = DEFAULT_CLINIC

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Api:
    http: httpx.AsyncClient
    env: WorkflowEnvironment
    pool: Pool
    settings: Settings
    ops: User
    th: User
    th2: User
    rx: User
    rx2: User
    ops_b: User  # the clinic "other"
    th_b: User
    rx_b: User
    started_mark: int = field(default_factory=lambda: len(STARTED.ids))

    def new_client(self, clinic: str = DEFAULT_CLINIC) -> str:
        return f"cl-{uuid.uuid4().hex[:10]}"

    async def start(
        self,
        user: User | None = None,
        client_id: str | None = None,
        *,
        therapist: User | None = None,
        prescriber: User | None = None,
        **extra: Any,
    ) -> httpx.Response:
        user = user or self.ops
        client_id = client_id or self.new_client()
        body = {
            "client_id": client_id,
            "therapist_id": (therapist or self.th).clinician_id,
            "prescriber_id": (prescriber or self.rx).clinician_id,
            **extra,
        }
        return await self.http.post("/journeys", json=body, headers=user.headers)

    async def started(self, user: User | None = None, **kwargs: Any) -> str:
        """A new journey's client id."""
        response = await self.start(user, **kwargs)
        assert response.status_code == 201, response.text
        client_id: str = response.json()["client_id"]
        return client_id

    async def decide(
        self,
        user: User,
        client_id: str,
        type_: str,
        decision_id: str | None = None,
        /,
        **fields: Any,
    ) -> httpx.Response:
        body = {"type": type_, "decision_id": decision_id or f"d-{uuid.uuid4().hex[:12]}"}
        return await self.http.post(
            f"/journeys/{client_id}/decisions", json={**body, **fields}, headers=user.headers
        )

    async def get(self, user: User, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=user.headers)

    async def catch_up(self) -> None:
        await ProjectionRunner(self.pool, all_projections()).catch_up()

    async def finish(self, client_id: str, clinic: str = DEFAULT_CLINIC) -> None:
        """Wait until the journey's workflow has completed (a closed journey drains first)."""
        await self.env.client.get_workflow_handle(journey_workflow_id(client_id, clinic)).result()

    async def terminate_all(self) -> None:
        """Leave nothing this test started running (the time-skipping server is shared: a
        workflow left with a timer on this test's task queue, which no worker polls after it,
        would hold a later test's sleep past that timer)."""
        await STARTED.terminate_since(self.env.client, self.started_mark)


async def register(pool: Pool, name: str, role: str, clinic: str = DEFAULT_CLINIC) -> User:
    clinician_id, token = await add_user(pool, name, role, clinic)
    return User(clinician_id, token, role, clinic)


@pytest_asyncio.fixture
async def settings() -> Settings:
    return Settings(task_queue=f"api-{uuid.uuid4().hex[:8]}", api_runs_projections=False)


@pytest_asyncio.fixture
async def api(
    temporal_env: WorkflowEnvironment, db_pool: Pool, settings: Settings
) -> AsyncIterator[Api]:
    worker = build_worker(temporal_env.client, db_pool, settings, channels={})
    app = create_app(settings, temporal=temporal_env.client, pool=db_pool)
    transport = httpx.ASGITransport(app=app)
    async with worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        harness = Api(
            http=http,
            env=temporal_env,
            pool=db_pool,
            settings=settings,
            ops=await register(db_pool, "Olive Ops", "ops"),
            th=await register(db_pool, "Theo Therapist", "therapist"),
            th2=await register(db_pool, "Tara Therapist", "therapist"),
            rx=await register(db_pool, "Rex Prescriber", "prescriber"),
            rx2=await register(db_pool, "Rita Prescriber", "prescriber"),
            ops_b=await register(db_pool, "Otto Ops", "ops", OTHER_CLINIC),
            th_b=await register(db_pool, "Thea Therapist", "therapist", OTHER_CLINIC),
            rx_b=await register(db_pool, "Rolf Prescriber", "prescriber", OTHER_CLINIC),
        )
        try:
            yield harness
        finally:
            await harness.terminate_all()
