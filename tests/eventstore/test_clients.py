"""Contact details: kept apart from the log, erasable without touching events."""

from __future__ import annotations

import pytest

from database.pgtypes import Pool
from eventstore import EventStore
from records.clients import ClientErasedError, erase_client, get_client, upsert_client
from tests.eventstore.helpers import new_event, stream_id


async def test_upsert_then_get(db_pool: Pool) -> None:
    created = await upsert_client(
        db_pool,
        "client-1",
        display_name="Ada Lovelace",
        email="ada@example.org",
        phone=None,
        keys=None,
    )
    updated = await upsert_client(
        db_pool,
        "client-1",
        display_name="Ada L",
        email="ada@example.org",
        phone="+4400",
        keys=None,
    )
    fetched = await get_client(db_pool, "client-1")

    assert fetched == updated
    assert (updated.display_name, updated.email, updated.phone) == (
        "Ada L",
        "ada@example.org",
        "+4400",
    )
    assert updated.created_at == created.created_at
    assert not updated.erased
    assert "ada@example.org" not in repr(updated)
    assert await get_client(db_pool, "nobody") is None


async def test_erasing_a_client_keeps_its_events(db_pool: Pool, event_store: EventStore) -> None:
    await upsert_client(
        db_pool, "client-2", display_name="Bo", email="bo@example.org", phone="1", keys=None
    )
    stream = stream_id()
    await event_store.append(
        stream,
        [new_event("ReferralReceived", {"client_id": "client-2"}), new_event()],
        expected_version=0,
    )
    before = await event_store.read_stream(stream)

    erased = await erase_client(db_pool, "client-2")

    assert erased is not None
    assert erased.erased
    assert (erased.display_name, erased.email, erased.phone) == (None, None, None)
    assert await get_client(db_pool, "client-2") == erased
    assert await event_store.read_stream(stream) == before


async def test_erasure_is_final_and_idempotent(db_pool: Pool) -> None:
    await upsert_client(db_pool, "client-3", display_name="Cy", email=None, phone="2", keys=None)
    first = await erase_client(db_pool, "client-3")
    again = await erase_client(db_pool, "client-3")
    assert first is not None and again is not None
    assert again.erased_at == first.erased_at

    with pytest.raises(ClientErasedError):
        await upsert_client(
            db_pool, "client-3", display_name="Cy", email=None, phone="2", keys=None
        )
    after = await get_client(db_pool, "client-3")
    assert after is not None and after.phone is None
    assert await erase_client(db_pool, "nobody") is None


async def test_client_ids_are_opaque(db_pool: Pool) -> None:
    with pytest.raises(ValueError, match="client id"):
        await upsert_client(
            db_pool, "Ada Lovelace", display_name=None, email=None, phone=None, keys=None
        )
