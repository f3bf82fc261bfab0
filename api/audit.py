"""The audit trail: every decision (accepted or rejected) and every read of a journey.

Accepted decisions come from the `audit_accepted` projection; rejected ones are written here to
`audit_rejected` (they are not events); reads go to `access_log`. `GET /audit` shows them,
newest first, to ops: the rows of the caller's clinic only, whatever the filters. Every row names
its clinic: rejections and reads the caller's (the only clinic a caller can reach), accepted
decisions their journey's. Ids, codes and plain-words reasons only.

A rejection or a read that found no journey is filed under the workflow id
(`journey_workflow_id(client id, caller's clinic)`) instead of a journey id.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.auth import CurrentClinician, require_ops
from api.context import Api, Services
from api.models import AuditEntry, ErrorBody, IsoDateTime
from database.pgtypes import Pool
from domain import Rejection
from domain.ids import client_of_journey_workflow, journey_workflow_id
from domain.vocabulary import OpaqueId
from eventstore.clients import journeys_of_client
from records.tokens import Clinician

router = APIRouter(tags=["audit"])

ReadOutcome = Literal["ok", "forbidden", "not_found", "unreadable"]
Resource = Literal[
    "journey",
    "events",
    "outcomes",
    "caseload",
    "note",
    "erasure",
    "decision",
    "audit",
    "alerts",
    "alert_acknowledged",
    "sessions",
    "adverse_events",
    "controlled_substances",
    "protocol",
    "protocols",
    "protocol_published",
    "decisions_available",
    "signed_in",  # the web app's sign-in and sign-out (api/web.py)
    "signed_out",
]

_RECORD_REJECTED = """
INSERT INTO audit_rejected (journey_id, decision_id, decision_type, actor_id, actor_role,
                            rejection_code, reason, clinic_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_RECORD_READ = """
INSERT INTO access_log (journey_id, workflow_id, client_id, actor_id, actor_role, resource,
                        outcome, clinic_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
_CLIENTS_OF_JOURNEYS = """
SELECT stream_id, data->>'client_id' AS client_id FROM events
 WHERE stream_id = ANY($1::text[]) AND stream_version = 1 AND event_type = 'journey_started'
"""
# $1: journeys to keep (NULL: all), $2: client id for reads (NULL: all), $3: actor (NULL: all),
# $4: include decisions, $5: include reads, $6: limit, $7: before (NULL: now), $8: the clinic.
_LIST = """
SELECT * FROM (
    SELECT 'decision' AS kind, decided_at AS at, journey_id, NULL::text AS client_id,
           actor_id, actor_role, outcome, decision_id, decision_type, rejection_code, reason,
           event_types, NULL::text AS read, NULL::text AS subject_id
      FROM audit
     WHERE $4 AND clinic_id = $8 AND ($1::text[] IS NULL OR journey_id = ANY($1::text[]))
       AND ($3::text IS NULL OR actor_id = $3)
       AND ($7::timestamptz IS NULL OR decided_at < $7)
    UNION ALL
    SELECT 'read', read_at, journey_id, client_id, actor_id, actor_role, outcome, NULL, NULL,
           NULL, NULL, ARRAY[]::text[], resource, subject_id
      FROM access_log
     WHERE $5 AND clinic_id = $8 AND ($2::text IS NULL OR client_id = $2)
       AND ($3::text IS NULL OR actor_id = $3)
       AND ($7::timestamptz IS NULL OR read_at < $7)
) AS entries
ORDER BY at DESC, kind
LIMIT $6
"""


async def record_rejection(
    pool: Pool,
    clinician: Clinician,
    *,
    journey_id: str,
    decision_id: str,
    decision_type: str,
    rejection: Rejection,
) -> None:
    await pool.execute(
        _RECORD_REJECTED,
        journey_id,
        decision_id,
        decision_type,
        clinician.clinician_id,
        clinician.role.value,
        rejection.code.value,
        rejection.reason,
        clinician.clinic_id,
    )


async def record_read(
    pool: Pool,
    clinician: Clinician,
    *,
    client_id: str | None,
    journey_id: str | None,
    resource: Resource,
    outcome: ReadOutcome,
) -> None:
    await pool.execute(
        _RECORD_READ,
        journey_id,
        journey_workflow_id(client_id, clinician.clinic_id) if client_id else None,
        client_id,
        clinician.clinician_id,
        clinician.role.value,
        resource,
        outcome,
        clinician.clinic_id,
    )


def _client_of(journey_id: str | None, known: dict[str, str]) -> str | None:
    if journey_id is None:
        return None
    if journey_id in known:
        return known[journey_id]
    filed = client_of_journey_workflow(journey_id)  # a rejection that found no journey
    return filed[1] if filed else None


async def _record_audit_read(api: Services, clinician: Clinician, outcome: ReadOutcome) -> None:
    await record_read(
        api.pool, clinician, client_id=None, journey_id=None, resource="audit", outcome=outcome
    )


@router.get(
    "/audit",
    response_model=list[AuditEntry],
    summary="The audit log: decisions and reads, newest first (ops only)",
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
)
async def audit_log(
    clinician: CurrentClinician,
    api: Api,
    client_id: Annotated[OpaqueId | None, Query(description="only this client")] = None,
    clinician_id: Annotated[OpaqueId | None, Query(description="only this clinician")] = None,
    kind: Annotated[Literal["decision", "read"] | None, Query()] = None,
    before: Annotated[IsoDateTime | None, Query(description="older than this (paging)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    # Reading the audit log is itself logged (an admin action), refused or not.
    if not clinician.is_ops:
        await _record_audit_read(api, clinician, "forbidden")
    require_ops(clinician)
    journeys: list[str] | None = None
    if client_id is not None:
        started = await journeys_of_client(api.pool, client_id, clinician.clinic_id)
        journeys = [*started, journey_workflow_id(client_id, clinician.clinic_id)]
    rows = await api.pool.fetch(
        _LIST,
        journeys,
        client_id,
        clinician_id,
        kind in (None, "decision"),
        kind in (None, "read"),
        limit,
        before,
        clinician.clinic_id,
    )
    unknown = sorted({r["journey_id"] for r in rows if r["client_id"] is None and r["journey_id"]})
    known = {
        r["stream_id"]: r["client_id"] for r in await api.pool.fetch(_CLIENTS_OF_JOURNEYS, unknown)
    }
    await _record_audit_read(api, clinician, "ok")
    return [
        AuditEntry(
            kind=row["kind"],
            at=row["at"],
            journey_id=row["journey_id"],
            client_id=row["client_id"] or _client_of(row["journey_id"], known),
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            outcome=row["outcome"],
            decision_id=row["decision_id"],
            decision_type=row["decision_type"],
            rejection_code=row["rejection_code"],
            reason=row["reason"],
            event_types=list(row["event_types"] or []),
            read=row["read"],
            subject_id=row["subject_id"],
        )
        for row in rows
    ]
