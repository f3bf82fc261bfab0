"""The issue's repros through the real API: a clear 4xx naming the field, and nothing written."""

from __future__ import annotations

from tests.api.conftest import Api


async def _counts(api: Api) -> tuple[int, int]:
    events: int = await api.pool.fetchval("SELECT count(*) FROM events")
    clients: int = await api.pool.fetchval("SELECT count(*) FROM clients")
    return events, clients


async def test_a_protocol_in_a_start_is_422_and_starts_nothing(api: Api) -> None:
    # A journey starts on its clinic's current protocol: a request cannot carry one, not even
    # one with a NUL in its version (which the API once took).
    before = await _counts(api)
    response = await api.start(protocol={"version": "2026-11\u0000"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == "body.protocol"
    assert "2026-11" not in response.text
    assert await _counts(api) == before


async def test_a_nul_in_a_consent_version_is_422_and_records_nothing(api: Api) -> None:
    client_id = await api.started()
    before = await _counts(api)
    response = await api.decide(
        api.th,
        client_id,
        "record_consent",
        consent_version="v\u00003",
        signed_at="2026-11-24T09:00:00Z",
    )
    assert response.status_code == 422, response.text
    assert "consent_version" in response.json()["errors"][0]["loc"]
    assert await _counts(api) == before
    shown = await api.http.get(f"/journeys/{client_id}", headers=api.th.headers)
    assert shown.json()["version"] == 1  # the journey goes on, as stored
