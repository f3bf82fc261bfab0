"""`carepath keys reseal`, run as a real process: legacy plaintext gets sealed, rows sealed with
an older key move to the newest, a re-run does nothing, and it prints counts only."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from database.pgtypes import Pool
from privacy.fields import bound_row, open_row, seal_row
from privacy.keys import KeyRing, generate_key_file, parse_keys, read_key_file
from records.clients import get_client, upsert_client

ROOT = Path(__file__).parents[2]
NAME, EMAIL, PHONE = "Wren Q. Example", "wren@example.org", "+15550101234"
NOTE = "Spoke about the lake house and her brother."
K1 = KeyRing(keys={"k1": os.urandom(32)}, current="k1")
K1_K2 = KeyRing(keys={**K1.keys, "k2": os.urandom(32)}, current="k2")
K2 = KeyRing(keys={"k2": K1_K2.keys["k2"]}, current="k2")
SECRETS = ("wren", "example.org", "5550101234", "lake", "brother")


def spec(ring: KeyRing) -> str:
    return ",".join(f"{i}:{base64.b64encode(k).decode()}" for i, k in ring.keys.items())


def reseal(
    database_url: str, tmp_path: Path, *args: str, keys: KeyRing | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env |= {"CAREPATH_DATABASE_URL": database_url, "CAREPATH_DATA_DIR": str(tmp_path)}
    if keys is not None:
        env["CAREPATH_PAYLOAD_KEYS"] = spec(keys)
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "keys", "reseal", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = (result.stdout + result.stderr).lower()
    assert not any(secret in said for secret in SECRETS), said
    return result


async def add_note(pool: Pool, note_id: str, keys: KeyRing | None) -> None:
    row = bound_row(note_id, "cl-1", "th-1")  # as api/notes.py binds a note
    sealed_with, stored = seal_row(keys, {"body": NOTE}, table="psychotherapy_notes", row=row)
    await pool.execute(
        "INSERT INTO psychotherapy_notes (note_id, journey_id, client_id, author_id, body,"
        " sealed_with) VALUES ($1, 'j-1', 'cl-1', 'th-1', $2, $3)",
        note_id,
        stored["body"],
        sealed_with,
    )


async def note_text(pool: Pool, note_id: str, keys: KeyRing) -> str | None:
    row = await pool.fetchrow("SELECT * FROM psychotherapy_notes WHERE note_id = $1", note_id)
    assert row is not None
    assert not any(secret in str(row["body"]).lower() for secret in SECRETS)
    opened = open_row(
        keys,
        {"body": row["body"]},
        sealed_with=row["sealed_with"],
        table="psychotherapy_notes",
        row=bound_row(note_id, row["client_id"], row["author_id"]),
    )
    return opened["body"]


async def add_client(pool: Pool, client_id: str, keys: KeyRing | None) -> None:
    await upsert_client(pool, client_id, display_name=NAME, email=EMAIL, phone=PHONE, keys=keys)


async def test_rotation_then_reseal_moves_everything_to_the_new_key(
    db_url: str, db_pool: Pool, tmp_path: Path
) -> None:
    await add_client(db_pool, "cl-plain", None)
    await add_client(db_pool, "cl-k1", K1)
    await add_note(db_pool, "n-plain", None)
    await add_note(db_pool, "n-k1", K1)
    assert await note_text(db_pool, "n-k1", K1_K2) == NOTE  # rotated ring: old rows open

    first = reseal(db_url, tmp_path, "--batch-size", "1", keys=K1_K2)

    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "clients: 1 sealed, 1 moved to key k2, 0 changed meanwhile, 0 unreadable",
        "notes: 1 sealed, 1 moved to key k2, 0 changed meanwhile, 0 unreadable",
        "everything sealed is under key k2: no older key is needed for it",
    ]
    for table in ("clients", "psychotherapy_notes"):
        marks = await db_pool.fetch(f"SELECT DISTINCT sealed_with FROM {table}")
        assert [m["sealed_with"] for m in marks] == ["k2"]
    for client_id in ("cl-plain", "cl-k1"):  # the old key can go now
        client = await get_client(db_pool, client_id, keys=K2)
        assert client is not None and (client.display_name, client.email, client.phone) == (
            NAME,
            EMAIL,
            PHONE,
        )
    for note_id in ("n-plain", "n-k1"):
        assert await note_text(db_pool, note_id, K2) == NOTE

    again = reseal(db_url, tmp_path, keys=K2)
    assert again.returncode == 0, again.stderr
    assert all(" 0 sealed, 0 moved" in line for line in again.stdout.splitlines()[:2])


async def test_rows_that_do_not_open_are_reported_and_left_alone(
    db_url: str, db_pool: Pool, tmp_path: Path
) -> None:
    await add_note(db_pool, "n-k1", K1)
    await add_note(db_pool, "n-plain", None)

    result = reseal(db_url, tmp_path, keys=K2)  # k1 was removed before resealing

    assert result.returncode == 1
    assert "notes: 1 sealed, 0 moved to key k2" in result.stdout
    assert "rows not under key k2: 1 under k1" in result.stderr
    assert await note_text(db_pool, "n-k1", K1) == NOTE


async def test_without_keys_it_refuses_and_never_takes_a_dev_key_file_to_a_real_database(
    db_url: str, db_pool: Pool, tmp_path: Path
) -> None:
    await add_client(db_pool, "cl-plain", None)
    refused = reseal(db_url, tmp_path, keys=None)
    assert refused.returncode == 1 and "no payload keys" in refused.stderr

    generate_key_file(tmp_path / "keys" / "payload-keys.json")  # a dev stack's, lying about
    again = reseal(db_url, tmp_path, keys=None)  # CAREPATH_DATABASE_URL names a real database
    assert again.returncode == 1 and "no payload keys" in again.stderr
    assert await db_pool.fetchval("SELECT sealed_with FROM clients") is None  # untouched


async def test_a_key_under_an_id_the_database_knows_for_another_key_is_refused(
    db_url: str, db_pool: Pool, tmp_path: Path
) -> None:
    await add_client(db_pool, "cl-plain", None)
    assert reseal(db_url, tmp_path, keys=K1).returncode == 0  # the database now knows k1
    other_k1 = KeyRing(keys={"k1": os.urandom(32)}, current="k1")  # typed in another shell
    await add_client(db_pool, "cl-later", None)

    refused = reseal(db_url, tmp_path, keys=other_k1)

    assert refused.returncode == 1 and "'k1' are not the keys this database knows" in refused.stderr
    assert (
        await db_pool.fetchval("SELECT sealed_with FROM clients WHERE client_id = 'cl-later'")
        is None
    )


def test_production_never_runs_without_keys_so_never_writes_plaintext() -> None:
    """The worker and the API connect through `data_converter` before they serve anything."""
    from config.settings import Settings
    from workers.temporal import data_converter

    bare = Settings(env="production", payload_keys=None, payload_key_file=None)
    with pytest.raises(RuntimeError, match="required in production"):
        data_converter(bare)


def keys_command(tmp_path: Path, *args: str, keys: KeyRing | None = None) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env |= {"CAREPATH_DATA_DIR": str(tmp_path)}
    if keys is not None:
        env["CAREPATH_PAYLOAD_KEYS"] = spec(keys)
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "keys", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


async def test_keys_add_rotates_the_key_file_and_reseal_moves_rows_to_the_new_key(
    db_url: str, db_pool: Pool, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "payload-keys.json"
    first = generate_key_file(key_file)  # as carepath dev
    await add_client(db_pool, "cl-old", first)

    code, said = keys_command(tmp_path, "add", "k2")
    assert code == 0, said
    rotated = read_key_file(key_file)
    assert rotated.current == "k2" and rotated.keys["k1"] == first.keys["k1"]
    assert base64.b64encode(rotated.keys["k2"]).decode() not in said  # never prints a key

    for refused in (["add", "k2"], ["add", "bad/id"], ["add"], ["reseal", "k3"]):
        code, said = keys_command(tmp_path, *refused)
        assert code == 2, (refused, said)
    assert read_key_file(key_file) == rotated  # nothing changed by a refused call
    code, said = keys_command(tmp_path, "add", "k3", keys=K1)
    assert code == 1 and "CAREPATH_PAYLOAD_KEYS" in said  # keys from the environment: not ours

    assert reseal(db_url, tmp_path, keys=rotated).returncode == 0
    client = await get_client(
        db_pool, "cl-old", keys=KeyRing(keys={"k2": rotated.keys["k2"]}, current="k2")
    )
    assert client is not None and client.email == EMAIL


def test_a_rotation_in_two_steps_and_a_generated_key(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "payload-keys.json"
    first = generate_key_file(key_file)

    code, said = keys_command(tmp_path, "add", "k2", "--decrypt-only")
    assert code == 0, said
    learning = read_key_file(key_file)
    assert learning.current == "k1" and set(learning.keys) == {"k1", "k2"}  # k2 only opens
    assert (key_file.parent / "payload-keys.json.bak").exists()
    assert key_file.stat().st_mode & 0o777 == 0o600

    code, said = keys_command(tmp_path, "promote", "k2")
    assert code == 0, said
    promoted = read_key_file(key_file)
    assert promoted.current == "k2" and promoted.keys == learning.keys
    assert promoted.keys["k1"] == first.keys["k1"]
    assert keys_command(tmp_path, "promote", "k9")[0] == 2

    code, said = keys_command(tmp_path, "generate", "k3")
    assert code == 0
    generated = parse_keys(said.strip())
    assert generated.current == "k3" and len(generated.keys["k3"]) == 32
