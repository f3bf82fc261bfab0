"""Clients' contact details, kept out of the event log so that they can be erased.

Client ids are per clinic: a row is keyed by ``(clinic_id, client_id)`` and every function
takes the clinic (``"default"`` unless told). Events refer to a client by ``client_id`` (their
journey names the clinic). Erasing nulls the details and stamps
``erased_at``; the events stay as they are. Erasure is final: later upserts are refused,
so a retried activity cannot bring erased details back.

With a key ring, the details are sealed at rest (``privacy.fields``); rows written before
sealing (``sealed_with`` NULL) are read as they are until ``carepath keys reseal`` seals them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from pydantic import BaseModel, ConfigDict, Field

from database.pgtypes import Connection, Pool
from eventstore.types import OPAQUE_ID
from privacy.fields import SealedFieldError, bound_row, open_row, seal_row
from privacy.keys import KeyRing

TABLE = "clients"
DETAILS = ("display_name", "email", "phone")
DEFAULT_CLINIC = "default"
_COLUMNS = (
    "clinic_id, client_id, row_key, display_name, email, phone, created_at, erased_at, sealed_with"
)

_UPSERT_SQL = f"""
INSERT INTO clients AS c (clinic_id, client_id, display_name, email, phone, sealed_with)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (clinic_id, client_id) DO UPDATE
    SET display_name = excluded.display_name, email = excluded.email, phone = excluded.phone,
        sealed_with = excluded.sealed_with
    WHERE c.erased_at IS NULL
RETURNING {_COLUMNS}
"""

_ERASE_SQL = f"""
UPDATE clients
SET display_name = NULL, email = NULL, phone = NULL, sealed_with = NULL,
    erased_at = coalesce(erased_at, now())
WHERE clinic_id = $1 AND client_id = $2
RETURNING {_COLUMNS}
"""


class ClientErasedError(Exception):
    """Contact details cannot be written for a client whose details were erased."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        super().__init__(f"client {client_id!r} was erased; its contact details cannot be set")


class Client(BaseModel):
    """A client's contact details (all None once erased). Kept out of ``repr``."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    client_id: str
    clinic_id: str = DEFAULT_CLINIC
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
    keys: KeyRing | None,
    clinic_id: str = DEFAULT_CLINIC,
) -> Client:
    """Create the clinic's client or replace its contact details, sealed with ``keys`` if given.

    Raises ``ClientErasedError``.
    """
    _check_ids(clinic_id, client_id)
    details = {"display_name": display_name, "email": email, "phone": phone}
    row_key = client_row_key(clinic_id, client_id)
    sealed_with, stored = seal_row(keys, details, table=TABLE, row=row_key)
    row = await db.fetchrow(
        _UPSERT_SQL, clinic_id, client_id, *(stored[name] for name in DETAILS), sealed_with
    )
    if row is None:
        raise ClientErasedError(client_id)
    return _to_client(row, keys)


async def get_client(
    db: Pool | Connection,
    client_id: str,
    *,
    keys: KeyRing | None = None,
    clinic_id: str = DEFAULT_CLINIC,
) -> Client | None:
    """The clinic's client, its details opened with ``keys``. Raises
    ``privacy.fields.SealedFieldError`` for details that do not open (tampered, or sealed with a
    key not in ``keys``)."""
    _check_ids(clinic_id, client_id)
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM clients WHERE clinic_id = $1 AND client_id = $2",
        clinic_id,
        client_id,
    )
    return None if row is None else _to_client(row, keys)


async def erase_client(
    db: Pool | Connection, client_id: str, *, clinic_id: str = DEFAULT_CLINIC
) -> Client | None:
    """Null the clinic's client's contact details for good; None if there is no such client."""
    _check_ids(clinic_id, client_id)
    row = await db.fetchrow(_ERASE_SQL, clinic_id, client_id)
    return None if row is None else _to_client(row, None)  # nothing sealed is left


def client_row_key(clinic_id: str, client_id: str) -> str:
    """What a client's sealed values are bound to (the column ``clients.row_key``): the client
    id in the clinic "default" (as before clinics were told apart), else ``<clinic>~<client>``."""
    return client_id if clinic_id == DEFAULT_CLINIC else f"{clinic_id}~{client_id}"


def _check_ids(clinic_id: str, client_id: str) -> None:
    if not isinstance(client_id, str) or OPAQUE_ID.fullmatch(client_id) is None:
        raise ValueError("a client id must be 1 to 200 characters from A-Z a-z 0-9 _ . : -")
    if not isinstance(clinic_id, str) or OPAQUE_ID.fullmatch(clinic_id) is None:
        raise ValueError("a clinic id must be 1 to 200 characters from A-Z a-z 0-9 _ . : -")


def _to_client(row: asyncpg.Record, keys: KeyRing | None) -> Client:
    details = open_row(
        keys,
        {name: row[name] for name in DETAILS},
        sealed_with=row["sealed_with"],
        table=TABLE,
        row=row["row_key"],
    )
    return Client.model_validate(
        {
            "client_id": row["client_id"],
            "clinic_id": row["clinic_id"],
            "created_at": row["created_at"],
            "erased_at": row["erased_at"],
            **details,
        }
    )


@dataclass(frozen=True)
class Resealed:
    """What resealing did to one table: counts only."""

    sealed: int = 0  # plaintext rows, now sealed with the newest key
    moved: int = 0  # rows sealed with an older key, now sealed with the newest
    changed: int = 0  # changed or erased while being resealed: left as they are (run again)
    unreadable: int = 0  # do not open with this key ring: left as they are
    # Rows still under another key (or "plaintext") at the end, by key id: none once every
    # process runs on the new key ring and nothing is unreadable; only then may a key go.
    remaining: dict[str, int] = dataclasses.field(default_factory=dict)


_IDENTIFIER = re.compile(r"[a-z_]{1,63}")


async def reseal_table(
    db: Pool | Connection,
    keys: KeyRing,
    *,
    table: str,
    key: str,
    columns: Sequence[str],
    bound: Sequence[str] = (),
    batch_size: int = 500,
) -> Resealed:
    """Seal ``table``'s plaintext rows and move rows sealed with older keys to the newest key.

    Reads ``batch_size`` rows at a time in ``key`` order and writes each batch back in one
    statement; a row is written only if it is unchanged since it was read (and not erased).
    Values are bound to ``bound_row(key, *bound)``. The table has ``erased_at`` and
    ``sealed_with`` columns. What is left under another key (or plaintext) afterwards is
    ``remaining``: rows written meanwhile by a process on an older key ring, or unreadable.
    """
    if batch_size < 1:
        raise ValueError("the batch size must be at least 1")
    for name in (table, key, *columns, *bound):
        if _IDENTIFIER.fullmatch(name) is None:
            raise ValueError(f"not a column or table name: {name!r}")
    any_value = " OR ".join(f"{c} IS NOT NULL" for c in columns)
    read = f"""
        SELECT {key} AS row_id, sealed_with, {", ".join([*columns, *bound])} FROM {table}
        WHERE erased_at IS NULL AND sealed_with IS DISTINCT FROM $1 AND ({any_value})
          AND {key} > $2
        ORDER BY {key} LIMIT $3
    """
    arrays = ", ".join(f"${n}::text[]" for n in range(2, 4 + 2 * len(columns)))
    names = ", ".join(f"old_{c}, new_{c}" for c in columns)
    write = f"""
        UPDATE {table} AS t SET {", ".join(f"{c} = n.new_{c}" for c in columns)},
            sealed_with = $1
        FROM unnest({arrays}) AS n(row_id, old_sealed_with, {names})
        WHERE t.{key} = n.row_id AND t.erased_at IS NULL
          AND t.sealed_with IS NOT DISTINCT FROM n.old_sealed_with
          AND {" AND ".join(f"t.{c} IS NOT DISTINCT FROM n.old_{c}" for c in columns)}
        RETURNING n.old_sealed_with
    """
    remaining = f"""
        SELECT coalesce(sealed_with, 'plaintext') AS under, count(*) AS n FROM {table}
        WHERE erased_at IS NULL AND sealed_with IS DISTINCT FROM $1 AND ({any_value})
        GROUP BY 1
    """
    counts = Resealed()
    after = ""
    while True:
        rows = await db.fetch(read, keys.current, after, batch_size)
        if not rows:
            break
        after = rows[-1]["row_id"]
        todo: list[tuple[asyncpg.Record, dict[str, str | None]]] = []
        unreadable = 0
        for row in rows:
            values = {c: row[c] for c in columns}
            binding = bound_row(row["row_id"], *(row[b] for b in bound))
            try:
                opened = open_row(
                    keys, values, sealed_with=row["sealed_with"], table=table, row=binding
                )
            except SealedFieldError:
                unreadable += 1
                continue
            todo.append((row, seal_row(keys, opened, table=table, row=binding)[1]))
        arguments: list[list[str | None]] = [
            [row["row_id"] for row, _ in todo],
            [row["sealed_with"] for row, _ in todo],
        ]
        for c in columns:
            arguments += [[row[c] for row, _ in todo], [new[c] for _, new in todo]]
        written = await db.fetch(write, keys.current, *arguments) if todo else []
        sealed = sum(1 for w in written if w["old_sealed_with"] is None)
        counts = Resealed(
            sealed=counts.sealed + sealed,
            moved=counts.moved + len(written) - sealed,
            changed=counts.changed + len(todo) - len(written),
            unreadable=counts.unreadable + unreadable,
        )
        if len(rows) < batch_size:
            break
    left = {r["under"]: r["n"] for r in await db.fetch(remaining, keys.current)}
    return dataclasses.replace(counts, remaining=left)


async def reseal_clients(
    db: Pool | Connection, keys: KeyRing, *, batch_size: int = 500
) -> Resealed:
    """``reseal_table`` for the clients' contact details (bound to, and paged by, ``row_key``:
    one string per row across clinics)."""
    return await reseal_table(
        db, keys, table=TABLE, key="row_key", columns=DETAILS, batch_size=batch_size
    )
