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

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import Services, services
from api.errors import ApiError
from api.guards import FailureThrottle
from records.tokens import Clinician, clinician_of_token

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ClinicianToken",
    description="A clinician's API token (`carepath users add`): `Authorization: Bearer <token>`",
)


def _unauthorized(detail: str, error: str | None = None) -> ApiError:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return ApiError(401, detail, headers={"WWW-Authenticate": challenge})


def throttled(retry_after: int) -> ApiError:
    return ApiError(
        429,
        f"too many failed sign-ins from your address: try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
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
