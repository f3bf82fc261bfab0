"""Clinicians who use the API, and their tokens: issued once, kept only as a hash, expiring,
revocable, rotated in one step.

Every change here, and every listing, is written to the access log (`resource` 'user_added',
'token_issued', 'tokens_revoked', 'tokens_rotated', 'users_listed'; `subject_id` the clinician
concerned; the clinic the clinician's) in the same transaction as the change: `carepath users`
talks to the database directly, so these functions audit themselves. The actor is
`cli:<operating-system user>` unless the caller names one; its role is 'admin'.
"""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime

import asyncpg

from config.settings import get_settings
from database.pgtypes import Connection, Pool
from domain import Role
from records.signin import end_sessions
from records.tokens import new_token, token_hash

ID_PREFIX = {
    Role.THERAPIST: "th",
    Role.PRESCRIBER: "rx",
    Role.OPS: "ops",
    Role.CLINICAL_LEAD: "lead",  # governs the clinic's protocol (`POST /protocols`)
}
ADMIN_ROLE = "admin"

_INSERT_CLINICIAN = """
INSERT INTO clinicians (clinician_id, role, clinic_id, display_name, email, phone)
VALUES ($1, $2, $3, $4, $5, $6)
"""
_INSERT_TOKEN = """
INSERT INTO api_tokens (token_hash, clinician_id, expires_at)
VALUES ($1, $2, now() + make_interval(days => $3))
RETURNING expires_at
"""
_CLINIC_OF = "SELECT clinic_id FROM clinicians WHERE clinician_id = $1"
_REVOKE = """
UPDATE api_tokens SET revoked_at = now()
 WHERE clinician_id = $1 AND revoked_at IS NULL
"""
_RECORD = """
INSERT INTO access_log (actor_id, actor_role, resource, outcome, subject_id, clinic_id)
VALUES ($1, $2, $3, 'ok', $4, $5)
"""
_LIST = """
SELECT c.clinician_id, c.role, c.clinic_id, c.display_name,
       t.created_at, t.expires_at, t.revoked_at, t.expires_at <= now() AS expired
  FROM clinicians c LEFT JOIN api_tokens t USING (clinician_id)
 WHERE $1::text IS NULL OR c.clinic_id = $1
 ORDER BY c.clinic_id, c.clinician_id, t.created_at
"""


@dataclass(frozen=True)
class TokenInfo:
    """A token as `users list` shows it: when, never what (no token, no hash)."""

    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    expired: bool

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expired else "active"


@dataclass(frozen=True)
class UserInfo:
    clinician_id: str
    role: str
    clinic_id: str
    display_name: str | None
    tokens: tuple[TokenInfo, ...]


def cli_actor() -> str:
    """Who runs `carepath users`: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli:unknown"


def _ttl(ttl_days: int | None) -> int:
    return get_settings().token_ttl_days if ttl_days is None else ttl_days


async def _record(
    conn: Connection, actor: str | None, resource: str, subject: str | None, clinic: str | None
) -> None:
    await conn.execute(_RECORD, actor or cli_actor(), ADMIN_ROLE, resource, subject, clinic)


def _role(role: str | Role) -> Role:
    try:
        chosen = Role(role)
    except ValueError:
        chosen = None
    if chosen is None or chosen not in ID_PREFIX:
        raise ValueError(
            "the role must be therapist, prescriber or ops, or clinical_lead (the protocol)"
        )
    return chosen


async def add_user(
    pool: Pool,
    name: str,
    role: str | Role,
    clinic_id: str = "default",
    email: str | None = None,
    phone: str | None = None,
    *,
    ttl_days: int | None = None,
    actor: str | None = None,
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
        await conn.execute(_INSERT_TOKEN, token_hash(token), clinician_id, _ttl(ttl_days))
        await _record(conn, actor, "user_added", clinician_id, clinic_id)
    return clinician_id, token


async def _clinic_of(conn: Connection, clinician_id: str) -> str:
    clinic: str | None = await conn.fetchval(_CLINIC_OF, clinician_id)
    if clinic is None:
        raise LookupError("no such clinician")
    return clinic


async def issue_token(
    pool: Pool, clinician_id: str, *, ttl_days: int | None = None, actor: str | None = None
) -> str:
    """Another token for an existing clinician (the old ones keep working until revoked)."""
    token = new_token()
    async with pool.acquire() as conn, conn.transaction():
        clinic = await _clinic_of(conn, clinician_id)
        await conn.execute(_INSERT_TOKEN, token_hash(token), clinician_id, _ttl(ttl_days))
        await _record(conn, actor, "token_issued", clinician_id, clinic)
    return token


async def revoke_tokens(pool: Pool, clinician_id: str, *, actor: str | None = None) -> int:
    """Revoke every token of the clinician, and end their web sessions; the number of tokens
    revoked."""
    async with pool.acquire() as conn, conn.transaction():
        clinic: str | None = await conn.fetchval(_CLINIC_OF, clinician_id)
        status = await conn.execute(_REVOKE, clinician_id)
        await end_sessions(conn, clinician_id, "tokens_revoked")
        await _record(conn, actor, "tokens_revoked", clinician_id, clinic)
    return int(status.split()[-1])


@dataclass(frozen=True)
class Rotated:
    token: str = field(repr=False)  # shown once
    revoked: int
    expires_at: datetime


async def rotate_token(
    pool: Pool, clinician_id: str, *, ttl_days: int | None = None, actor: str | None = None
) -> Rotated:
    """Revoke the clinician's tokens (and end their web sessions) and issue a new token, in one
    transaction."""
    token = new_token()
    async with pool.acquire() as conn, conn.transaction():
        clinic = await _clinic_of(conn, clinician_id)
        status = await conn.execute(_REVOKE, clinician_id)
        await end_sessions(conn, clinician_id, "tokens_revoked")
        expires_at: datetime = await conn.fetchval(
            _INSERT_TOKEN, token_hash(token), clinician_id, _ttl(ttl_days)
        )
        await _record(conn, actor, "tokens_rotated", clinician_id, clinic)
    return Rotated(token=token, revoked=int(status.split()[-1]), expires_at=expires_at)


async def list_users(
    pool: Pool, clinic_id: str | None = None, *, actor: str | None = None
) -> list[UserInfo]:
    """Clinicians (of one clinic, or all) with when their tokens were issued, expire, were
    revoked; never a token or its hash."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(_LIST, clinic_id)
        await _record(conn, actor, "users_listed", None, clinic_id)
    users: dict[str, UserInfo] = {}
    for row in rows:
        user = users.get(row["clinician_id"]) or UserInfo(
            clinician_id=row["clinician_id"],
            role=row["role"],
            clinic_id=row["clinic_id"],
            display_name=row["display_name"],
            tokens=(),
        )
        if row["created_at"] is not None:
            token = TokenInfo(
                created_at=row["created_at"],
                expires_at=row["expires_at"],
                revoked_at=row["revoked_at"],
                expired=bool(row["expired"]),
            )
            user = replace(user, tokens=(*user.tokens, token))
        users[row["clinician_id"]] = user
    return list(users.values())
