"""The codec server: decrypts for the UI's origin and authorized people only; every decode is
written to the audit log."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from api.codec import create_codec_app
from config.settings import Settings
from database.pgtypes import Pool
from privacy import EncryptionCodec
from privacy.keys import parse_keys
from records.users import add_user, revoke_tokens

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


def as_json(payload: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def legacy(codec: EncryptionCodec, payload: Payload) -> Payload:
    """Encrypted the way payloads were before they named their clinic."""
    key_id = codec._ring.current
    ring_key = codec._ring.keys[key_id]
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(ring_key).encrypt(nonce, payload.SerializeToString(), key_id.encode())
    return Payload(
        metadata={"encoding": b"binary/encrypted", "encryption-key-id": key_id.encode()},
        data=nonce + sealed,
    )


async def test_ops_see_their_clinics_payloads_only_and_refusals_are_audited(
    production: httpx.AsyncClient, codec: EncryptionCodec, db_pool: Pool
) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=CANARY)
    sealed = {
        "default": codec.for_clinic("default").encrypt(plain),
        "other": codec.for_clinic("other").encrypt(plain),
        "nobody": codec.encrypt(plain),  # no clinic: the deployment's schedules
        "legacy": legacy(codec, plain),  # before clinics were told apart: the clinic default's
    }
    body = {"payloads": [as_json(p) for p in sealed.values()]}
    ops_a, token_a = await add_user(db_pool, "Ops A", "ops", "default")
    ops_b, token_b = await add_user(db_pool, "Ops B", "ops", "other")
    shown: dict[str, set[str]] = {}
    for clinic, token in (("default", token_a), ("other", token_b)):
        answer = await production.post(
            "/decode", json=body, headers={"Authorization": f"Bearer {token}", "Origin": UI}
        )
        assert answer.status_code == 200
        back = answer.json()["payloads"]
        shown[clinic] = set()
        for name, sent, got in zip(sealed, body["payloads"], back, strict=True):
            if base64.b64decode(got["data"]) == CANARY:
                shown[clinic].add(name)
            else:
                assert got == sent  # refused: as it came
    assert shown == {"default": {"default", "legacy"}, "other": {"other"}}
    rows = await db_pool.fetch(
        "SELECT actor_id, clinic_id, payloads, refused FROM codec_access_log ORDER BY id"
    )
    assert [tuple(r.values()) for r in rows] == [(ops_a, "default", 2, 2), (ops_b, "other", 1, 3)]


async def test_only_ops_may_use_the_codec_server(
    production: httpx.AsyncClient, codec: EncryptionCodec, db_pool: Pool
) -> None:
    body = {"payloads": [as_json(codec.for_clinic("default").encrypt(Payload(data=CANARY)))]}
    for role in ("therapist", "prescriber"):
        _, token = await add_user(db_pool, f"Dr {role}", role)
        headers = {"Authorization": f"Bearer {token}"}
        decoded = await production.post("/decode", json=body, headers=headers)
        assert decoded.status_code == 403 and CANARY.decode() not in decoded.text
        assert (
            await production.post("/encode", json=plain_body(), headers=headers)
        ).status_code == 403
    rows = await db_pool.fetch("SELECT actor_role, payloads, refused FROM codec_access_log")
    assert sorted(tuple(r.values()) for r in rows) == [("prescriber", 0, 1), ("therapist", 0, 1)]


async def test_encode_stamps_the_callers_clinic_and_a_swapped_stamp_fails(
    production: httpx.AsyncClient, db_pool: Pool
) -> None:
    _, token = await add_user(db_pool, "Ops B", "ops", "other")
    _, token_a = await add_user(db_pool, "Ops A", "ops", "default")
    encoded = (
        await production.post(
            "/encode", json=plain_body(), headers={"Authorization": f"Bearer {token}"}
        )
    ).json()
    [payload] = encoded["payloads"]
    assert base64.b64decode(payload["metadata"]["carepath-clinic"]) == b"other"
    payload["metadata"]["carepath-clinic"] = base64.b64encode(b"default").decode()
    swapped = await production.post(
        "/decode", json=encoded, headers={"Authorization": f"Bearer {token_a}"}
    )
    assert swapped.status_code == 422 and "authentication" in swapped.json()["detail"]
    assert CANARY.decode() not in swapped.text


async def test_an_expired_token_decodes_nothing(
    production: httpx.AsyncClient, codec: EncryptionCodec, db_pool: Pool
) -> None:
    clinician_id, token = await add_user(db_pool, "Ops A", "ops")
    await db_pool.execute(
        "UPDATE api_tokens SET created_at = now() - interval '2 days',"
        " expires_at = now() - interval '1 day' WHERE clinician_id = $1",
        clinician_id,
    )
    body = {"payloads": [as_json(codec.for_clinic("default").encrypt(Payload(data=CANARY)))]}
    answer = await production.post(
        "/decode", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 401 and CANARY.decode() not in answer.text
    assert await db_pool.fetchval("SELECT count(*) FROM codec_access_log") == 0
