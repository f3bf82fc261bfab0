"""Contact details per clinic: one client id in two clinics is two rows, each sealed for its own
row (`row_key`), erased and resealed apart."""

from __future__ import annotations

import os

import pytest

from database.pgtypes import Pool
from privacy.fields import TamperedFieldError
from privacy.keys import KeyRing
from records.clients import (
    Resealed,
    client_row_key,
    erase_client,
    get_client,
    reseal_clients,
    upsert_client,
)

K1 = KeyRing(keys={"k1": os.urandom(32)}, current="k1")
K1_K2 = KeyRing(keys={**K1.keys, "k2": os.urandom(32)}, current="k2")
K2 = KeyRing(keys={"k2": K1_K2.keys["k2"]}, current="k2")
CLIENT = "cl-shared"
DETAILS = {
    "default": ("Ada Default", "ada@default.example"),
    "other": ("Ivo Other", "ivo@other.example"),
}


async def _add(pool: Pool, clinic: str, keys: KeyRing | None) -> None:
    name, email = DETAILS[clinic]
    await upsert_client(
        pool, CLIENT, display_name=name, email=email, phone=None, keys=keys, clinic_id=clinic
    )


async def _opened(pool: Pool, clinic: str, keys: KeyRing) -> tuple[str | None, str | None]:
    client = await get_client(pool, CLIENT, keys=keys, clinic_id=clinic)
    assert client is not None and client.clinic_id == clinic
    return client.display_name, client.email


async def test_the_row_key_in_the_database_is_the_one_values_are_sealed_for(db_pool: Pool) -> None:
    for clinic in DETAILS:
        await _add(db_pool, clinic, K1)
    rows = await db_pool.fetch("SELECT clinic_id, client_id, row_key FROM clients")
    assert {r["row_key"] for r in rows} == {
        client_row_key(r["clinic_id"], r["client_id"]) for r in rows
    }
    assert client_row_key("default", CLIENT) == CLIENT  # as before clinics were told apart
    assert client_row_key("other", CLIENT) == f"other~{CLIENT}"


async def test_one_client_id_in_two_clinics_is_two_clients(db_pool: Pool) -> None:
    for clinic in DETAILS:
        await _add(db_pool, clinic, K1)
    for clinic, expected in DETAILS.items():
        assert await _opened(db_pool, clinic, K1) == expected
    assert await get_client(db_pool, CLIENT, keys=K1, clinic_id="nowhere") is None

    await erase_client(db_pool, CLIENT, clinic_id="other")
    other = await get_client(db_pool, CLIENT, keys=K1, clinic_id="other")
    assert other is not None and other.erased and other.email is None
    assert await _opened(db_pool, "default", K1) == DETAILS["default"]


async def test_a_value_copied_to_another_clinics_row_does_not_open(db_pool: Pool) -> None:
    for clinic in DETAILS:
        await _add(db_pool, clinic, K1)
    await db_pool.execute(
        "UPDATE clients SET email = (SELECT email FROM clients WHERE clinic_id = 'default')"
        " WHERE clinic_id = 'other'"
    )
    with pytest.raises(TamperedFieldError):
        await get_client(db_pool, CLIENT, keys=K1, clinic_id="other")


async def test_resealing_moves_each_clinics_row_apart(db_pool: Pool) -> None:
    for clinic in DETAILS:
        await _add(db_pool, clinic, K1)
    assert await reseal_clients(db_pool, K1_K2, batch_size=1) == Resealed(moved=2)
    for clinic, expected in DETAILS.items():
        assert await _opened(db_pool, clinic, K2) == expected
    assert await reseal_clients(db_pool, K2) == Resealed()
