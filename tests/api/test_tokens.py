"""Token expiry, `carepath users list|rotate`, the sign-in throttle and the admin audit records,
against the real app on real Temporal and PostgreSQL (and the real `carepath` command)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.guards import FailureThrottle
from database.migrations import load_migrations
from records.tokens import token_hash
from records.users import add_user, cli_actor, issue_token, list_users, revoke_tokens, rotate_token
from tests.api.conftest import Api, User
from tests.conftest import DatabaseFactory

ROOT = Path(__file__).resolve().parents[2]


async def _expire(api: Api, token: str) -> None:
    await api.pool.execute(
        "UPDATE api_tokens SET created_at = now() - interval '91 days',"
        " expires_at = now() - interval '1 second' WHERE token_hash = $1",
        token_hash(token),
    )


# --- expiry -----------------------------------------------------------------------------------


async def test_an_expired_token_is_refused_like_a_revoked_one(api: Api) -> None:
    assert (await api.get(api.th, "/caseload")).status_code == 200
    await _expire(api, api.th.token)
    await revoke_tokens(api.pool, api.th2.clinician_id)
    expired, revoked = await api.get(api.th, "/caseload"), await api.get(api.th2, "/caseload")
    for answer in (expired, revoked):
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert answer.json() == {"detail": "the token is not valid"}
    fresh = await issue_token(api.pool, api.th.clinician_id)
    again = await api.http.get("/caseload", headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200


async def test_tokens_expire_after_the_configured_days(api: Api) -> None:
    async def expiry(token: str) -> timedelta:
        row = await api.pool.fetchrow(
            "SELECT expires_at - created_at AS ttl FROM api_tokens WHERE token_hash = $1",
            token_hash(token),
        )
        assert row is not None
        ttl: timedelta = row["ttl"]
        return ttl

    assert await expiry(api.ops.token) == timedelta(days=90)  # CAREPATH_TOKEN_TTL_DAYS default
    _, short = await add_user(api.pool, "Sam Short", "therapist", ttl_days=7)
    assert await expiry(short) == timedelta(days=7)
    assert await expiry(await issue_token(api.pool, api.th.clinician_id, ttl_days=1)) == timedelta(
        days=1
    )
    rotated = await rotate_token(api.pool, api.rx.clinician_id, ttl_days=30)
    assert await expiry(rotated.token) == timedelta(days=30)


async def test_the_migration_gives_older_tokens_90_days_from_the_migration(
    database_factory: DatabaseFactory,
) -> None:
    url = await database_factory.create()
    conn = await asyncpg.connect(url)
    try:
        migrations = load_migrations()
        names = [m.name for m in migrations]
        expiry = names.index("0061_token_expiry_admin_audit")
        for migration in migrations[:expiry]:
            await conn.execute(migration.sql)
        await conn.execute("INSERT INTO clinicians (clinician_id, role) VALUES ('th-old', 'ops')")
        await conn.execute(
            "INSERT INTO api_tokens (token_hash, clinician_id, created_at)"
            " VALUES ($1, 'th-old', now() - interval '2 years')",
            token_hash("cp_old"),
        )
        await conn.execute(migrations[expiry].sql)
        left = await conn.fetchval(
            "SELECT expires_at - now() FROM api_tokens WHERE clinician_id = 'th-old'"
        )
        assert timedelta(days=89, hours=23) < left <= timedelta(days=90)
    finally:
        await conn.close()
        await database_factory.drop(url)


# --- rotate and list --------------------------------------------------------------------------


async def test_rotate_revokes_every_old_token_and_issues_one(api: Api) -> None:
    second = await issue_token(api.pool, api.th.clinician_id)
    rotated = await rotate_token(api.pool, api.th.clinician_id)
    assert rotated.revoked == 2
    assert rotated.token not in repr(rotated)
    for old in (api.th.token, second):
        answer = await api.http.get("/caseload", headers={"Authorization": f"Bearer {old}"})
        assert answer.status_code == 401
    new = await api.http.get("/caseload", headers={"Authorization": f"Bearer {rotated.token}"})
    assert new.status_code == 200
    assert rotated.expires_at - datetime.now(UTC) > timedelta(days=89)
    with pytest.raises(LookupError):
        await rotate_token(api.pool, "th-nobody")


async def test_list_shows_clinicians_and_token_dates_never_a_token(api: Api) -> None:
    await revoke_tokens(api.pool, api.rx2.clinician_id)
    await _expire(api, api.th2.token)
    elsewhere, _ = await add_user(api.pool, "Elsewhere Ops", "ops", "clinic-elsewhere")
    users = {u.clinician_id: u for u in await list_users(api.pool, "default")}
    assert set(users) >= {u.clinician_id for u in (api.ops, api.th, api.th2, api.rx, api.rx2)}
    assert {u.clinic_id for u in users.values()} == {"default"}
    th = users[api.th.clinician_id]
    assert (th.role, th.clinic_id, th.display_name) == ("therapist", "default", "Theo Therapist")
    assert [t.state for t in th.tokens] == ["active"]
    assert [t.state for t in users[api.th2.clinician_id].tokens] == ["expired"]
    assert [t.state for t in users[api.rx2.clinician_id].tokens] == ["revoked"]
    everyone = await list_users(api.pool)
    assert elsewhere in {u.clinician_id for u in everyone} and len(everyone) > len(users)
    hashes = [r["token_hash"] for r in await api.pool.fetch("SELECT token_hash FROM api_tokens")]
    shown = repr(users)
    for secret in [*hashes, api.th.token, api.ops.token]:
        assert secret not in shown


async def _carepath(db_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREPATH_")}
    env.update(PYTHONPATH=str(ROOT), CAREPATH_DATABASE_URL=db_url, CAREPATH_LOG_LEVEL="WARNING")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli.main", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_users_list_and_rotate_verbs(api: Api, db_url: str) -> None:
    (code, out, err), (jcode, jout, _) = await asyncio.gather(
        _carepath(db_url, "users", "list"), _carepath(db_url, "users", "list", "--json")
    )
    assert code == 0 and jcode == 0, err
    header = out.splitlines()[0].split()
    assert header[:4] == ["clinician", "role", "clinic", "name"]
    assert api.th.clinician_id in out and "Theo Therapist" in out and "active" in out
    listed = json.loads(jout)
    th = next(u for u in listed if u["clinician_id"] == api.th.clinician_id)
    assert th["role"] == "therapist" and th["clinic_id"] == "default"
    assert set(th["tokens"][0]) == {"created_at", "expires_at", "revoked_at", "state"}
    hashes = [r["token_hash"] for r in await api.pool.fetch("SELECT token_hash FROM api_tokens")]
    for secret in [*hashes, *(u.token for u in (api.ops, api.th, api.th2, api.rx, api.rx2))]:
        assert secret not in out and secret not in jout

    code, out, err = await _carepath(db_url, "users", "rotate", api.th.clinician_id)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("token cp_")
    new = lines[0].removeprefix("token ")
    assert "revoked 1 older token(s)" in out and "shown only this once" in out
    assert (await api.get(api.th, "/caseload")).status_code == 401
    headers = {"Authorization": f"Bearer {new}"}
    assert (await api.http.get("/caseload", headers=headers)).status_code == 200
    code, out, err = await _carepath(db_url, "users", "list")
    assert new not in out and "revoked" in out
    code, _, err = await _carepath(db_url, "users", "rotate", "th-nobody")
    assert code == 1 and "no such clinician" in err


# --- the sign-in throttle ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_throttle_counts_failures_in_a_sliding_window() -> None:
    clock = Clock()
    throttle = FailureThrottle(3, 60, clock=clock, max_sources=2)
    for _ in range(2):
        throttle.failed("a")
        clock.now += 10
    assert throttle.retry_after("a") is None
    throttle.failed("a")  # the third within 60 s: failures at 1000, 1010, 1020
    assert throttle.retry_after("a") == 40  # the first leaves the window at 1060
    clock.now = 1059.5
    assert throttle.retry_after("a") == 1
    clock.now = 1060
    assert throttle.retry_after("a") is None  # two left in the window
    assert throttle.retry_after("b") is None
    throttle.failed("b")
    throttle.failed("c")  # three sources, two kept: "a", the least recently failing, goes
    assert set(throttle._failures) == {"b", "c"}


async def _client(api: Api, app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://api")


async def test_failed_sign_ins_are_throttled_per_address_with_retry_after(api: Api) -> None:
    settings = api.settings.model_copy(update={"auth_failure_limit": 3, "auth_failure_window": 60})
    app = create_app(settings, temporal=api.env.client, pool=api.pool)
    clock = Clock()
    app.state.auth_throttle.clock = clock
    bad = {"Authorization": "Bearer cp_guessing"}
    await _expire(api, api.th2.token)
    async with (
        await _client(api, app, "203.0.113.7") as attacker,
        await _client(api, app, "198.51.100.2") as clinic,
    ):
        # No token at all is not a sign-in: it is never counted.
        for _ in range(5):
            assert (await attacker.get("/caseload")).status_code == 401
        assert (await attacker.get("/caseload", headers=bad)).status_code == 401
        too_long = User("", "x" * 500, "").headers
        assert (await attacker.get("/caseload", headers=too_long)).status_code == 401
        assert (await attacker.get("/caseload", headers=api.th2.headers)).status_code == 401
        refused = await attacker.get("/caseload", headers=bad)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert refused.headers["cache-control"] == "no-store"
        assert refused.json() == {
            "detail": "too many failed sign-ins from your address: try again in 60 seconds"
        }
        # While throttled, a good token from there is refused too: guessing gains nothing.
        assert (await attacker.get("/caseload", headers=api.th.headers)).status_code == 429
        # Another address is not affected.
        assert (await clinic.get("/caseload", headers=api.th.headers)).status_code == 200
        assert (await clinic.get("/caseload", headers=bad)).status_code == 401
        clock.now += 59
        assert (await attacker.get("/caseload", headers=bad)).headers["retry-after"] == "1"
        clock.now += 1
        assert (await attacker.get("/caseload", headers=api.th.headers)).status_code == 200


async def test_the_throttle_defaults(api: Api) -> None:
    assert (api.settings.auth_failure_limit, api.settings.auth_failure_window) == (10, 60.0)
    statuses = []
    for _ in range(12):
        answer = await api.http.get("/caseload", headers={"Authorization": "Bearer cp_nope"})
        statuses.append(answer.status_code)
    assert statuses == [401] * 10 + [429] * 2


# --- admin actions in the audit log -----------------------------------------------------------


async def test_admin_actions_are_in_the_audit_log(api: Api) -> None:
    clinician_id, _ = await add_user(api.pool, "Nia New", "therapist", actor="cli:alice")
    await issue_token(api.pool, clinician_id, actor="cli:alice")
    await rotate_token(api.pool, clinician_id, actor="cli:alice")
    await revoke_tokens(api.pool, clinician_id)  # the default actor: the OS user
    await list_users(api.pool, "default", actor="cli:alice")
    client_id = await api.started()
    erased = await api.http.delete(f"/clients/{client_id}", headers=api.ops.headers)
    assert erased.status_code == 200
    assert (await api.get(api.th, "/audit")).status_code == 403
    assert (await api.get(api.ops, "/audit", limit=1000)).status_code == 200
    entries = (await api.get(api.ops, "/audit", limit=1000)).json()
    admin = [
        (e["read"], e["subject_id"], e["actor_id"], e["actor_role"], e["outcome"])
        for e in entries
        if e["read"] in {"user_added", "token_issued", "tokens_rotated", "tokens_revoked"}
        and e["subject_id"] == clinician_id
    ]
    assert sorted(admin) == sorted(
        [
            ("user_added", clinician_id, "cli:alice", "admin", "ok"),
            ("token_issued", clinician_id, "cli:alice", "admin", "ok"),
            ("tokens_rotated", clinician_id, "cli:alice", "admin", "ok"),
            ("tokens_revoked", clinician_id, cli_actor(), "admin", "ok"),
        ]
    )
    assert cli_actor().startswith("cli:")
    assert any(e["read"] == "users_listed" and e["actor_id"] == "cli:alice" for e in entries)
    reads = [(e["actor_id"], e["outcome"]) for e in entries if e["read"] == "audit"]
    assert (api.th.clinician_id, "forbidden") in reads
    assert (api.ops.clinician_id, "ok") in reads  # the first read; this one is not in its answer
    assert any(e["read"] == "erasure" and e["client_id"] == client_id for e in entries)
    text = json.dumps(entries)
    for user in (api.ops, api.th):
        assert user.token not in text and token_hash(user.token) not in text
