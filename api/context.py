"""What every route needs, held on `app.state`: settings, the Temporal client, the pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from temporalio.client import Client, WorkflowHandle

from config.settings import Settings
from database.pgtypes import Pool
from domain.ids import journey_workflow_id
from eventstore import EventStore
from privacy.keys import KeyRing


@dataclass(frozen=True)
class Services:
    settings: Settings
    temporal: Client
    pool: Pool
    keys: KeyRing | None = None  # survey links; seals notes and contact details at rest

    @property
    def store(self) -> EventStore:
        return EventStore(self.pool, max_event_bytes=self.settings.max_event_bytes)

    def journey(self, client_id: str, clinic_id: str) -> WorkflowHandle[Any, Any]:
        """The handle of the clinic's client's journey workflow (its latest run). Client ids are
        per clinic: routes pass the caller's clinic, so another clinic's client is not there."""
        return self.temporal.get_workflow_handle(journey_workflow_id(client_id, clinic_id))


def services(request: Request) -> Services:
    api: Services = request.app.state.services
    return api


Api = Annotated[Services, Depends(services)]
