"""A full run with canary PHI: none of it may appear in plaintext in the Temporal database file,
in any log line of the worker and the API, or in the event table."""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import structlog

from api.app import create_app
from config.logs import configure_logging
from config.settings import Settings
from database.pgtypes import Pool
from devstack.servers import start_dev_server
from projections import ProjectionRunner, all_projections
from records.users import add_user
from workers.temporal import data_converter
from workers.worker import build_worker

CANARIES = {
    "name": "Zelda Canary-Quist",
    "email": "zelda.canaryquist@example.org",
    "phone": "+15550100777",
    "note": "canary note: the blue heron at the pier",
}
GOAL = "sunflower canary goal"  # clinical record: in the event log by design, never in Temporal


async def test_no_canary_phi_reaches_temporal_logs_or_the_event_table(
    tmp_path: Path, db_pool: Pool, capfd: pytest.CaptureFixture[str]
) -> None:
    keys = f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    settings = Settings(
        env="production", payload_keys=keys, task_queue="canary", api_runs_projections=False
    )
    db_file = tmp_path / "temporal.db"
    env = await start_dev_server(data_converter(settings), database_file=db_file)
    configure_logging(settings, "canary")
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        ops = (await add_user(db_pool, "Ops Desk", "ops"))[1]
        th_id, th = await add_user(db_pool, "Dr T", "therapist")
        rx_id, rx = await add_user(db_pool, "Dr P", "prescriber")
        app = create_app(settings, temporal=env.client, pool=db_pool)
        worker = build_worker(env.client, db_pool, settings, channels={})
        transport = httpx.ASGITransport(app=app)
        async with worker, httpx.AsyncClient(transport=transport, base_url="http://api") as http:

            async def call(token: str, path: str, body: dict[str, object]) -> httpx.Response:
                answer = await http.post(
                    path, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code in (200, 201), answer.text
                return answer

            contact = {
                "display_name": CANARIES["name"],
                "email": CANARIES["email"],
                "phone": CANARIES["phone"],
            }
            await call(
                ops,
                "/journeys",
                {
                    "client_id": "cl-canary",
                    "therapist_id": th_id,
                    "prescriber_id": rx_id,
                    "contact": contact,
                },
            )
            now = datetime.now(UTC)
            steps: list[tuple[str, dict[str, object]]] = [
                (
                    "record_screening",
                    {"instrument": "phq9", "answers": [2, 2, 2, 1, 1, 2, 1, 2, 1]},
                ),
                ("clear_safety_hold", {"assessment_ref": "ra-1"}),
                ("record_screening", {"instrument": "gad7", "answers": [2, 2, 2, 1, 1, 1, 2]}),
                ("record_consent", {"consent_version": "v3", "signed_at": now.isoformat()}),
                ("complete_consultation", {"treatment_goals": [GOAL]}),
                ("refer_to_prescriber", {}),
            ]
            for n, (type_, fields) in enumerate(steps):
                await call(
                    th,
                    "/journeys/cl-canary/decisions",
                    {"type": type_, "decision_id": f"c-{n}", **fields},
                )
            expires = (now + timedelta(days=60)).isoformat()
            await call(
                rx,
                "/journeys/cl-canary/decisions",
                {
                    "type": "schedule_prescriber_intake",
                    "decision_id": "c-rx-1",
                    "scheduled_at": (now + timedelta(days=1)).isoformat(),
                },
            )
            await call(
                rx,
                "/journeys/cl-canary/decisions",
                {"type": "approve_medication", "decision_id": "c-rx-2", "expires_at": expires},
            )
            await call(th, "/journeys/cl-canary/notes", {"text": CANARIES["note"]})
            await ProjectionRunner(db_pool, all_projections()).catch_up()
            view = (
                await http.get("/journeys/cl-canary", headers={"Authorization": f"Bearer {ops}"})
            ).json()
    finally:
        await env.shutdown()
        logs = capfd.readouterr()
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()

    temporal_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("temporal.db*"))
    log_text = logs.out + logs.err
    rows = await db_pool.fetch("SELECT data::text AS d, metadata::text AS m FROM events")
    event_text = " ".join(r["d"] + r["m"] for r in rows)
    # Controls: the searches can find what is really there.
    assert b"journey-cl-canary" in temporal_bytes and "journey-cl-canary" in log_text
    assert GOAL in event_text and view["stage"] == "preparation"
    assert GOAL.encode() not in temporal_bytes  # encrypted payloads
    # Every row of every table: contact details and notes are sealed at rest (docs/privacy.md).
    tables = await db_pool.fetch(
        "SELECT quote_ident(tablename) AS t FROM pg_tables WHERE schemaname = 'public'"
    )
    every_row = []
    for table in tables:
        every_row += [r["x"] for r in await db_pool.fetch(f"SELECT x::text FROM {table['t']} x")]
    database_text = " ".join(every_row)
    sealed = await db_pool.fetchval(
        "SELECT count(*) FROM psychotherapy_notes WHERE sealed_with IS NOT NULL"
    )
    assert GOAL in database_text and sealed == 1  # the control: the note is there, sealed
    for what, canary in CANARIES.items():
        assert canary.encode() not in temporal_bytes, f"{what} in the Temporal database"
        assert canary not in log_text, f"{what} in the logs"
        assert canary not in event_text, f"{what} in the event table"
        assert canary not in database_text, f"{what} in the PostgreSQL database"
