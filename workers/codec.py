"""The codec server process (`carepath codec-server`): `api.codec`'s app under uvicorn."""

from __future__ import annotations

import asyncio

import uvicorn

from api.codec import create_codec_app
from config.settings import Settings
from database import create_pool
from privacy.codec import EncryptionCodec
from privacy.keys import load_key_ring
from workers.signals import stop_on_signals


async def serve_codec(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    ring = load_key_ring(settings.payload_keys, settings.payload_key_file)
    if ring is None:
        raise SystemExit("no payload keys: set CAREPATH_PAYLOAD_KEYS or CAREPATH_PAYLOAD_KEY_FILE")
    pool = await create_pool(settings)
    app = create_codec_app(settings, EncryptionCodec(ring), pool)
    config = uvicorn.Config(
        app, host=settings.codec_host, port=settings.codec_port, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    with stop_on_signals(stop) as stopping:
        serving = asyncio.create_task(server.serve())
        try:
            await stopping.wait()
        finally:
            server.should_exit = True
            await serving
            await pool.close()
