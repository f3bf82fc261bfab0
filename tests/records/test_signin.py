"""Web sign-in against real PostgreSQL: Argon2id passwords, lockout after repeated failures,
server-side sessions that end when idle, at sign-out and when the password is set again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from database.pgtypes import Pool
from domain.vocabulary import Role
from records.signin import (
    IDLE_TIMEOUT,
    LOCKOUT,
    MAX_AGE,
    MAX_FAILURES,
    PasswordError,
    csrf_ok,
    end_sessions,
    session_hash,
    session_of,
    set_password,
    sign_in,
    sign_out,
)
from records.users import add_user, revoke_tokens, rotate_token

GOOD = "correct horse battery staple"


async def therapist(pool: Pool, clinic: str = "default") -> str:
    clinician_id, _ = await add_user(pool, "Theo Therapist", "therapist", clinic)
    await set_password(pool, clinician_id, GOOD)
    return clinician_id


async def test_the_password_is_kept_only_as_an_argon2id_hash(db_pool: Pool) -> None:
    clinician_id = await therapist(db_pool)
    stored = await db_pool.fetchval(
        "SELECT password_hash FROM clinician_passwords WHERE clinician_id = $1", clinician_id
    )
    assert stored.startswith("$argon2id$") and GOOD not in stored


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least"),
        (" " * 20, "only spaces"),
        ("x" * 300, "at most"),
        ("a\x00" * 8, "control"),
    ],
)
async def test_a_weak_or_odd_password_is_refused_in_plain_words(
    db_pool: Pool, password: str, why: str
) -> None:
    clinician_id, _ = await add_user(db_pool, "Rex Prescriber", "prescriber")
    with pytest.raises(PasswordError, match=why):
        await set_password(db_pool, clinician_id, password)
    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM clinician_passwords WHERE clinician_id = $1", clinician_id
        )
        == 0
    )


async def test_sign_in_opens_a_session_with_its_own_csrf_token(db_pool: Pool) -> None:
    clinician_id = await therapist(db_pool, clinic="north")
    outcome, session = await sign_in(db_pool, clinician_id, GOOD)
    assert outcome == "ok" and session is not None
    assert (
        session.clinician.clinician_id,
        session.clinician.role,
        session.clinician.clinic_id,
    ) == (
        clinician_id,
        Role.THERAPIST,
        "north",
    )
    stored = await db_pool.fetchrow(
        "SELECT * FROM web_sessions WHERE clinician_id = $1", clinician_id
    )
    assert stored is not None
    assert stored["session_hash"] == session_hash(session.token) != session.token
    found = await session_of(db_pool, session.token)
    assert found is not None and found.clinician == session.clinician
    assert csrf_ok(found, session.csrf_token)
    assert not csrf_ok(found, None) and not csrf_ok(found, session.csrf_token[:-1] + "x")
    _, other = await sign_in(db_pool, clinician_id, GOOD)
    assert other is not None and other.csrf_token != session.csrf_token


async def test_wrong_unknown_and_passwordless_are_answered_alike(db_pool: Pool) -> None:
    clinician_id = await therapist(db_pool)
    passwordless, _ = await add_user(db_pool, "Olive Ops", "ops")
    for who, password in (
        (clinician_id, "not the password"),
        ("th-nobody", GOOD),
        (passwordless, GOOD),
    ):
        assert await sign_in(db_pool, who, password) == ("wrong", None)


async def test_repeated_failures_lock_the_password_even_when_right(db_pool: Pool) -> None:
    clinician_id = await therapist(db_pool)
    for _ in range(MAX_FAILURES - 1):
        assert (await sign_in(db_pool, clinician_id, "guess guess guess"))[0] == "wrong"
    assert (await sign_in(db_pool, clinician_id, GOOD))[0] == "ok"  # a success resets the count
    for _ in range(MAX_FAILURES):
        assert (await sign_in(db_pool, clinician_id, "guess guess guess"))[0] == "wrong"
    assert await sign_in(db_pool, clinician_id, GOOD) == ("locked", None)
    # Once the lock has passed, the right password works again.
    await db_pool.execute(
        "UPDATE clinician_passwords SET locked_until = now() - interval '1 second'"
        " WHERE clinician_id = $1",
        clinician_id,
    )
    assert (await sign_in(db_pool, clinician_id, GOOD))[0] == "ok"
    assert timedelta(minutes=15) <= LOCKOUT


async def test_a_session_ends_when_idle_too_long_or_too_old(db_pool: Pool) -> None:
    clinician_id = await therapist(db_pool)
    _, idle = await sign_in(db_pool, clinician_id, GOOD)
    _, old = await sign_in(db_pool, clinician_id, GOOD)
    _, live = await sign_in(db_pool, clinician_id, GOOD)
    assert idle is not None and old is not None and live is not None
    shift = "UPDATE web_sessions SET {} = {} - $2::interval WHERE session_hash = $1"
    await db_pool.execute(
        shift.format("last_seen_at", "now()"),
        session_hash(idle.token),
        IDLE_TIMEOUT + timedelta(seconds=1),
    )
    await db_pool.execute(
        shift.format("created_at", "now()"), session_hash(old.token), MAX_AGE + timedelta(seconds=1)
    )
    assert await session_of(db_pool, idle.token) is None
    assert await session_of(db_pool, old.token) is None
    assert await session_of(db_pool, live.token) is not None
    assert timedelta(minutes=15) == IDLE_TIMEOUT  # HIPAA automatic logoff, as the issue asks


async def test_sign_out_a_new_password_and_revocation_end_sessions(db_pool: Pool) -> None:
    clinician_id = await therapist(db_pool)
    _, first = await sign_in(db_pool, clinician_id, GOOD)
    _, second = await sign_in(db_pool, clinician_id, GOOD)
    _, third = await sign_in(db_pool, clinician_id, GOOD)
    assert first is not None and second is not None and third is not None
    await sign_out(db_pool, first.token)
    assert await session_of(db_pool, first.token) is None
    assert await session_of(db_pool, second.token) is not None
    await set_password(db_pool, clinician_id, "another long passphrase")
    assert await session_of(db_pool, second.token) is None
    _, fourth = await sign_in(db_pool, clinician_id, "another long passphrase")
    assert fourth is not None
    await revoke_tokens(db_pool, clinician_id)  # `carepath users revoke`
    assert await session_of(db_pool, fourth.token) is None
    assert await end_sessions(db_pool, clinician_id, "tokens_revoked") == 0
    _, fifth = await sign_in(db_pool, clinician_id, "another long passphrase")
    assert fifth is not None
    await rotate_token(db_pool, clinician_id)  # `carepath users rotate`
    assert await session_of(db_pool, fifth.token) is None


@pytest.mark.parametrize("token", ["", "ws_" + "x" * 300, "cp_notasession", "ws_unknown"])
async def test_a_malformed_or_unknown_cookie_is_no_session(db_pool: Pool, token: str) -> None:
    assert await session_of(db_pool, token) is None
