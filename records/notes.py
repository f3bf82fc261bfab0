"""Psychotherapy notes' storage: kept apart from the record, sealed at rest with the payload keys.

A note's text is sealed bound to its note, client and author (`privacy.fields`); notes written
before sealing are read as they are until `carepath keys reseal`. Erasure empties every note's
text of a client in one clinic; the rows stay, marked erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from database.pgtypes import Connection, Pool
from privacy.fields import bound_row, open_row, seal_row
from privacy.keys import KeyRing
from records.clients import Resealed, erase_client, reseal_table

TABLE = "psychotherapy_notes"
_INSERT = """
INSERT INTO psychotherapy_notes (note_id, journey_id, client_id, author_id, body, sealed_with,
                                 clinic_id)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at
"""
_READ = "SELECT * FROM psychotherapy_notes WHERE note_id = $1"
_ERASE = """
UPDATE psychotherapy_notes SET body = NULL, sealed_with = NULL, erased_at = now()
 WHERE clinic_id = $1 AND client_id = $2 AND erased_at IS NULL
"""
# Does the clinic know this client: contact details, a journey or a note?
_KNOWN = """
SELECT EXISTS (SELECT 1 FROM clients WHERE clinic_id = $1 AND client_id = $2)
    OR EXISTS (SELECT 1 FROM events
                WHERE event_type = 'journey_started' AND data->>'client_id' = $2
                  AND data->>'clinic_id' = $1)
    OR EXISTS (SELECT 1 FROM psychotherapy_notes WHERE clinic_id = $1 AND client_id = $2)
"""


@dataclass(frozen=True)
class NewNote:
    note_ref: str
    journey_id: str
    client_id: str
    author_id: str
    clinic_id: str
    text: str


async def store_note(db: Pool | Connection, keys: KeyRing | None, note: NewNote) -> datetime:
    """Store a note, sealed when there are keys; its creation time."""
    binding = bound_row(note.note_ref, note.client_id, note.author_id)
    sealed_with, stored = seal_row(keys, {"body": note.text}, table=TABLE, row=binding)
    created: datetime = await db.fetchval(
        _INSERT,
        note.note_ref,
        note.journey_id,
        note.client_id,
        note.author_id,
        stored["body"],
        sealed_with,
        note.clinic_id,
    )
    return created


async def note_row(db: Pool | Connection, note_ref: str, clinic_id: str) -> asyncpg.Record | None:
    """A note's row in the clinic; None for an unknown note or another clinic's."""
    row: asyncpg.Record | None = await db.fetchrow(_READ, note_ref)
    if row is None or row["clinic_id"] != clinic_id:
        return None
    return row


def note_text(keys: KeyRing | None, row: asyncpg.Record) -> str | None:
    """The note's text (None once erased); `SealedFieldError` when the keys cannot open it."""
    text: str | None = open_row(
        keys,
        {"body": row["body"]},
        sealed_with=row["sealed_with"],
        table=TABLE,
        row=bound_row(row["note_id"], row["client_id"], row["author_id"]),  # its author's only
    )["body"]
    return text


@dataclass(frozen=True)
class Erased:
    contact_erased: bool
    notes_erased: int


async def erase_client_records(conn: Connection, clinic_id: str, client_id: str) -> Erased | None:
    """Empty a client's contact details and note texts in one clinic, in the caller's
    transaction; None when the clinic does not know the client (nothing is changed)."""
    if not await conn.fetchval(_KNOWN, clinic_id, client_id):
        return None
    erased = await erase_client(conn, client_id, clinic_id=clinic_id)
    notes = await conn.execute(_ERASE, clinic_id, client_id)
    return Erased(contact_erased=erased is not None, notes_erased=int(notes.split()[-1]))


async def reseal_notes(db: Pool | Connection, keys: KeyRing, *, batch_size: int = 500) -> Resealed:
    """Seal plaintext note texts and move those sealed with older keys to the newest key."""
    return await reseal_table(
        db,
        keys,
        table=TABLE,
        key="note_id",
        columns=("body",),
        bound=("client_id", "author_id"),
        batch_size=batch_size,
    )
