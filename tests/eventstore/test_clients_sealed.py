"""Contact details sealed at rest: the table holds no plaintext, a value opens only in its own
row and column, legacy plaintext still reads, and resealing moves rows to the newest key."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest

from database.pgtypes import Pool
from privacy.fields import TamperedFieldError, UnknownFieldKeyError
from privacy.keys import KeyRing
from records.clients import Resealed, erase_client, get_client, reseal_clients, upsert_client

NAME, EMAIL, PHONE = "Wren Q. Example", "wren@example.org", "+15550101234"
K1 = KeyRing(keys={"k1": os.urandom(32)}, current="k1")
K1_K2 = KeyRing(keys={**K1.keys, "k2": os.urandom(32)}, current="k2")
K2 = KeyRing(keys={"k2": K1_K2.keys["k2"]}, current="k2")


async def raw(pool: Pool, client_id: str) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM clients WHERE client_id = $1", client_id)
    assert row is not None
    return dict(row)


def holds_plaintext(row: dict[str, Any]) -> bool:
    text = " ".join(str(v) for v in row.values()).lower()
    return any(word in text for word in ("wren", "example.org", "5550101234"))


async def add(pool: Pool, client_id: str, keys: KeyRing | None) -> None:
    await upsert_client(pool, client_id, display_name=NAME, email=EMAIL, phone=PHONE, keys=keys)


async def details(pool: Pool, client_id: str, keys: KeyRing | None) -> tuple[Any, ...]:
    client = await get_client(pool, client_id, keys=keys)
    assert client is not None
    return (client.display_name, client.email, client.phone)


async def test_sealed_details_are_not_in_the_table_and_open_with_the_keys(db_pool: Pool) -> None:
    created = await upsert_client(
        db_pool, "cl-1", display_name=NAME, email=EMAIL, phone=None, keys=K1
    )
    assert (created.display_name, created.email, created.phone) == (NAME, EMAIL, None)
    stored = await raw(db_pool, "cl-1")
    assert not holds_plaintext(stored)
    assert stored["sealed_with"] == "k1" and stored["phone"] is None
    assert stored["email"].startswith("f1.k1.")
    assert await details(db_pool, "cl-1", K1) == (NAME, EMAIL, None)
    assert EMAIL not in repr(await get_client(db_pool, "cl-1", keys=K1))
    with pytest.raises(UnknownFieldKeyError) as caught:
        await get_client(db_pool, "cl-1")  # sealed, and no keys to open it
    assert "wren" not in str(caught.value).lower()


async def test_a_value_moved_to_another_row_or_column_does_not_open(db_pool: Pool) -> None:
    await add(db_pool, "cl-a", K1)
    await add(db_pool, "cl-b", K1)
    email_of_a = (await raw(db_pool, "cl-a"))["email"]
    await db_pool.execute("UPDATE clients SET email = $1 WHERE client_id = 'cl-b'", email_of_a)
    with pytest.raises(TamperedFieldError):
        await get_client(db_pool, "cl-b", keys=K1)
    await db_pool.execute("UPDATE clients SET phone = $1 WHERE client_id = 'cl-a'", email_of_a)
    with pytest.raises(TamperedFieldError):
        await get_client(db_pool, "cl-a", keys=K1)


async def test_rotation_old_rows_open_then_reseal_moves_them_to_the_new_key(db_pool: Pool) -> None:
    await add(db_pool, "cl-1", K1)
    assert await details(db_pool, "cl-1", K1_K2) == (NAME, EMAIL, PHONE)

    assert await reseal_clients(db_pool, K1_K2) == Resealed(moved=1)

    stored = await raw(db_pool, "cl-1")
    assert stored["sealed_with"] == "k2" and not holds_plaintext(stored)
    assert await details(db_pool, "cl-1", K2) == (NAME, EMAIL, PHONE)
    with pytest.raises(UnknownFieldKeyError):
        await get_client(db_pool, "cl-1", keys=K1)
    assert await reseal_clients(db_pool, K2) == Resealed()


async def test_legacy_plaintext_is_read_then_sealed_by_reseal(db_pool: Pool) -> None:
    await add(db_pool, "cl-old", None)  # written before sealing
    await upsert_client(db_pool, "cl-none", display_name=None, email=None, phone=None, keys=K1)
    assert (await raw(db_pool, "cl-old"))["email"] == EMAIL
    assert await details(db_pool, "cl-old", K1) == (NAME, EMAIL, PHONE)
    assert await details(db_pool, "cl-old", None) == (NAME, EMAIL, PHONE)

    assert await reseal_clients(db_pool, K1) == Resealed(sealed=1)  # cl-none: nothing to seal

    stored = await raw(db_pool, "cl-old")
    assert stored["sealed_with"] == "k1" and not holds_plaintext(stored)
    assert await details(db_pool, "cl-old", K1) == (NAME, EMAIL, PHONE)
    assert await reseal_clients(db_pool, K1) == Resealed()


async def test_reseal_works_in_batches_and_is_idempotent(db_pool: Pool) -> None:
    for n in range(5):
        await add(db_pool, f"cl-p{n}", None)
    for n in range(4):
        await add(db_pool, f"cl-s{n}", K1)
    await add(db_pool, "cl-new", K1_K2)

    assert await reseal_clients(db_pool, K1_K2, batch_size=2) == Resealed(sealed=5, moved=4)
    assert await reseal_clients(db_pool, K1_K2, batch_size=2) == Resealed()
    for client_id in [*(f"cl-p{n}" for n in range(5)), *(f"cl-s{n}" for n in range(4))]:
        assert (await raw(db_pool, client_id))["sealed_with"] == "k2"
        assert await details(db_pool, client_id, K2) == (NAME, EMAIL, PHONE)


class ChangesAfterRead:
    """A pool that runs ``change`` right after reseal has read its batch."""

    def __init__(self, pool: Pool, change: Callable[[], Awaitable[None]]) -> None:
        self.pool, self.change = pool, change

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        rows = await self.pool.fetch(query, *args)
        if query.lstrip().startswith("SELECT") and rows:
            await self.change()
        return rows


async def test_rows_changed_or_erased_since_read_are_left_as_they_are(db_pool: Pool) -> None:
    for client_id in ("cl-1", "cl-2", "cl-3"):
        await add(db_pool, client_id, K1)

    async def change() -> None:
        await upsert_client(
            db_pool, "cl-1", display_name="Wren", email="new@example.org", phone=None, keys=K1
        )
        await erase_client(db_pool, "cl-2")

    racing = cast(Pool, ChangesAfterRead(db_pool, change))
    assert await reseal_clients(racing, K1_K2, batch_size=10) == Resealed(
        moved=1, changed=2, remaining={"k1": 1}
    )
    assert await details(db_pool, "cl-1", K1_K2) == ("Wren", "new@example.org", None)
    erased = await get_client(db_pool, "cl-2", keys=K1_K2)
    assert erased is not None and erased.erased and erased.email is None
    assert (await raw(db_pool, "cl-3"))["sealed_with"] == "k2"
    assert await reseal_clients(db_pool, K1_K2) == Resealed(moved=1)  # cl-1, left at k1


async def test_a_row_rewritten_on_the_old_key_after_reseal_passed_it_is_still_reported(
    db_pool: Pool,
) -> None:
    await add(db_pool, "cl-1", K1)
    await add(db_pool, "cl-2", K1)
    reads = 0

    async def old_process_writes() -> None:  # a replica not yet restarted on the new ring
        nonlocal reads
        reads += 1
        if reads == 2:  # cl-1 is done, cl-2 has just been read
            await add(db_pool, "cl-1", K1)

    racing = cast(Pool, ChangesAfterRead(db_pool, old_process_writes))
    result = await reseal_clients(racing, K1_K2, batch_size=1)
    assert (result.moved, result.changed, result.remaining) == (2, 0, {"k1": 1})  # k1 must stay


async def test_rows_that_do_not_open_are_counted_and_left_alone(db_pool: Pool) -> None:
    other = KeyRing(keys={"k9": os.urandom(32)}, current="k9")
    await add(db_pool, "cl-lost", other)
    await add(db_pool, "cl-ok", None)
    before = await raw(db_pool, "cl-lost")
    assert await reseal_clients(db_pool, K1) == Resealed(
        sealed=1, unreadable=1, remaining={"k9": 1}
    )
    assert await raw(db_pool, "cl-lost") == before


async def test_erasure_leaves_nothing_sealed(db_pool: Pool) -> None:
    await add(db_pool, "cl-1", K1)
    erased = await erase_client(db_pool, "cl-1")
    assert erased is not None and (erased.display_name, erased.email, erased.phone) == (
        None,
        None,
        None,
    )
    stored = await raw(db_pool, "cl-1")
    assert (stored["display_name"], stored["email"], stored["phone"]) == (None, None, None)
    assert stored["sealed_with"] is None
    assert await reseal_clients(db_pool, K1_K2) == Resealed()
