"""Psychotherapy notes, kept apart from the record, and erasure of a client's personal details.

A note is written by the client's therapist and read only by its author; the integration
decision carries its reference (`note_ref`), never its text. Erasure (ops, on the client's
request) empties the contact details and every note's text; the event log stays whole and
foldable. With payload keys, a note's text is sealed at rest (`privacy.fields`), bound to its
note; notes written before sealing are read as they are until `carepath keys reseal`.

Client ids are per clinic: notes carry their clinic, and erasure reaches the caller's clinic's
client only. A client the caller's clinic does not know (no contact details, no journey, no note)
is 404 and nothing is erased.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, ConfigDict, Field

from api.audit import ReadOutcome, record_read
from api.auth import CurrentClinician, require_ops
from api.context import Api
from api.errors import ApiError, log
from api.journeys import ERRORS, ClientId, visible_view
from domain import Role
from privacy.fields import SealedFieldError
from records.notes import NewNote, erase_client_records, note_row, note_text, store_note

router = APIRouter(tags=["notes"])

NoteRef = Annotated[str, Path(pattern=r"^n-[0-9a-f]{32}$", description="a note's reference")]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    text: str = Field(min_length=1, max_length=50_000)


class NoteCreated(BaseModel):
    note_ref: str
    created_at: datetime


class Note(BaseModel):
    note_ref: str
    journey_id: str
    created_at: datetime
    text: str


class Erasure(BaseModel):
    client_id: str
    contact_erased: bool
    notes_erased: int


@router.post(
    "/journeys/{client_id}/notes",
    status_code=status.HTTP_201_CREATED,
    response_model=NoteCreated,
    summary="Write a psychotherapy note (the client's therapist); returns its reference",
    responses=ERRORS,
)
async def write_note(
    client_id: ClientId, note: NoteIn, clinician: CurrentClinician, api: Api
) -> NoteCreated:
    if clinician.role is not Role.THERAPIST:
        raise ApiError(403, "only the client's therapist writes psychotherapy notes")
    view = await visible_view(api, clinician, client_id, "journey")
    note_ref = f"n-{uuid.uuid4().hex}"
    new = NewNote(
        note_ref=note_ref,
        journey_id=view.journey_id,
        client_id=client_id,
        author_id=clinician.clinician_id,
        clinic_id=view.clinic_id,
        text=note.text,
    )
    created = await store_note(api.pool, api.keys, new)
    return NoteCreated(note_ref=note_ref, created_at=created)


@router.get(
    "/notes/{note_ref}",
    response_model=Note,
    summary="Read a psychotherapy note: its author only",
    responses=ERRORS,
)
async def read_note(note_ref: NoteRef, clinician: CurrentClinician, api: Api) -> Note:
    # Another clinic's note is not there, and nothing of it goes to this audit.
    row = await note_row(api.pool, note_ref, clinician.clinic_id)
    mine = row is not None and row["author_id"] == clinician.clinician_id

    async def record(outcome: ReadOutcome) -> None:
        await record_read(
            api.pool,
            clinician,
            client_id=row["client_id"] if row else None,
            journey_id=row["journey_id"] if row else None,
            resource="note",
            outcome=outcome,
        )

    if row is None or not mine:
        await record("not_found")
        raise ApiError(404, "no such note of yours")  # others' notes are not acknowledged
    try:
        text = note_text(api.keys, row)
    except SealedFieldError as error:  # its words name the column and key id, never the text
        await record("unreadable")
        log.error("note does not open", note_ref=note_ref, reason=str(error))
        raise ApiError(500, "this note cannot be opened with the clinic's payload keys") from None
    if text is None:  # the schema allows no text only once erased
        await record("not_found")
        raise ApiError(410, "this note was erased at the client's request")
    await record("ok")
    return Note(
        note_ref=note_ref,
        journey_id=row["journey_id"],
        created_at=row["created_at"],
        text=text,
    )


@router.delete(
    "/clients/{client_id}",
    response_model=Erasure,
    summary="Erase a client of your clinic's contact details and note texts on request (ops); "
    "events stay",
    responses=ERRORS,
)
async def erase(client_id: ClientId, clinician: CurrentClinician, api: Api) -> Erasure:
    require_ops(clinician)
    clinic = clinician.clinic_id
    async with api.pool.acquire() as conn, conn.transaction():
        erased = await erase_client_records(conn, clinic, client_id)
    await record_read(
        api.pool,
        clinician,
        client_id=client_id,
        journey_id=None,
        resource="erasure",
        outcome="ok" if erased else "not_found",
    )
    if erased is None:  # another clinic's client is not known here either: the same answer
        raise ApiError(404, "no such client in your clinic")
    return Erasure(
        client_id=client_id,
        contact_erased=erased.contact_erased,
        notes_erased=erased.notes_erased,
    )
