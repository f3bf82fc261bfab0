"""Clients' contact details, kept out of the event log so that they can be erased.

Events refer to a client by ``client_id`` only. Erasing nulls the details and stamps
``erased_at``; the events stay as they are. Erasure is final: later upserts are refused,
so a retried activity cannot bring erased details back.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from eventstore.errors import ClientErasedError
from eventstore.pgtypes import Connection, Pool
from eventstore.types import OPAQUE_ID

_COLUMNS = "client_id, display_name, email, phone, created_at, erased_at"

_UPSERT_SQL = f"""
INSERT INTO clients AS c (client_id, display_name, email, phone)
VALUES ($1, $2, $3, $4)
ON CONFLICT (client_id) DO UPDATE
    SET display_name = excluded.display_name, email = excluded.email, phone = excluded.phone
    WHERE c.erased_at IS NULL
RETURNING {_COLUMNS}
"""

_ERASE_SQL = f"""
UPDATE clients
SET display_name = NULL, email = NULL, phone = NULL, erased_at = coalesce(erased_at, now())
WHERE client_id = $1
RETURNING {_COLUMNS}
"""


class Client(BaseModel):
    """A client's contact details (all None once erased). Kept out of ``repr``."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    client_id: str
    display_name: str | None = Field(repr=False)
    email: str | None = Field(repr=False)
    phone: str | None = Field(repr=False)
    created_at: datetime
    erased_at: datetime | None

    @property
    def erased(self) -> bool:
        return self.erased_at is not None


async def upsert_client(
    db: Pool | Connection,
    client_id: str,
    *,
    display_name: str | None,
    email: str | None,
    phone: str | None,
) -> Client:
    """Create the client or replace its contact details. Raises ``ClientErasedError``."""
    _check_client_id(client_id)
    row = await db.fetchrow(_UPSERT_SQL, client_id, display_name, email, phone)
    if row is None:
        raise ClientErasedError(client_id)
    return _to_client(row)


async def get_client(db: Pool | Connection, client_id: str) -> Client | None:
    _check_client_id(client_id)
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM clients WHERE client_id = $1", client_id)
    return None if row is None else _to_client(row)


async def erase_client(db: Pool | Connection, client_id: str) -> Client | None:
    """Null the client's contact details for good; None if there is no such client."""
    _check_client_id(client_id)
    row = await db.fetchrow(_ERASE_SQL, client_id)
    return None if row is None else _to_client(row)


def _check_client_id(client_id: str) -> None:
    if not isinstance(client_id, str) or OPAQUE_ID.fullmatch(client_id) is None:
        raise ValueError("a client id must be 1 to 200 characters from A-Z a-z 0-9 _ . : -")


def _to_client(row: asyncpg.Record) -> Client:
    return Client.model_validate(dict(row))
