"""The caseload: the calling clinician's journeys, from the `caseload` read model
(`projections.caseload_queries`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.audit import record_read
from api.auth import CurrentClinician
from api.context import Api
from api.errors import ApiError
from api.models import CaseloadEntry, ErrorBody
from domain.vocabulary import OpaqueId
from projections.caseload_queries import caseload_entries

router = APIRouter(tags=["caseload"])


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
    entries = await caseload_entries(
        api.pool,
        clinician.clinic_id,
        whose,
        as_role=clinician.role,
        include_closed=include_closed,
    )
    await record_read(
        api.pool, clinician, client_id=None, journey_id=None, resource="caseload", outcome="ok"
    )
    return entries
