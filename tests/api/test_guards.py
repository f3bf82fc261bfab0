"""The API's HTTP-level guards (api/guards.py) and its error words (api/errors.py), against the
real app on real Temporal and PostgreSQL: repeated JSON keys, the request size limit, the
security headers on every answer, validation messages that quote the allowed values intact and
never the input, and the OpenAPI document naming every status."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import Message

from api.app import create_app
from api.models import ErrorBody
from tests.api.conftest import Api

SECRET = "alice@example.org"


async def _events(api: Api) -> int:
    count: int = await api.pool.fetchval("SELECT count(*) FROM events")
    return count


def _assert_secured(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store", response.request.url
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers


# --- repeated keys ----------------------------------------------------------------------------


async def test_a_body_that_repeats_a_key_is_refused_400_and_nothing_happens(api: Api) -> None:
    client_id = await api.started()
    before = await _events(api)
    path = f"/journeys/{client_id}/decisions"
    repeated = b'{"type": "pause", "decision_id": "d-1", "type": "withdraw"}'
    headers = {**api.th.headers, "content-type": "application/json"}
    response = await api.http.post(path, content=repeated, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "detail": 'the body repeats the key "type": send each key of an object once'
    }
    _assert_secured(response)
    nested = (
        b'{"type": "start_dosing", "decision_id": "d-2", "session_id": "s1", '
        b'"transport_confirmed": true, "vitals": {"systolic": 120, "diastolic": 80, '
        b'"systolic": 400}}'
    )
    assert (await api.http.post(path, content=nested, headers=headers)).status_code == 400
    # A key that may be data is not repeated back.
    odd = json.dumps({"type": "pause", "decision_id": "d-3"})[:-1] + f', "{SECRET}": 1, '
    odd += f'"{SECRET}": 2}}'
    answer = await api.http.post(path, content=odd.encode(), headers=headers)
    assert answer.status_code == 400 and SECRET not in answer.text
    assert "repeats a key" in answer.json()["detail"]
    # Without a content type FastAPI reads JSON too: so does the guard.
    bare = await api.http.post(path, content=repeated, headers=api.th.headers)
    assert bare.status_code == 400
    assert await _events(api) == before
    # The same body without the repeat goes through, read from the very bytes checked.
    fine = b'{"type": "pause", "decision_id": "d-4"}'
    assert (await api.http.post(path, content=fine, headers=headers)).status_code == 200


async def test_repeated_keys_are_refused_on_the_survey_answers_too(api: Api) -> None:
    body = b'{"answers": {"phq9": [0,0,0,0,0,0,0,0,0], "phq9": [3,3,3,3,3,3,3,3,3]}}'
    response = await api.http.post(
        "/surveys/k1.Zm9v.bar", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert '"phq9"' in response.json()["detail"]


async def test_a_body_that_is_not_json_is_answered_by_the_route_not_the_guard(api: Api) -> None:
    client_id = await api.started()
    path = f"/journeys/{client_id}/decisions"
    headers = {**api.th.headers, "content-type": "application/json"}
    syntax = await api.http.post(path, content=b'{"type": "pause", ' + b"x", headers=headers)
    assert syntax.status_code == 422
    assert syntax.json()["errors"][0]["msg"].startswith("Invalid JSON")
    latin1 = await api.http.post(path, content=b'{"type": "caf\xe9"}', headers=headers)
    assert latin1.status_code == 400
    assert latin1.json()["detail"].startswith("the body could not be read as JSON")
    deep = await api.http.post(path, content=b"[" * 100_000, headers=headers)
    assert deep.status_code == 400
    _assert_secured(deep)


# --- the request size limit -------------------------------------------------------------------


def _small_app(api: Api, limit: int = 2048) -> Any:
    settings = api.settings.model_copy(update={"max_request_bytes": limit})
    return create_app(settings, temporal=api.env.client, pool=api.pool)


async def _call(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, int, Any]:
    """Call the app over plain ASGI: (status, chunks read, JSON answer)."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        if read >= len(chunks):
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, read, json.loads(body)


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"api"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


@pytest.mark.parametrize("path", ["/journeys", "/surveys/k1.Zm9v.bar", "/s/k1.Zm9v.bar"])
async def test_a_declared_length_over_the_limit_is_413_before_a_byte_is_read(
    api: Api, path: str
) -> None:
    app = _small_app(api)
    headers = [(b"content-length", str(10 * 1024 * 1024).encode())]
    status, read, body = await _call(app, _scope(path, headers), [b"x" * 1024] * 10_240)
    assert (status, read) == (413, 0)
    assert body == {"detail": "the request is too large: at most 2048 bytes are accepted"}
    ErrorBody.model_validate(body)


@pytest.mark.parametrize("path", ["/journeys", "/surveys/k1.Zm9v.bar", "/s/k1.Zm9v.bar"])
async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    api: Api, path: str
) -> None:
    app = _small_app(api)
    headers = [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")]
    status, read, body = await _call(app, _scope(path, headers), [b" " * 1000] * 10_000)
    assert status == 413
    assert read == 3  # 3000 bytes > 2048: the other 9,997 chunks were never read
    assert "too large" in body["detail"]


async def test_the_default_limit_is_one_megabyte_over_http(api: Api) -> None:
    assert api.settings.max_request_bytes == 1024 * 1024
    big = b'{"answers": {"phq9": [' + b"0," * 600_000 + b"0]}}"
    response = await api.http.post(
        "/surveys/k1.Zm9v.bar", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    _assert_secured(response)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(2000):
            yield b" " * 1024

    streamed = await api.http.post("/s/k1.Zm9v.bar", content=chunks())
    assert streamed.status_code == 413
    under = await api.http.post("/surveys/k1.Zm9v.bar", json={"answers": {"phq9": [0] * 9}})
    assert under.status_code == 404  # read and routed: an unknown link


async def test_a_content_length_that_is_not_a_number_is_400(api: Api) -> None:
    status, read, body = await _call(
        _small_app(api), _scope("/journeys", [(b"content-length", b"12abc")]), [b"{}"]
    )
    assert (status, read) == (400, 0)
    assert "Content-Length" in body["detail"]


# --- headers on every answer ------------------------------------------------------------------


async def test_every_answer_says_no_store_and_nosniff(api: Api) -> None:
    client_id = await api.started()
    answers = [
        await api.get(api.th, f"/journeys/{client_id}"),  # 200 with PHI-adjacent data
        await api.get(api.th, "/caseload"),
        await api.http.get("/healthz"),
        await api.http.get("/openapi.json"),
        await api.http.get("/no/such/route"),  # 404 from the router
        await api.http.put("/journeys", headers=api.ops.headers),  # 405
        await api.http.get("/caseload"),  # 401
        await api.get(api.th, "/journeys/cl-nobody"),  # 404 from a route
        await api.get(api.ops, "/audit", limit=0),  # 422
        await api.http.get("/s/k1.Zm9v.bar"),  # the survey page, HTML
    ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200, 200, 200, 200, 404, 405, 401, 404, 422, 404]
    for answer in answers:
        _assert_secured(answer)
    assert answers[4].json() == {"detail": "there is nothing at this address"}
    assert answers[5].json() == {"detail": "this address does not take this method"}
    assert answers[5].headers["allow"] == "POST"


async def test_a_405_names_every_method_the_address_takes(api: Api) -> None:
    # GET and POST /surveys/{link} are two routes: Starlette's own Allow named only the first.
    answer = await api.http.request("OPTIONS", "/surveys/k1.Zm9v.bar")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert (await api.http.delete("/caseload")).headers["allow"] == "GET"


async def test_an_unexpected_failure_is_a_json_500_with_the_headers(api: Api) -> None:
    app = create_app(api.settings, temporal=api.env.client, pool=api.pool)

    async def boom() -> None:
        raise LookupError("a bug")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "the request could not be served"}
    _assert_secured(response)


# --- validation messages ----------------------------------------------------------------------


async def _decide_raw(api: Api, client_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.http.post(
        f"/journeys/{client_id}/decisions", json=body, headers=api.th.headers
    )


async def test_validation_messages_quote_the_allowed_values_and_never_the_input(api: Api) -> None:
    client_id = await api.started()
    cases: list[tuple[dict[str, Any], str, str]] = [
        # enum: the input is a prefix of an allowed value; the values are quoted intact
        (
            {"type": "record_screening", "decision_id": "d-1", "instrument": "phq", "answers": []},
            "body.instrument",
            "Input should be 'phq9', 'gad7', 'pcl5' or 'cssrs'",
        ),
        # literal
        (
            {"type": "pause", "decision_id": "d-1", "schema_version": 7},
            "body.schema_version",
            "Input should be 1",
        ),
        # string pattern
        (
            {"type": "pause", "decision_id": "d-1", "reason": SECRET},
            "body.reason",
            "String should match pattern '^[a-z0-9_]+$'",
        ),
        # too long
        (
            {
                "type": "record_consent",
                "decision_id": "d-1",
                "consent_version": SECRET * 3,
                "signed_at": "2026-01-01T00:00:00Z",
            },
            "body.consent_version",
            "String should have at most 40 characters",
        ),
        # missing
        (
            {"type": "record_consent", "decision_id": "d-1", "consent_version": "v3"},
            "body.signed_at",
            "this field is required",
        ),
        # extra
        (
            {"type": "pause", "decision_id": "d-1", "note": SECRET},
            "body.note",
            "this field is not part of the request",
        ),
        # int range
        (
            {
                "type": "start_dosing",
                "decision_id": "d-1",
                "session_id": "s1",
                "transport_confirmed": True,
                "vitals": {"systolic": 4242, "diastolic": 80},
            },
            "body.vitals.systolic",
            "Input should be less than or equal to 300",
        ),
        # datetime
        (
            {
                "type": "schedule_dosing",
                "decision_id": "d-1",
                "session_id": "s1",
                "scheduled_at": SECRET,
            },
            "body.scheduled_at",
            "Input should be a valid datetime or date, invalid character in year",
        ),
        # datetime without a time zone
        (
            {
                "type": "schedule_dosing",
                "decision_id": "d-1",
                "session_id": "s1",
                "scheduled_at": "2026-12-01T10:00:00",
            },
            "body.scheduled_at",
            "Input should have timezone info",
        ),
        # union tag
        (
            {"type": SECRET, "decision_id": "d-1"},
            "body",
            "not a known value; expected one of ",
        ),
    ]
    for body, loc, words in cases:
        response = await _decide_raw(api, client_id, body)
        assert response.status_code == 422, body
        answer = response.json()
        ErrorBody.model_validate(answer)
        assert SECRET not in response.text and "4242" not in response.text, response.text
        assert "the given value" not in response.text
        messages = {(e["loc"], e["msg"]) for e in answer["errors"]}
        assert any(where.startswith(loc) and msg.startswith(words) for where, msg in messages), (
            body,
            messages,
        )
    union = await _decide_raw(api, client_id, {"type": "fly", "decision_id": "d-1"})
    assert "'record_screening'" in union.json()["detail"]
    assert "fly" not in union.text


async def test_query_errors_are_error_bodies_too(api: Api) -> None:
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        ("/audit", {"limit": 0}, "query.limit", "Input should be greater than or equal to 1"),
        ("/audit", {"kind": "reads"}, "query.kind", "Input should be 'decision' or 'read'"),
        ("/caseload", {"include_closed": "null"}, "query.include_closed", "Input should be a"),
        # pydantic would take a number for a Unix time: the document says ISO 8601
        ("/audit", {"before": "0.5"}, "query.before", "a date-time in ISO 8601 is expected"),
    ]
    for path, params, loc, words in cases:
        response = await api.get(api.ops, path, **params)
        assert response.status_code == 422
        answer = response.json()
        ErrorBody.model_validate(answer)
        assert answer["errors"][0]["loc"] == loc
        assert answer["errors"][0]["msg"].startswith(words), answer


# --- the OpenAPI document -----------------------------------------------------------------


async def test_openapi_documents_every_status_as_an_error_body(api: Api) -> None:
    spec = (await api.http.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["ErrorBody"]["properties"]) == {"detail", "code", "errors"}
    assert "FieldError" in schemas
    assert "HTTPValidationError" not in json.dumps(spec)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert {"400", "413", "500", "503"} <= set(responses), where
            if operation.get("security"):
                assert {"401", "429"} <= set(responses), where
                assert "Retry-After" in responses["429"]["headers"]
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in responses, where
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and path != "/healthz":
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, where
    decisions = spec["paths"]["/journeys/{client_id}/decisions"]["post"]["responses"]
    assert "cross-field" in decisions["422"]["description"]
    assert "repeats a key" in decisions["400"]["description"]
