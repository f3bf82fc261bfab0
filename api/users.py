"""Clinicians who use the API, and their tokens: issued once, kept only as a hash, revocable."""

from __future__ import annotations

import secrets

import asyncpg

from api.auth import new_token, token_hash
from domain import Role
from eventstore.pgtypes import Pool

ID_PREFIX = {Role.THERAPIST: "th", Role.PRESCRIBER: "rx", Role.OPS: "ops"}

_INSERT_CLINICIAN = """
INSERT INTO clinicians (clinician_id, role, clinic_id, display_name, email, phone)
VALUES ($1, $2, $3, $4, $5, $6)
"""
_INSERT_TOKEN = "INSERT INTO api_tokens (token_hash, clinician_id) VALUES ($1, $2)"
_REVOKE = """
UPDATE api_tokens SET revoked_at = now()
 WHERE clinician_id = $1 AND revoked_at IS NULL
"""


def _role(role: str | Role) -> Role:
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen is None or chosen not in ID_PREFIX:
        raise ValueError("the role must be therapist, prescriber or ops")
    return chosen


async def add_user(
    pool: Pool,
    name: str,
    role: str | Role,
    clinic_id: str = "default",
    email: str | None = None,
    phone: str | None = None,
) -> tuple[str, str]:
    """Register a clinician and issue a token: (clinician_id, token). The token is shown once."""
    chosen = _role(role)
    token = new_token()
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(5):
            clinician_id = f"{ID_PREFIX[chosen]}-{secrets.token_hex(4)}"
            try:
                async with conn.transaction():
                    await conn.execute(
                        _INSERT_CLINICIAN, clinician_id, chosen.value, clinic_id, name, email, phone
                    )
            except asyncpg.UniqueViolationError:
                continue
            break
        else:  # pragma: no cover - 2^32 ids per role
            raise RuntimeError("could not find a free clinician id")
        await conn.execute(_INSERT_TOKEN, token_hash(token), clinician_id)
    return clinician_id, token


async def issue_token(pool: Pool, clinician_id: str) -> str:
    """Another token for an existing clinician (the old ones keep working until revoked)."""
    token = new_token()
    try:
        await pool.execute(_INSERT_TOKEN, token_hash(token), clinician_id)
    except asyncpg.ForeignKeyViolationError:
        raise LookupError("no such clinician") from None
    return token


async def revoke_tokens(pool: Pool, clinician_id: str) -> int:
    """Revoke every token of the clinician; the number revoked."""
    status = await pool.execute(_REVOKE, clinician_id)
    return int(status.split()[-1])
