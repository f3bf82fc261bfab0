"""Clinicians' bearer tokens: 256 random bits, kept only as a SHA-256 hash (`api_tokens`).

The one home of the token lookup: the API and the codec server both ask `clinician_of_token`.
A token works until it is revoked or expires; either way it is answered alike (None).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from database.pgtypes import Pool
from domain import Actor, Role

TOKEN_PREFIX = "cp_"
MAX_TOKEN_LENGTH = 200

_LOOKUP = """
SELECT t.token_hash, t.revoked_at IS NULL AND t.expires_at > now() AS valid,
       c.clinician_id, c.role, c.clinic_id
  FROM api_tokens t JOIN clinicians c USING (clinician_id)
 WHERE t.token_hash = $1
"""


@dataclass(frozen=True)
class Clinician:
    """The caller: an opaque clinician id, a role and a clinic."""

    clinician_id: str
    role: Role
    clinic_id: str

    @property
    def actor(self) -> Actor:
        return Actor(id=self.clinician_id, role=self.role)

    @property
    def is_ops(self) -> bool:
        return self.role is Role.OPS


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def clinician_of_token(pool: Pool, token: str) -> Clinician | None:
    """The clinician of a token that works now; None if it is unknown, revoked or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    digest = token_hash(token)
    row = await pool.fetchrow(_LOOKUP, digest)
    if row is None or not hmac.compare_digest(row["token_hash"], digest) or not row["valid"]:
        return None
    return Clinician(
        clinician_id=row["clinician_id"], role=Role(row["role"]), clinic_id=row["clinic_id"]
    )
