"""The clinics' protocol registry (`protocols`): named, versioned, immutable, each version
identified by its content. The one home of this table's SQL: the current version, the versions,
publishing one.

Every read and change names the clinic: another clinic's protocols are not there. A version's
label is `<name>.<n>+<first 12 hex of its digest>` (`domain.protocol.version_label`); the
clinic's current version is its latest. A clinic that has published none gets the built-in
defaults (`ProtocolValues()`) published as its first version, by the engine, the first time its
protocol is asked for (`current_protocol`), so that every journey pins a version of the registry.
Publishing takes a lock per clinic: versions are numbered without gaps or races.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from database.pgtypes import Connection, Pool
from domain.protocol import (
    DEFAULT_NAME,
    Protocol,
    ProtocolValues,
    canonical_values,
    pinned,
    protocol_digest,
    version_label,
)
from domain.vocabulary import Role

SYSTEM_PUBLISHER = "system:defaults"  # who publishes the built-in defaults

# A lock per clinic, for this transaction: one publication at a time.
_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('carepath.protocols:' || $1, 0))"
_CURRENT = "SELECT * FROM protocols WHERE clinic_id = $1 ORDER BY seq DESC LIMIT 1"
_LIST = "SELECT * FROM protocols WHERE clinic_id = $1 ORDER BY seq DESC LIMIT $2"
_BY_LABEL = "SELECT * FROM protocols WHERE clinic_id = $1 AND label = $2"
_NEXT_NUMBER = """
SELECT coalesce(max(number), 0) + 1 FROM protocols WHERE clinic_id = $1 AND name = $2
"""
_INSERT = """
INSERT INTO protocols (clinic_id, name, number, digest, label, protocol, published_by,
                       publisher_role)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING *
"""


class ProtocolError(Exception):
    """A stored version whose values no longer match its digest (or cannot be read): it cannot
    be pinned, and a clinical lead must publish the protocol again."""


@dataclass(frozen=True)
class ProtocolVersion:
    clinic_id: str
    name: str
    number: int
    digest: str  # SHA-256 of the values' canonical JSON
    label: str  # `<name>.<n>+<first 12 hex of the digest>`: the version a journey records
    values: ProtocolValues
    published_at: datetime
    published_by: str
    publisher_role: str

    @property
    def protocol(self) -> Protocol:
        """The protocol a journey pins: these values under this label (checked to match)."""
        try:
            return pinned(self.values, self.label)
        except ValueError as error:
            raise ProtocolError(f"protocol {self.label}: {error}") from None

    @classmethod
    def of(cls, row: asyncpg.Record) -> ProtocolVersion:
        # The values as stored must be those the digest was taken of. (Read back, they may hold
        # more: a setting added since takes its default, and then no longer matches the label,
        # which `protocol` refuses to pin.)
        if protocol_digest(row["protocol"]) != row["digest"]:
            raise ProtocolError(f"protocol {row['label']}: its values do not match its digest")
        try:
            values = ProtocolValues.model_validate(row["protocol"])
        except ValueError:
            raise ProtocolError(f"protocol {row['label']}: its values cannot be read") from None
        return cls(
            clinic_id=row["clinic_id"],
            name=row["name"],
            number=row["number"],
            digest=row["digest"],
            label=row["label"],
            values=values,
            published_at=row["published_at"],
            published_by=row["published_by"],
            publisher_role=row["publisher_role"],
        )


@dataclass(frozen=True)
class Published:
    version: ProtocolVersion
    created: bool  # False: the same name and values as the current version, which is answered


async def _insert(
    conn: Connection,
    clinic_id: str,
    name: str,
    values: ProtocolValues,
    published_by: str,
    publisher_role: Role,
) -> ProtocolVersion:
    digest = protocol_digest(values)
    number: int = await conn.fetchval(_NEXT_NUMBER, clinic_id, name)
    label = version_label(name, number, digest)
    row = await conn.fetchrow(
        _INSERT,
        clinic_id,
        name,
        number,
        digest,
        label,
        canonical_values(values),
        published_by,
        publisher_role.value,
    )
    assert row is not None
    return ProtocolVersion.of(row)


async def publish_protocol(
    pool: Pool,
    clinic_id: str,
    name: str,
    values: ProtocolValues,
    *,
    published_by: str,
    publisher_role: Role = Role.CLINICAL_LEAD,
) -> Published:
    """Publish the values as the clinic's next version of `name`, now its current one. The same
    name and values as the current version answer it instead (`created` False). The values'
    bounds are the caller's to have checked (`domain.protocol.NewProtocolValues`)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_LOCK, clinic_id)
        row = await conn.fetchrow(_CURRENT, clinic_id)
        if row is not None and row["name"] == name and row["digest"] == protocol_digest(values):
            return Published(ProtocolVersion.of(row), created=False)
        version = await _insert(conn, clinic_id, name, values, published_by, publisher_role)
    return Published(version, created=True)


async def current_protocol(pool: Pool, clinic_id: str) -> ProtocolVersion:
    """The clinic's current version; the built-in defaults, published as its first version by
    the engine, when it has none."""
    row = await pool.fetchrow(_CURRENT, clinic_id)
    if row is not None:
        return ProtocolVersion.of(row)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_LOCK, clinic_id)
        row = await conn.fetchrow(_CURRENT, clinic_id)  # published meanwhile
        if row is not None:
            return ProtocolVersion.of(row)
        return await _insert(
            conn, clinic_id, DEFAULT_NAME, ProtocolValues(), SYSTEM_PUBLISHER, Role.SYSTEM
        )


async def list_protocols(pool: Pool, clinic_id: str, limit: int = 100) -> list[ProtocolVersion]:
    """The clinic's versions, newest first (the first is the current one)."""
    await current_protocol(pool, clinic_id)
    return [ProtocolVersion.of(row) for row in await pool.fetch(_LIST, clinic_id, limit)]


async def protocol_by_label(pool: Pool, clinic_id: str, label: str) -> ProtocolVersion | None:
    """One of the clinic's versions by its label; None if the clinic has no such version."""
    row = await pool.fetchrow(_BY_LABEL, clinic_id, label)
    return ProtocolVersion.of(row) if row is not None else None
