"""The caseload: the calling clinician's journeys, from the `caseload` read model."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import record_read
from api.auth import CurrentClinician
from api.context import Api
from api.errors import ApiError
from api.models import CaseloadEntry, ErrorBody
from domain import Role
from domain.vocabulary import OpaqueId

router = APIRouter(tags=["caseload"])

# $1: clinic, $2: clinician (NULL: everyone's), $3: include closed journeys.
_CASELOAD = """
SELECT journey_id, client_id, therapist_id, prescriber_id, clinic_id, stage, status,
       closed_reason, doses_authorized, doses_used, next_due_kind, next_due_at, version,
       updated_at
  FROM caseload
 WHERE clinic_id = $1
   AND ($2::text IS NULL OR therapist_id = $2 OR prescriber_id = $2)
   AND ($3 OR status <> 'closed')
 ORDER BY next_due_at NULLS LAST, client_id
"""
_EITHER = "therapist_id = $2 OR prescriber_id = $2"
_BY_ROLE = {
    Role.THERAPIST: _CASELOAD.replace(_EITHER, "therapist_id = $2"),
    Role.PRESCRIBER: _CASELOAD.replace(_EITHER, "prescriber_id = $2"),
    Role.OPS: _CASELOAD,
}


@router.get(
    "/caseload",
    response_model=list[CaseloadEntry],
    summary="Your journeys (ops: the clinic's, or one clinician's with ?clinician_id=)",
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
)
async def caseload(
    clinician: CurrentClinician,
    api: Api,
    clinician_id: Annotated[OpaqueId | None, Query(description="ops: this clinician's")] = None,
    include_closed: Annotated[bool, Query(description="closed journeys too")] = False,
) -> list[CaseloadEntry]:
    if clinician.is_ops:
        whose = clinician_id
    elif clinician_id in (None, clinician.clinician_id):
        whose = clinician.clinician_id
    else:
        raise ApiError(403, "only ops may read another clinician's caseload")
    query = _BY_ROLE[clinician.role]
    rows = await api.pool.fetch(query, clinician.clinic_id, whose, include_closed)
    await record_read(
        api.pool, clinician, client_id=None, journey_id=None, resource="caseload", outcome="ok"
    )
    return [CaseloadEntry.model_validate(dict(row)) for row in rows]
