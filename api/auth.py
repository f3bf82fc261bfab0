"""Bearer tokens: one per clinician, stored as a SHA-256 hash, checked in constant time.

A token is 256 random bits; only its hash is kept (`api_tokens`), so a copy of the database
does not yield working tokens. The clinician behind a token is the actor of every decision.
A token works until it is revoked or expires (`expires_at`, `CAREPATH_TOKEN_TTL_DAYS` after it
was issued); either way it answers 401 alike. Failed sign-ins are counted per client address
(`api.guards.FailureThrottle`): past `CAREPATH_AUTH_FAILURE_LIMIT` within
`CAREPATH_AUTH_FAILURE_WINDOW` seconds, that address is answered 429 with Retry-After, whatever
token it sends, until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import Services, services
from api.errors import ApiError
from api.guards import FailureThrottle
from domain import Actor, Role
from eventstore.pgtypes import Pool

TOKEN_PREFIX = "cp_"
MAX_TOKEN_LENGTH = 200

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ClinicianToken",
    description="A clinician's API token (`carepath users add`): `Authorization: Bearer <token>`",
)

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


def _unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


def throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"too many failed sign-ins from your address: try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
    )


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


def source_of(request: Request) -> str:
    """Where the request comes from, for the sign-in throttle: the client's address."""
    return request.client.host if request.client else "unknown"


async def current_clinician(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api: Annotated[Services, Depends(services)],
) -> Clinician:
    """The clinician whose token came with the request; 401 otherwise, 429 while throttled."""
    if credentials is None or not credentials.credentials:
        raise _unauthorized("a bearer token is required")
    throttle: FailureThrottle | None = getattr(request.app.state, "auth_throttle", None)
    source = source_of(request)
    if throttle is not None and (wait := throttle.retry_after(source)) is not None:
        raise throttled(wait)
    clinician = await clinician_of_token(api.pool, credentials.credentials)
    if clinician is None:
        if throttle is not None:
            throttle.failed(source)
        raise _unauthorized("the token is not valid", "invalid_token")
    return clinician


CurrentClinician = Annotated[Clinician, Depends(current_clinician)]


def require_ops(clinician: Clinician) -> None:
    if not clinician.is_ops:
        raise ApiError(403, "only ops may do this")
