"""Bearer tokens: required, checked against their hash, revocable."""

from __future__ import annotations

import pytest

from records.tokens import token_hash
from records.users import add_user, issue_token, revoke_tokens
from tests.api.conftest import Api

ROUTES = [
    ("GET", "/journeys/cl-1"),
    ("GET", "/journeys/cl-1/events"),
    ("POST", "/journeys/cl-1/decisions"),
    ("POST", "/journeys"),
    ("GET", "/caseload"),
    ("GET", "/audit"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_every_route_but_health_needs_a_token(api: Api, method: str, path: str) -> None:
    response = await api.http.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["detail"] == "a bearer token is required"


async def test_an_unknown_or_malformed_token_is_refused(api: Api) -> None:
    for header in ("Bearer cp_not-a-real-token", "Bearer " + "x" * 500, "Basic abc", "Bearer"):
        response = await api.http.get("/caseload", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_revoked_token_stops_working_and_a_new_one_works(api: Api) -> None:
    assert (await api.get(api.th, "/caseload")).status_code == 200
    assert await revoke_tokens(api.pool, api.th.clinician_id) == 1
    response = await api.get(api.th, "/caseload")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    fresh = await issue_token(api.pool, api.th.clinician_id)
    again = await api.http.get("/caseload", headers={"Authorization": f"Bearer {fresh}"})
    assert again.status_code == 200
    with pytest.raises(LookupError):
        await issue_token(api.pool, "th-nobody")


async def test_tokens_are_stored_only_as_hashes(api: Api) -> None:
    rows = await api.pool.fetch("SELECT token_hash, clinician_id FROM api_tokens")
    stored = {row["token_hash"] for row in rows}
    for user in (api.ops, api.th, api.th2, api.rx, api.rx2):
        assert user.token not in stored
        assert token_hash(user.token) in stored
    dump = str([dict(r) for r in await api.pool.fetch("SELECT * FROM api_tokens")])
    assert not any(user.token in dump for user in (api.ops, api.th))


async def test_clinician_ids_are_opaque_and_say_the_role(api: Api) -> None:
    assert api.th.clinician_id.startswith("th-")
    assert api.rx.clinician_id.startswith("rx-")
    assert api.ops.clinician_id.startswith("ops-")
    assert len(api.th.clinician_id) == len("th-") + 8
    row = await api.pool.fetchrow(
        "SELECT role, clinic_id, display_name FROM clinicians WHERE clinician_id = $1",
        api.th.clinician_id,
    )
    assert row is not None
    assert (row["role"], row["clinic_id"], row["display_name"]) == (
        "therapist",
        "default",
        "Theo Therapist",
    )
    with pytest.raises(ValueError, match="therapist, prescriber or ops"):
        await add_user(api.pool, "Engine", "system")
