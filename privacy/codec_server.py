"""The codec server (`carepath codec-server`): lets the Temporal UI show decrypted payloads to
an authorized person, and records every decode.

Temporal's remote codec protocol: `POST /encode` and `POST /decode` with
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}`. Only the UI's origin may call it
from a browser; outside dev a clinician's bearer token (or the `carepath_token` cookie, which the
UI sends with "include cross-origin credentials") is required.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import signal
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from temporalio.api.common.v1 import Payload

from api.auth import token_hash
from config.settings import Settings
from privacy.codec import EncryptionCodec

COOKIE = "carepath_token"
_LOOKUP = """
SELECT t.token_hash, t.revoked_at, c.clinician_id, c.role
  FROM api_tokens t JOIN clinicians c USING (clinician_id)
 WHERE t.token_hash = $1
"""
_AUDIT = """
INSERT INTO codec_access_log (actor_id, actor_role, namespace, payloads) VALUES ($1, $2, $3, $4)
"""


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

    async def caller(request: Request) -> tuple[str, str]:
        origin = request.headers.get("origin")
        if origin is not None and origin != ui_origin:
            raise HTTPException(403, "this origin may not use the codec server")
        if settings.env == "dev":
            return "dev", "dev"
        token = request.cookies.get(COOKIE)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        if not token:
            raise HTTPException(401, "credentials are required", {"WWW-Authenticate": "Bearer"})
        digest = token_hash(token)
        row = await pool.fetchrow(_LOOKUP, digest)
        if (
            row is None
            or row["revoked_at"] is not None
            or not hmac.compare_digest(row["token_hash"], digest)
        ):
            raise HTTPException(401, "the token is not valid", {"WWW-Authenticate": "Bearer"})
        return row["clinician_id"], row["role"]

    @app.post("/encode")
    async def encode(request: Request) -> dict[str, Any]:
        await caller(request)
        return _json(await codec.encode(_payloads(await request.json())))

    @app.post("/decode")
    async def decode(request: Request) -> dict[str, Any]:
        actor_id, role = await caller(request)
        payloads = _payloads(await request.json())
        try:
            decoded = await codec.decode(payloads)
        except ValueError as error:  # unknown key or tampered: say which, show nothing
            raise HTTPException(422, str(error)) from None
        await pool.execute(
            _AUDIT, actor_id, role, request.headers.get("x-namespace"), len(payloads)
        )
        return _json(decoded)

    return app


async def serve_codec(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    import uvicorn

    from eventstore import create_pool
    from privacy.keys import load_key_ring

    ring = load_key_ring(settings.payload_keys, settings.payload_key_file)
    if ring is None:
        raise SystemExit("no payload keys: set CAREPATH_PAYLOAD_KEYS or CAREPATH_PAYLOAD_KEY_FILE")
    pool = await create_pool(settings)
    app = create_codec_app(settings, EncryptionCodec(ring), pool)
    config = uvicorn.Config(
        app, host=settings.codec_host, port=settings.codec_port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    own_stop = stop is None
    stop = stop or asyncio.Event()
    if own_stop:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(server.serve())
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        await serving
        await pool.close()
