"""The dosing sessions' records and the clinic's safety reports (issue 12).

- `GET /journeys/{client_id}/sessions`: the journey's dosing-session records (monitoring
  readings, the dose on record, signature, amendments, adverse-event counts) and its
  controlled-substance ledger, computed from the journey's stored events folded by the domain
  (`domain.ledger.session_records`, `substance_ledger`): exactly what is recorded, no read model
  in between. Who may read it: as for the journey itself (`api.journeys.visible_view`).
- `GET /reports/adverse-events`: the clinic's adverse events, newest first (the `safety` read
  model, `projections.safety_queries`), `?serious=true` for the serious ones, `?since=` for
  those recorded then or later. Ops and prescribers see the clinic's; a therapist their own
  clients' only.
- `GET /reports/controlled-substances`: the clinic's controlled-substance ledger per journey,
  per lot and in total, and every discrepancy (what does not reconcile). Ops and prescribers
  only.

Every read is audited in the access log (`sessions`, `adverse_events`, `controlled_substances`),
a refused one too. The reports are read models: an event recorded a moment ago may show a moment
later. Ids, codes, times and quantities only: no names, no contact details.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.audit import Resource, record_read
from api.auth import CurrentClinician
from api.context import Api
from api.errors import ApiError
from api.journeys import ERRORS, ClientId, visible_view
from api.models import ErrorBody, IsoDateTime
from domain import Role, fold, parse_event
from domain.ledger import SessionRecord, SubstanceLedger, session_records, substance_ledger
from projections.safety_queries import (
    AdverseEventEntry,
    SubstanceReport,
    adverse_events,
    substance_report,
)

router = APIRouter(tags=["reports"])

# The access log's names for these reads (its check constraint: migration 0065).
SESSIONS: Resource = "sessions"
ADVERSE_EVENTS: Resource = "adverse_events"
CONTROLLED_SUBSTANCES: Resource = "controlled_substances"

REPORT_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody},
    403: {"model": ErrorBody},
}
SUBSTANCE_READERS = frozenset({Role.PRESCRIBER, Role.OPS})


class JourneySessions(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    journey_id: str
    sessions: list[SessionRecord] = Field(description="every dosing session, in schedule order")
    ledger: SubstanceLedger = Field(
        description="authorized, started and recorded doses; mg dispensed, administered, "
        "wasted and unaccounted for"
    )
    reconciled: bool = Field(
        description="nothing unaccounted for and every dose started has a dose on record"
    )


@router.get(
    "/journeys/{client_id}/sessions",
    response_model=JourneySessions,
    summary="The journey's dosing-session records and its controlled-substance ledger",
    responses=ERRORS,
)
async def journey_sessions(
    client_id: ClientId, clinician: CurrentClinician, api: Api
) -> JourneySessions:
    view = await visible_view(api, clinician, client_id, SESSIONS)
    recorded = await api.store.read_stream(view.journey_id)
    state = fold(parse_event(r.data) for r in recorded)
    if state is None:  # pragma: no cover - a journey's start is stored before it is shown
        raise ApiError(503, "the journey's events are not stored yet: try again shortly")
    ledger = substance_ledger(state)
    return JourneySessions(
        client_id=client_id,
        journey_id=view.journey_id,
        sessions=session_records(state),
        ledger=ledger,
        reconciled=ledger.reconciled,
    )


@router.get(
    "/reports/adverse-events",
    response_model=list[AdverseEventEntry],
    summary="The clinic's adverse events, newest first (a therapist: their own clients')",
    responses=REPORT_ERRORS,
)
async def adverse_event_report(
    clinician: CurrentClinician,
    api: Api,
    serious: Annotated[
        bool | None, Query(description="true: the serious ones only; false: the others")
    ] = None,
    since: Annotated[
        IsoDateTime | None, Query(description="recorded at this time or later (ISO 8601)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AdverseEventEntry]:
    therapist = clinician.clinician_id if clinician.role is Role.THERAPIST else None
    entries = await adverse_events(
        api.pool,
        clinician.clinic_id,
        therapist_id=therapist,
        serious=serious,
        since=since,
        limit=limit,
    )
    await record_read(
        api.pool, clinician, client_id=None, journey_id=None, resource=ADVERSE_EVENTS, outcome="ok"
    )
    return entries


@router.get(
    "/reports/controlled-substances",
    response_model=SubstanceReport,
    summary="The clinic's controlled-substance ledger and its discrepancies (prescribers, ops)",
    responses=REPORT_ERRORS,
)
async def controlled_substance_report(clinician: CurrentClinician, api: Api) -> SubstanceReport:
    if clinician.role not in SUBSTANCE_READERS:
        await record_read(
            api.pool,
            clinician,
            client_id=None,
            journey_id=None,
            resource=CONTROLLED_SUBSTANCES,
            outcome="forbidden",
        )
        raise ApiError(403, "the controlled-substance report is for prescribers and ops")
    report = await substance_report(api.pool, clinician.clinic_id)
    await record_read(
        api.pool,
        clinician,
        client_id=None,
        journey_id=None,
        resource=CONTROLLED_SUBSTANCES,
        outcome="ok",
    )
    return report
