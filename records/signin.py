"""Signing clinicians in to the web app: passwords and server-side sessions (issue 14, item 1).
The one home of the `clinician_passwords` and `web_sessions` tables' SQL.

- A password is kept only as an Argon2id hash (RFC 9106's low-memory profile), set by
  `carepath users set-password`; at least `MIN_PASSWORD_LENGTH` characters (NIST SP 800-63B
  asks for 8 at least and for no composition rules; a clinic's health data asks for more).
- Repeated failures lock the password: after `MAX_FAILURES` in a row it is refused, even when
  right, for `LOCKOUT`; a success resets the count. An unknown clinician is answered alike,
  after the same work (a dummy hash is verified), so a caller cannot tell which ids exist.
- A session is a random token kept only as its SHA-256, with its own CSRF token. It ends after
  `IDLE_TIMEOUT` without a request (HIPAA § 164.312(a)(2)(iii), automatic logoff), after
  `MAX_AGE` in any case, at sign-out, and for all of a clinician's sessions when the password is
  set again or the clinician's tokens are revoked. Ended sessions answer alike (None).

Clinic scoping: a session names its clinician, whose clinic is read with it, as for API tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

from database.pgtypes import Connection, Pool
from domain import Role
from records.tokens import Clinician

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(minutes=15)
MAX_AGE = timedelta(hours=12)
SESSION_PREFIX = "ws_"
MAX_SESSION_LENGTH = 200

_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)
# Verified for an unknown clinician, so that its answer takes as long as a known one's.
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))

SignInOutcome = Literal["ok", "wrong", "locked"]


class PasswordError(ValueError):
    """A password that may not be set: the reason in plain words."""


@dataclass(frozen=True)
class WebSession:
    """A signed-in clinician's session: the token goes in the cookie, the CSRF token in forms."""

    token: str
    csrf_token: str
    clinician: Clinician


_SET_PASSWORD = """
INSERT INTO clinician_passwords (clinician_id, password_hash, set_at, failures, locked_until)
VALUES ($1, $2, now(), 0, NULL)
ON CONFLICT (clinician_id) DO UPDATE
   SET password_hash = EXCLUDED.password_hash, set_at = now(), failures = 0, locked_until = NULL
"""
_PASSWORD_OF = """
SELECT p.password_hash, p.locked_until > now() AS locked, c.role, c.clinic_id
  FROM clinician_passwords p JOIN clinicians c USING (clinician_id)
 WHERE p.clinician_id = $1
"""
# A failure counts; the MAX_FAILURES-th locks the password for $3 and starts the count again.
_FAILED = """
UPDATE clinician_passwords
   SET failures = CASE WHEN failures + 1 >= $2 THEN 0 ELSE failures + 1 END,
       locked_until = CASE WHEN failures + 1 >= $2 THEN now() + $3::interval ELSE locked_until END
 WHERE clinician_id = $1
"""
_SUCCEEDED = "UPDATE clinician_passwords SET failures = 0 WHERE clinician_id = $1"
_REHASHED = "UPDATE clinician_passwords SET password_hash = $2 WHERE clinician_id = $1"
_KNOWN = "SELECT 1 FROM clinicians WHERE clinician_id = $1"

_OPEN = """
INSERT INTO web_sessions (session_hash, clinician_id, csrf_token, created_at, last_seen_at)
VALUES ($1, $2, $3, now(), now())
"""
# A live session is seen now (its idle clock starts again); an ended one is not touched.
_SEEN = """
UPDATE web_sessions s SET last_seen_at = now()
  FROM clinicians c
 WHERE s.session_hash = $1 AND c.clinician_id = s.clinician_id
   AND s.ended_at IS NULL
   AND s.last_seen_at > now() - $2::interval AND s.created_at > now() - $3::interval
RETURNING s.session_hash, s.csrf_token, c.clinician_id, c.role, c.clinic_id
"""
_END = """
UPDATE web_sessions SET ended_at = now(), ended_why = $2
 WHERE session_hash = $1 AND ended_at IS NULL
"""
_END_ALL = """
UPDATE web_sessions SET ended_at = now(), ended_why = $2
 WHERE clinician_id = $1 AND ended_at IS NULL
"""


def session_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_password(password: str) -> None:
    """Raise PasswordError when `password` may not be set."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise PasswordError("a password cannot be only spaces")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        raise PasswordError("a password cannot hold control characters")


async def set_password(pool: Pool, clinician_id: str, password: str) -> None:
    """Set a clinician's password (hashed with Argon2id); their web sessions end."""
    check_password(password)
    if await pool.fetchval(_KNOWN, clinician_id) is None:
        raise PasswordError(f"there is no clinician {clinician_id}")
    hashed = await asyncio.to_thread(_HASHER.hash, password)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(_SET_PASSWORD, clinician_id, hashed)
        await conn.execute(_END_ALL, clinician_id, "password_set")


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def sign_in(
    pool: Pool, clinician_id: str, password: str
) -> tuple[SignInOutcome, WebSession | None]:
    """Check the password and open a session: ("ok", session), or ("wrong" | "locked", None).
    An unknown clinician, or one without a password, is "wrong" after the same work."""
    if len(password) > MAX_PASSWORD_LENGTH or len(clinician_id) > 100:
        return "wrong", None
    row = await pool.fetchrow(_PASSWORD_OF, clinician_id)
    hashed = row["password_hash"] if row is not None else _DUMMY
    right = await asyncio.to_thread(_verify, hashed, password)
    if row is None:
        return "wrong", None
    if row["locked"]:
        return "locked", None
    if not right:
        await pool.execute(_FAILED, clinician_id, MAX_FAILURES, LOCKOUT)
        return "wrong", None
    await pool.execute(_SUCCEEDED, clinician_id)
    if _HASHER.check_needs_rehash(hashed):
        await pool.execute(_REHASHED, clinician_id, await asyncio.to_thread(_HASHER.hash, password))
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await pool.execute(_OPEN, session_hash(token), clinician_id, csrf)
    clinician = Clinician(
        clinician_id=clinician_id, role=Role(row["role"]), clinic_id=row["clinic_id"]
    )
    return "ok", WebSession(token=token, csrf_token=csrf, clinician=clinician)


async def session_of(pool: Pool, token: str) -> WebSession | None:
    """The live session of a cookie's token, seen now; None if unknown, ended, idle too long
    or too old."""
    if not token or len(token) > MAX_SESSION_LENGTH or not token.startswith(SESSION_PREFIX):
        return None
    digest = session_hash(token)
    row = await pool.fetchrow(_SEEN, digest, IDLE_TIMEOUT, MAX_AGE)
    if row is None or not hmac.compare_digest(row["session_hash"], digest):
        return None
    clinician = Clinician(
        clinician_id=row["clinician_id"], role=Role(row["role"]), clinic_id=row["clinic_id"]
    )
    return WebSession(token=token, csrf_token=row["csrf_token"], clinician=clinician)


def csrf_ok(session: WebSession, submitted: str | None) -> bool:
    """A form's CSRF token is its session's (compared in constant time)."""
    return submitted is not None and hmac.compare_digest(session.csrf_token, submitted)


async def sign_out(pool: Pool, token: str) -> None:
    await pool.execute(_END, session_hash(token), "signed_out")


async def end_sessions(db: Pool | Connection, clinician_id: str, why: str) -> int:
    """End every live session of a clinician (their tokens revoked); how many."""
    status = await db.execute(_END_ALL, clinician_id, why)
    return int(status.split()[-1])
