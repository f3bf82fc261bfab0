"""Stopping a long-running process: SIGTERM or SIGINT sets an event; in-flight work finishes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals(stop: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
    """The event that says stop. Given `stop`, the caller owns the process's signals and it is
    yielded as it is (`carepath dev` runs several servers under one); else SIGTERM/SIGINT set a
    new one while inside (from the main thread only: elsewhere only the caller can stop it)."""
    if stop is not None:
        yield stop
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for signum in STOP_SIGNALS:
        try:
            loop.add_signal_handler(signum, stop.set)
            handled.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        yield stop
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
