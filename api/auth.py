"""Bearer tokens: one per clinician, stored as a SHA-256 hash, checked in constant time.

A token is 256 random bits; only its hash is kept (`api_tokens`), so a copy of the database
does not yield working tokens. The clinician behind a token is the actor of every decision.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import Services, services
from api.errors import ApiError
from domain import Actor, Role

TOKEN_PREFIX = "cp_"
MAX_TOKEN_LENGTH = 200

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ClinicianToken",
    description="A clinician's API token (`carepath users add`): `Authorization: Bearer <token>`",
)

_LOOKUP = """
SELECT t.token_hash, t.revoked_at, c.clinician_id, c.role, c.clinic_id
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


def _unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


async def current_clinician(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api: Annotated[Services, Depends(services)],
) -> Clinician:
    """The clinician whose token came with the request; 401 otherwise."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    token = credentials.credentials
    if len(token) > MAX_TOKEN_LENGTH:
        raise _unauthorized("the token is not valid", "invalid_token")
    digest = token_hash(token)
    row = await api.pool.fetchrow(_LOOKUP, digest)
    if (
        row is None
        or not hmac.compare_digest(row["token_hash"], digest)
        or row["revoked_at"] is not None
    ):
        raise _unauthorized("the token is not valid", "invalid_token")
    return Clinician(
        clinician_id=row["clinician_id"], role=Role(row["role"]), clinic_id=row["clinic_id"]
    )


CurrentClinician = Annotated[Clinician, Depends(current_clinician)]


def require_ops(clinician: Clinician) -> None:
    if not clinician.is_ops:
        raise ApiError(403, "only ops may do this")
