"""The codec server's app (`carepath codec-server`, served by `workers.codec`): lets the Temporal
UI show decrypted payloads to an authorized person, and records every decode.

Temporal's remote codec protocol: `POST /encode` and `POST /decode` with
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`. Only the UI's origin may call it
from a browser; outside dev an ops clinician's bearer token (or the `carepath_token` cookie, which
the UI sends with "include cross-origin credentials") is required: therapists and prescribers
work through the API, not the Temporal UI.

Each payload names its clinic (`privacy.codec`: stamped when it was encrypted, bound to the
ciphertext). `/decode` decrypts the caller's clinic's payloads only, and payloads written before
stamping only for the clinic "default" (the only clinic there was); any other payload (another
clinic's, or of no clinic: the deployment's schedules) is refused: it comes back as it came,
still encrypted. Every decode is written to `codec_access_log` with the caller's clinic and the
numbers shown and refused. `/encode` stamps the caller's clinic. In dev (one person's machine,
no token) the caller is ops of the clinic "default".
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from temporalio.api.common.v1 import Payload

from config.settings import Settings
from privacy.codec import EncryptionCodec, is_encrypted, stamp_of
from records.tokens import clinician_of_token

COOKIE = "carepath_token"
DEFAULT_CLINIC = "default"
_AUDIT = """
INSERT INTO codec_access_log (actor_id, actor_role, namespace, payloads, refused, clinic_id)
VALUES ($1, $2, $3, $4, $5, $6)
"""


@dataclass(frozen=True)
class Caller:
    actor_id: str
    role: str
    clinic_id: str


DEV = Caller("dev", "dev", DEFAULT_CLINIC)


def may_decode(caller: Caller, payload: Payload) -> bool:
    """Plaintext passes; an encrypted payload only if it is the caller's clinic's (unstamped,
    from before stamping: the clinic "default"'s)."""
    if not is_encrypted(payload):
        return True
    stamp = stamp_of(payload)
    return (stamp or DEFAULT_CLINIC) == caller.clinic_id


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _payloads(body: Any) -> list[Payload]:
    try:
        return [
            Payload(
                metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},
                data=base64.b64decode(p.get("data", "")),
            )
            for p in body["payloads"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise HTTPException(422, "expected {payloads: [{metadata, data}]} in base64") from None


def _json(payloads: list[Payload]) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def create_codec_app(settings: Settings, codec: EncryptionCodec, pool: asyncpg.Pool) -> FastAPI:
    app = FastAPI(title="Carepath codec server", docs_url=None, redoc_url=None)
    ui_origin = origin_of(settings.ui_base_url)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[ui_origin],
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=["Content-Type", "X-Namespace", "Authorization"],
    )

    async def caller(request: Request) -> Caller:
        origin = request.headers.get("origin")
        if origin is not None and origin != ui_origin:
            raise HTTPException(403, "this origin may not use the codec server")
        if settings.env == "dev":
            return DEV
        token = request.cookies.get(COOKIE)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if not token:
            raise HTTPException(401, "credentials are required", {"WWW-Authenticate": "Bearer"})
        clinician = await clinician_of_token(pool, token)  # unknown, revoked or expired: None
        if clinician is None:
            raise HTTPException(401, "the token is not valid", {"WWW-Authenticate": "Bearer"})
        return Caller(clinician.clinician_id, clinician.role.value, clinician.clinic_id)

    async def audit(request: Request, who: Caller, shown: int, refused: int) -> None:
        namespace = request.headers.get("x-namespace")
        await pool.execute(_AUDIT, who.actor_id, who.role, namespace, shown, refused, who.clinic_id)

    @app.post("/encode")
    async def encode(request: Request) -> dict[str, Any]:
        who = await caller(request)
        if who.role not in ("ops", "dev"):
            raise HTTPException(403, "only ops may use the codec server")
        payloads = _payloads(await request.json())
        return _json(await codec.for_clinic(who.clinic_id).encode(payloads))

    @app.post("/decode")
    async def decode(request: Request) -> dict[str, Any]:
        who = await caller(request)
        payloads = _payloads(await request.json())
        if who.role not in ("ops", "dev"):
            await audit(request, who, 0, len(payloads))
            raise HTTPException(403, "only ops may use the codec server")
        decoded: list[Payload] = []
        refused = 0
        for payload in payloads:
            if not may_decode(who, payload):  # comes back as it came: still encrypted
                decoded.append(payload)
                refused += 1
                continue
            try:
                decoded.append(codec.decrypt(payload))
            except ValueError as error:  # unknown key or tampered: say which, show nothing
                raise HTTPException(422, str(error)) from None
        await audit(request, who, len(payloads) - refused, refused)
        return _json(decoded)

    return app
