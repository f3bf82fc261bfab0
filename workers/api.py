"""The API process: `serve_api(settings)` runs uvicorn until SIGTERM/SIGINT (or `stop`).

It opens the pool (migrating the schema), connects to Temporal, and serves `create_app` on
`settings.api_host:api_port`; the app's lifespan follows the event log for the read models when
`settings.api_runs_projections`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator

import structlog
import uvicorn

from api.app import create_app
from config.logs import configure_logging
from config.settings import Settings, get_settings
from database import create_pool
from workers.signals import stop_on_signals
from workers.temporal import connect

# Resolved at each use, so that it follows `configure_logging` (JSON, PHI dropped).
log = structlog.stdlib.get_logger("carepath.api")


class HideSurveyLinks(logging.Filter):
    """Access log lines show `/surveys/…` and `/s/…`: a client's link is a credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SURVEY_LINK.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _SURVEY_LINK.sub(r"\1…", record.msg)
        return True


_SURVEY_LINK = re.compile(r"(/surveys/|/s/)[^\s?\"/]+")
logging.getLogger("uvicorn.access").addFilter(HideSurveyLinks())


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve_api` decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_api(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Serve the API until `stop` is set, or, without `stop`, until SIGTERM/SIGINT.

    A caller that passes `stop` owns the process's signals (`carepath dev` does); in-flight
    requests finish before this returns.
    """
    pool = await create_pool(settings)
    try:
        temporal = await connect(settings)
        app = create_app(settings, temporal=temporal, pool=pool)
        config = uvicorn.Config(
            app,
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=10,
            server_header=False,  # no `Server: uvicorn`: name nothing an attacker can look up
        )
        server = _Server(config)
        with stop_on_signals(stop) as stop_event:
            serving = asyncio.create_task(server.serve())
            stopping = asyncio.create_task(stop_event.wait())
            try:
                await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # also when this task is cancelled: let uvicorn finish what is in flight
                stopping.cancel()
                if not serving.done():
                    log.info("api stopping")
                    server.should_exit = True
                await serving
        if not server.started:
            where = f"{settings.api_host}:{settings.api_port}"
            raise RuntimeError(f"the API could not listen on {where}")
        log.info("api stopped")
    finally:
        await pool.close()


def main() -> None:
    settings = get_settings()
    configure_logging(settings, "api")
    asyncio.run(serve_api(settings))
