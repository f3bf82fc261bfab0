"""Each clinic's ops see their own clinic's payloads only, end to end: journeys of two clinics run
through the API on the Temporal dev server (with its UI) with payload encryption; every payload
of a journey's history, as the UI server serves it, names the journey's clinic, and the codec
server decrypts for the caller's clinic only."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx

from api.app import create_app
from api.codec import create_codec_app
from config.settings import Settings
from database.pgtypes import Pool
from devstack.ports import free_port
from devstack.servers import start_dev_server
from domain.ids import journey_workflow_id
from privacy import EncryptionCodec, load_key_ring
from privacy.codec import CLINIC, ENCODING
from records.users import add_user
from workers.temporal import data_converter
from workers.worker import build_worker

CLIENT = "cl-shared"  # one client id in both clinics: two clients
OTHER = "other"


def _payloads(node: Any) -> Iterator[dict[str, Any]]:
    """Every payload in a history as the UI server serves it (JSON)."""
    if isinstance(node, dict):
        if "metadata" in node and "data" in node and isinstance(node["metadata"], dict):
            yield node
        for value in node.values():
            yield from _payloads(value)
    elif isinstance(node, list):
        for value in node:
            yield from _payloads(value)


def _meta(payload: dict[str, Any], name: str) -> bytes | None:
    value = payload["metadata"].get(name)
    return None if value is None else base64.b64decode(value)


async def _history(browser: httpx.AsyncClient, path_id: str) -> httpx.Response:
    """The history as the UI fetches it. The UI server dials the frontend when it starts, maybe
    before the frontend listens: it answers 503 until its connection's backoff retries."""
    deadline = time.monotonic() + 60
    while True:
        answer = await browser.get(f"/api/v1/namespaces/default/workflows/{path_id}/history")
        if answer.status_code != 503 or time.monotonic() > deadline:
            assert answer.status_code == 200, (path_id, answer.text[:300])
            return answer
        await asyncio.sleep(0.5)


async def test_a_clinics_ops_decode_their_clinics_payloads_only(db_pool: Pool) -> None:
    keys = f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    ui_port = free_port()
    ui = f"http://127.0.0.1:{ui_port}"
    settings = Settings(
        env="production",
        payload_keys=keys,
        task_queue="clinics",
        api_runs_projections=False,
        ui_base_url=ui,
    )
    env = await start_dev_server(data_converter(settings), ui_port=ui_port)
    staff: dict[str, dict[str, tuple[str, str]]] = {}
    for clinic in ("default", OTHER):
        staff[clinic] = {
            role: await add_user(db_pool, f"{role} {clinic}", role, clinic)
            for role in ("ops", "therapist", "prescriber")
        }
    histories: dict[str, Any] = {}
    try:
        app = create_app(settings, temporal=env.client, pool=db_pool)
        worker = build_worker(env.client, db_pool, settings, channels={})
        transport = httpx.ASGITransport(app=app)
        async with worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            for clinic, people in staff.items():
                ops, th, rx = (people[r] for r in ("ops", "therapist", "prescriber"))
                started = await http.post(
                    "/journeys",
                    json={"client_id": CLIENT, "therapist_id": th[0], "prescriber_id": rx[0]},
                    headers={"Authorization": f"Bearer {ops[1]}"},
                )
                assert started.status_code == 201, started.text
                decided = await http.post(
                    f"/journeys/{CLIENT}/decisions",
                    json={
                        "type": "record_screening",
                        "decision_id": f"d-{clinic}",
                        "instrument": "phq9",
                        "answers": [1, 1, 1, 1, 1, 1, 1, 1, 0],
                    },
                    headers={"Authorization": f"Bearer {th[1]}"},
                )
                assert decided.status_code == 200, decided.text
        async with httpx.AsyncClient(base_url=ui, timeout=20) as browser:
            for clinic in staff:
                workflow_id = journey_workflow_id(CLIENT, clinic)
                # The UI's own URL for the journey: '~' is unreserved, taken as it is (and
                # percent-encoded too).
                for path_id in (workflow_id, workflow_id.replace("~", "%7E")):
                    answer = await _history(browser, path_id)
                histories[clinic] = answer.json()
                page = await browser.get(f"/namespaces/default/workflows/{workflow_id}")
                assert page.status_code == 200
    finally:
        await env.shutdown()

    assert journey_workflow_id(CLIENT, OTHER) == f"journey-{OTHER}~{CLIENT}"
    by_clinic: dict[str, list[dict[str, Any]]] = {}
    for clinic, history in histories.items():
        encrypted = [p for p in _payloads(history) if _meta(p, "encoding") == ENCODING]
        # Start input, update arguments and results, activity inputs and results, summaries.
        assert len(encrypted) >= 8, clinic
        assert {_meta(p, CLINIC) for p in encrypted} == {clinic.encode()}
        by_clinic[clinic] = encrypted

    ring = load_key_ring(settings.payload_keys, None)
    assert ring is not None
    codec_app = create_codec_app(settings, EncryptionCodec(ring), db_pool)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=codec_app), base_url="http://codec"
    ) as codec:

        async def decode(token: str, payloads: list[dict[str, Any]]) -> httpx.Response:
            return await codec.post(
                "/decode",
                json={"payloads": payloads},
                headers={"Authorization": f"Bearer {token}", "Origin": ui},
            )

        mixed = by_clinic["default"][:3] + by_clinic[OTHER][:3]
        for clinic in staff:
            answer = await decode(staff[clinic]["ops"][1], mixed)
            assert answer.status_code == 200
            shown = answer.json()["payloads"]
            for sent, got in zip(mixed, shown, strict=True):
                mine = _meta(sent, CLINIC) == clinic.encode()
                assert (_meta(got, "encoding") == ENCODING) is not mine
                if mine:
                    assert json.loads(base64.b64decode(got["data"])) is not None
                else:
                    assert got == sent  # refused: as it came, still encrypted
        refused = await decode(staff["default"]["therapist"][1], by_clinic["default"][:1])
        assert refused.status_code == 403
    rows = await db_pool.fetch(
        "SELECT actor_id, clinic_id, payloads, refused FROM codec_access_log ORDER BY id"
    )
    assert [tuple(r.values()) for r in rows] == [
        (staff["default"]["ops"][0], "default", 3, 3),
        (staff[OTHER]["ops"][0], OTHER, 3, 3),
        (staff["default"]["therapist"][0], "default", 0, 1),
    ]
