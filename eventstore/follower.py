"""Following the global log: woken by LISTEN/NOTIFY, polling so nothing is ever lost.

``follow_log`` runs a reader's ``catch_up`` (read everything after its checkpoint, as far as the
log goes: ``eventstore.log``) at once, then again whenever a notification comes and every
``poll_interval`` seconds anyway, until cancelled. The read, not the notification, decides what
is seen: a notification lost (a dropped connection, a crashed writer) or early (its event held
back by an older open transaction) delays an event by one poll at most, never loses it.

The listening connection is watched: when it dies (a restart, ``pg_terminate_backend``, a
network cut) no wake-up would ever come again, so its loss counts as a failure and a new
connection listens. A failure (of ``catch_up`` or of the connection) is reported to ``on_error``
and tried again after a pause: the first (``poll_interval``, at most a second) when the catch-up
had worked since the previous failure, else double the previous one, up to ``max_backoff``. So
a reader resumes on its own once the cause is gone. Cancelling stops it at once, whatever it was
doing, and gives the connection back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import NoReturn

import structlog

from database.pgtypes import Pool
from eventstore.queries import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

CatchUp = Callable[[], Awaitable[object]]
OnError = Callable[[Exception, float], None]  # the error, the pause before the next try


class ListenerLost(ConnectionError):
    """The connection listening for new events died: no more wake-ups would come on it."""


def _log_error(error: Exception, retry_in: float) -> None:
    log.error("eventstore.follow_failed", error=type(error).__name__, retry_in_s=retry_in)


async def follow_log(
    pool: Pool,
    catch_up: CatchUp,
    *,
    poll_interval: float = 1.0,
    max_backoff: float = 60.0,
    on_error: OnError = _log_error,
) -> NoReturn:
    """Run ``catch_up`` now, on every notification on ``NOTIFY_CHANNEL`` and every
    ``poll_interval`` seconds, until cancelled; holds one pool connection to listen."""
    if poll_interval <= 0 or max_backoff <= 0:
        raise ValueError("poll_interval and max_backoff must be positive")
    first = min(poll_interval, 1.0, max_backoff)
    pause = first
    while True:
        following = _Following(pool, catch_up, poll_interval)
        try:
            await following.run()
        except Exception as error:
            if following.caught_up:  # it worked since the last failure: a new outage
                pause = first
            on_error(error, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, max_backoff)


class _Following:
    """One listening connection's life: catch up, wait for a wake-up or the poll, again."""

    def __init__(self, pool: Pool, catch_up: CatchUp, poll_interval: float) -> None:
        self._pool = pool
        self._catch_up = catch_up
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._lost = False
        self.caught_up = False  # a catch-up succeeded on this connection's watch

    async def run(self) -> NoReturn:
        async with self._pool.acquire() as listener:
            listener.add_termination_listener(self._on_lost)
            await listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                while not self._lost:
                    # Cleared before reading: a notification during the read wakes the wait.
                    self._wake.clear()
                    await self._catch_up()
                    self.caught_up = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval)
                raise ListenerLost("the connection listening for new events was lost")
            finally:
                # On a dead connection these fail (its proxy is already detached), and on a
                # half-open one UNLISTEN may never answer: neither may hide or hold up a stop.
                with contextlib.suppress(Exception):
                    listener.remove_termination_listener(self._on_lost)
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        listener.remove_listener(NOTIFY_CHANNEL, self._on_notify), 2
                    )

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _on_lost(self, *_: object) -> None:
        self._lost = True
        self._wake.set()
