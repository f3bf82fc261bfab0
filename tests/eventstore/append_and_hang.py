"""Child process for the crash test: appends a batch, then hangs before the commit.

Usage: python -m tests.eventstore.append_and_hang DB_URL STREAM_ID EVENT_ID...
Prints its server backend's pid once the batch is inserted, then sleeps until killed.
"""

from __future__ import annotations

import asyncio
import sys
from uuid import UUID

from database import open_pool
from database.pgtypes import Connection
from eventstore import EventStore, NewEvent


def crash_probe_batch(event_ids: list[UUID]) -> list[NewEvent]:
    return [
        NewEvent(event_id=event_id, type="CrashProbe", data={"index": index})
        for index, event_id in enumerate(event_ids)
    ]


async def main(db_url: str, stream_id: str, event_ids: list[UUID]) -> None:
    pool = await open_pool(db_url, min_size=1, max_size=1)
    store = EventStore(pool, max_event_bytes=64 * 1024)

    async def hang(conn: Connection) -> None:
        print(conn.get_server_pid(), flush=True)
        await asyncio.sleep(3600)

    store._before_commit = hang
    await store.append(stream_id, crash_probe_batch(event_ids), expected_version=0)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], [UUID(arg) for arg in sys.argv[3:]]))
