"""The in-app alert list: every notice to a clinician, kept whether or not email or SMS
delivered it (`records/alerts.py`; the notify activity records each before any channel is
tried).

`GET /alerts`: the caller's alerts, newest first, unacknowledged only unless
`?include_acknowledged=true`: a therapist's or a prescriber's own, and for ops their clinic's
ops alerts. `POST /alerts/{alert_id}/acknowledge`: by the alert's recipient only (any ops of the
clinic for an ops alert); acknowledging again keeps the first time and person. Another clinic's
alert is not there (404, as for an alert that does not exist). Both are audited in the access
log (`alerts`, `alert_acknowledged`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.audit import ReadOutcome, Resource, record_read
from api.auth import CurrentClinician
from api.context import Api, Services
from api.errors import ApiError
from api.models import Alert, ErrorBody
from records import alerts as alert_list
from records.tokens import Clinician

router = APIRouter(tags=["alerts"])

AlertId = Annotated[uuid.UUID, Path(description="the alert's id")]
NOT_FOUND = "no such alert in your clinic"
ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 403, 404)}
# The access log's names for these reads and actions (its check constraint: migration 0064).
LISTED: Resource = "alerts"
ACKNOWLEDGED: Resource = "alert_acknowledged"


def _shown(alert: alert_list.Alert) -> Alert:
    return Alert(
        alert_id=alert.alert_id,
        journey_id=alert.journey_id,
        client_id=alert.client_id,
        recipient_role=alert.recipient_role,
        recipient_id=alert.recipient_id,
        template=alert.template,
        urgent=alert.urgent,
        created_at=alert.created_at,
        delivery=alert.delivery,
        channel=alert.channel,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
    )


@router.get(
    "/alerts",
    response_model=list[Alert],
    summary="Your alerts, newest first (ops: the clinic's ops alerts); unacknowledged only unless "
    "?include_acknowledged=true",
    responses={401: {"model": ErrorBody}},
)
async def alerts(
    clinician: CurrentClinician,
    api: Api,
    include_acknowledged: Annotated[bool, Query(description="acknowledged alerts too")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    found = await alert_list.alerts_for(
        api.pool,
        clinician.clinic_id,
        clinician.role.value,
        clinician.clinician_id,
        include_acknowledged=include_acknowledged,
        limit=limit,
    )
    await record_read(
        api.pool, clinician, client_id=None, journey_id=None, resource=LISTED, outcome="ok"
    )
    return [_shown(alert) for alert in found]


async def _audit(
    api: Services, clinician: Clinician, alert: alert_list.Alert | None, outcome: ReadOutcome
) -> None:
    await record_read(
        api.pool,
        clinician,
        client_id=alert.client_id if alert else None,  # nothing of another clinic's alert
        journey_id=None,
        resource=ACKNOWLEDGED,
        outcome=outcome,
    )


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=Alert,
    summary="Acknowledge one of your alerts (ops: any of the clinic's ops alerts); again is fine",
    responses=ERRORS,
)
async def acknowledge(alert_id: AlertId, clinician: CurrentClinician, api: Api) -> Alert:
    return _shown(await acknowledge_as(api, clinician, alert_id))


async def acknowledge_as(
    api: Services, clinician: Clinician, alert_id: uuid.UUID
) -> alert_list.Alert:
    """Acknowledge as the API does (and the web app): audited; 404/403 as ApiError."""
    done = await alert_list.acknowledge_alert(
        api.pool, alert_id, clinician.clinic_id, clinician.role.value, clinician.clinician_id
    )
    if done.alert is None:  # another clinic's alert is not there either: the same answer
        await _audit(api, clinician, None, "not_found")
        raise ApiError(404, NOT_FOUND)
    if not done.allowed:
        await _audit(api, clinician, done.alert, "forbidden")
        raise ApiError(403, "only the alert's recipient may acknowledge it")
    await _audit(api, clinician, done.alert, "ok")
    return done.alert
