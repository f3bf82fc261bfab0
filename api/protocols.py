"""The clinic's protocol registry: its current version, its versions, publishing one.

`GET /protocols/current` (any clinician of the clinic): the values and the version label a
journey started now pins. `GET /protocols`: the clinic's versions, newest first.
`POST /protocols` (the clinic's clinical lead only): publish the values as a new version, which
becomes the current one; values outside the evidence-based bounds (`domain.protocol`) are
answered 422 in plain words, and the current version's name and values sent again answer that
version (200, nothing published). A clinic that has published none has the built-in defaults,
published as its first version on first use (`records/protocols.py`).

Clinic-scoped: every route reads and writes the caller's clinic only; another clinic's protocols
are not there. Every call is audited in the access log (`protocol`, `protocols`,
`protocol_published`, refused or not).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.audit import ReadOutcome, Resource, record_read
from api.auth import CurrentClinician
from api.context import Api, Services
from api.errors import ApiError
from api.models import ErrorBody
from domain import Role
from domain.protocol import NewProtocolValues, ProtocolName, ProtocolValues
from records import protocols as registry
from records.tokens import Clinician

router = APIRouter(tags=["protocols"])

# The access log's names for these reads and actions (its check constraint: migration 0067).
CURRENT: Resource = "protocol"
LISTED: Resource = "protocols"
PUBLISHED: Resource = "protocol_published"


class ProtocolVersion(BaseModel):
    """A version of the clinic's protocol: immutable, identified by its content."""

    model_config = ConfigDict(frozen=True)

    label: str = Field(
        description="`<name>.<n>+<first 12 hex digits of the digest>`: the version a journey "
        "records when it starts on this protocol"
    )
    name: str
    number: int = Field(description="the n of this name's versions in the clinic, from 1")
    digest: str = Field(description="SHA-256 of the values as canonical JSON (sorted keys)")
    values: ProtocolValues
    published_at: datetime
    published_by: str = Field(
        description="the clinical lead's id; `system:defaults` for the built-in defaults"
    )
    publisher_role: str = Field(description="`clinical_lead`, or `system` for the defaults")
    current: bool = Field(description="whether journeys started now pin this version")

    @classmethod
    def of(cls, version: registry.ProtocolVersion, current_label: str) -> ProtocolVersion:
        return cls(
            label=version.label,
            name=version.name,
            number=version.number,
            digest=version.digest,
            values=version.values,
            published_at=version.published_at,
            published_by=version.published_by,
            publisher_role=version.publisher_role,
            current=version.label == current_label,
        )


class PublishProtocol(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    name: ProtocolName | None = Field(
        default=None,
        description="a lower-case letter, then up to 19 more of a-z 0-9 -; default: the current "
        "version's name",
    )
    values: NewProtocolValues = Field(
        description="every setting of the protocol (one left out takes its built-in default, not "
        "the current version's), within the evidence-based bounds: BP limits at most 140/90, "
        "at least 120 minutes' monitoring, every absolute exclusion kept, the PCL-5 cutoff 31 to "
        "33, …"
    )


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": ErrorBody} for code in (401, 409)}


async def _audit(
    api: Services, clinician: Clinician, resource: Resource, outcome: ReadOutcome
) -> None:
    await record_read(
        api.pool, clinician, client_id=None, journey_id=None, resource=resource, outcome=outcome
    )


def unusable(error: registry.ProtocolError) -> ApiError:
    return ApiError(
        409,
        f"the clinic's protocol cannot be used ({error}): its clinical lead must publish it again",
    )


async def clinical_lead(clinician: CurrentClinician, api: Api) -> Clinician:
    """The caller, if the clinic's clinical lead; 403 (audited) before the body is looked at."""
    if clinician.role is not Role.CLINICAL_LEAD:
        await _audit(api, clinician, PUBLISHED, "forbidden")
        raise ApiError(403, "only the clinic's clinical lead may publish its protocol")
    return clinician


ClinicalLead = Annotated[Clinician, Depends(clinical_lead)]


@router.get(
    "/protocols/current",
    response_model=ProtocolVersion,
    summary="Your clinic's current protocol: its values and the version label journeys pin",
    responses=ERRORS,
)
async def current(clinician: CurrentClinician, api: Api) -> ProtocolVersion:
    try:
        version = await registry.current_protocol(api.pool, clinician.clinic_id)
    except registry.ProtocolError as error:
        await _audit(api, clinician, CURRENT, "unreadable")
        raise unusable(error) from None
    await _audit(api, clinician, CURRENT, "ok")
    return ProtocolVersion.of(version, version.label)


@router.get(
    "/protocols",
    response_model=list[ProtocolVersion],
    summary="Your clinic's protocol versions, newest first (the first is the current one)",
    responses=ERRORS,
)
async def versions(
    clinician: CurrentClinician,
    api: Api,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ProtocolVersion]:
    try:
        found = await registry.list_protocols(api.pool, clinician.clinic_id, limit)
    except registry.ProtocolError as error:
        await _audit(api, clinician, LISTED, "unreadable")
        raise unusable(error) from None
    await _audit(api, clinician, LISTED, "ok")
    return [ProtocolVersion.of(version, found[0].label) for version in found]


@router.post(
    "/protocols",
    status_code=201,
    response_model=ProtocolVersion,
    summary="Publish a new version of your clinic's protocol (its clinical lead only)",
    responses={
        **ERRORS,
        200: {
            "model": ProtocolVersion,
            "description": "The current version has this name and these values: it is answered, "
            "and nothing is published",
        },
        201: {"description": "Published: journeys started from now on pin this version"},
        403: {"model": ErrorBody},
    },
)
async def publish(
    body: PublishProtocol, lead: ClinicalLead, api: Api, response: Response
) -> ProtocolVersion:
    try:
        name = body.name or (await registry.current_protocol(api.pool, lead.clinic_id)).name
        published = await registry.publish_protocol(
            api.pool, lead.clinic_id, name, body.values, published_by=lead.clinician_id
        )
    except registry.ProtocolError as error:
        await _audit(api, lead, PUBLISHED, "unreadable")
        raise unusable(error) from None
    await _audit(api, lead, PUBLISHED, "ok")
    if not published.created:
        response.status_code = 200
    return ProtocolVersion.of(published.version, published.version.label)
