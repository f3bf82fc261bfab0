"""A payload key id names one key for good; a refused key ring pins nothing."""

from __future__ import annotations

import os

import pytest

from database.keychecks import KeyMismatchError, check_key_ring
from database.pgtypes import Pool
from privacy.keys import KeyRing

K1 = os.urandom(32)


async def pinned(pool: Pool) -> list[str]:
    return [r["key_id"] for r in await pool.fetch("SELECT key_id FROM payload_key_checks")]


async def test_the_first_key_under_an_id_is_kept_and_another_is_refused(db_pool: Pool) -> None:
    await check_key_ring(db_pool, KeyRing(keys={"k1": K1}, current="k1"))
    await check_key_ring(db_pool, KeyRing(keys={"k1": K1}, current="k1"))  # the same: fine

    imposter = KeyRing(keys={"k1": os.urandom(32), "k2": os.urandom(32)}, current="k2")
    with pytest.raises(KeyMismatchError, match="'k1'") as refused:
        await check_key_ring(db_pool, imposter)

    assert await pinned(db_pool) == ["k1"]  # the refused ring's new k2 was not pinned
    assert imposter.keys["k1"].hex() not in str(refused.value)
    k2 = KeyRing(keys={"k1": K1, "k2": os.urandom(32)}, current="k2")
    await check_key_ring(db_pool, k2)  # so the right k2 still can be
    assert sorted(await pinned(db_pool)) == ["k1", "k2"]


async def test_an_old_id_that_is_not_a_proper_id_is_neither_pinned_nor_repeated(
    db_pool: Pool,
) -> None:
    odd = "a key? 2026.11"
    await check_key_ring(db_pool, KeyRing(keys={odd: os.urandom(32), "k2": K1}, current="k2"))
    assert await pinned(db_pool) == ["k2"]
