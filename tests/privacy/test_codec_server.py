"""The codec server: decrypts for the UI's origin and authorized people only; every decode is
written to the audit log."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from api.users import add_user, revoke_tokens
from config.settings import Settings
from eventstore.pgtypes import Pool
from privacy import EncryptionCodec
from privacy.codec_server import create_codec_app
from privacy.keys import parse_keys

UI = "http://127.0.0.1:8233"
CANARY = b'{"note": "Quentin Canary said something private"}'


def plain_body() -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                "data": base64.b64encode(CANARY).decode(),
            }
        ]
    }


@pytest.fixture
def codec() -> EncryptionCodec:
    return EncryptionCodec(parse_keys(f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"))


async def client_for(env: str, codec: EncryptionCodec, pool: Pool) -> httpx.AsyncClient:
    app = create_codec_app(Settings(env=env, ui_base_url=UI), codec, pool)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec")


@pytest_asyncio.fixture
async def production(codec: EncryptionCodec, db_pool: Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for("production", codec, db_pool) as http:
        yield http


async def test_round_trip_and_every_decode_is_audited(
    codec: EncryptionCodec, db_pool: Pool
) -> None:
    async with await client_for("dev", codec, db_pool) as http:
        encoded = (await http.post("/encode", json=plain_body(), headers={"Origin": UI})).json()
        assert CANARY not in base64.b64decode(encoded["payloads"][0]["data"])
        decoded = await http.post(
            "/decode", json=encoded, headers={"Origin": UI, "X-Namespace": "default"}
        )
        assert decoded.status_code == 200
        assert decoded.headers["access-control-allow-origin"] == UI
        assert base64.b64decode(decoded.json()["payloads"][0]["data"]) == CANARY
    row = await db_pool.fetchrow("SELECT actor_id, namespace, payloads FROM codec_access_log")
    assert row is not None and tuple(row.values()) == ("dev", "default", 1)


async def test_other_origins_are_refused(codec: EncryptionCodec, db_pool: Pool) -> None:
    async with await client_for("dev", codec, db_pool) as http:
        answer = await http.post(
            "/decode", json=plain_body(), headers={"Origin": "http://evil.example"}
        )
        assert answer.status_code == 403
        preflight = await http.options(
            "/decode",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
    assert await db_pool.fetchval("SELECT count(*) FROM codec_access_log") == 0


async def test_outside_dev_credentials_are_required(
    production: httpx.AsyncClient, db_pool: Pool
) -> None:
    assert (await production.post("/decode", json=plain_body())).status_code == 401
    bad = await production.post(
        "/decode", json=plain_body(), headers={"Authorization": "Bearer nope"}
    )
    assert bad.status_code == 401
    clinician_id, token = await add_user(db_pool, "Ops Desk", "ops")
    ok = await production.post(
        "/decode", json=plain_body(), headers={"Authorization": f"Bearer {token}", "Origin": UI}
    )
    assert ok.status_code == 200
    production.cookies.set("carepath_token", token)
    by_cookie = await production.post("/decode", json=plain_body())
    production.cookies.clear()
    assert by_cookie.status_code == 200
    logged = await db_pool.fetch("SELECT actor_id, actor_role FROM codec_access_log")
    assert {tuple(r.values()) for r in logged} == {(clinician_id, "ops")}
    await revoke_tokens(db_pool, clinician_id)
    revoked = await production.post(
        "/decode", json=plain_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 401


async def test_tampered_payloads_fail_loudly(codec: EncryptionCodec, db_pool: Pool) -> None:
    async with await client_for("dev", codec, db_pool) as http:
        encoded = (await http.post("/encode", json=plain_body())).json()
        data = bytearray(base64.b64decode(encoded["payloads"][0]["data"]))
        data[-1] ^= 1
        encoded["payloads"][0]["data"] = base64.b64encode(bytes(data)).decode()
        answer = await http.post("/decode", json=encoded)
        assert answer.status_code == 422 and "authentication" in answer.json()["detail"]
        assert (await http.post("/decode", json={"nope": 1})).status_code == 422
