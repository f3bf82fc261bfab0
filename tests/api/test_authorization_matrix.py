"""The authorization matrix, generated from the app's routes: every route × every caller.

Each route of the app (its routes as FastAPI holds them, and the OpenAPI document) has a row in
`MATRIX` (or is listed in `PUBLIC`): the status it answers for each role (therapist, prescriber,
ops, all of the clinic "default") on each subject — the caller's own client, another
clinician's client of the same clinic, a client of another clinic — and for each token case
(none, bad, revoked, expired). A route without a row fails the test, and so does a row
without a route.

Cross-clinic cells never answer 2xx, answer exactly what a client that does not exist gets
(status and body), reveal none of the other clinic's ids, names, contact details or notes, and
write nothing (events, contact details, notes; the other clinic's journey is unchanged).

One API (real Temporal test server, PostgreSQL, tokens) and one set of journeys serve every
cell; routes that erase run last.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import FastAPI

from domain.ids import journey_workflow_id
from records.alerts import NewAlert, record_alert
from records.users import revoke_tokens
from tests.api.conftest import OTHER_CLINIC, Api, User, register

Role = Literal["therapist", "prescriber", "ops"]
Subject = Literal["own", "colleague", "other_clinic"]
ROLES: tuple[Role, ...] = ("therapist", "prescriber", "ops")
SUBJECTS: tuple[Subject, ...] = ("own", "colleague", "other_clinic")

# Token cases every authenticated route answers 401 to, before anything else happens.
# ("expired": added with token expiry, as another case here.)
TOKEN_CASES: tuple[str, ...] = ("none", "bad", "revoked", "expired")

PHQ9 = [1, 1, 1, 1, 1, 1, 1, 1, 0]
CONTACT = {"display_name": "Wren Q. Example", "email": "wren@example.org", "phone": "+15550101"}
OTHER_CONTACT = {"display_name": "Ivo B. Other", "email": "ivo@other.example", "phone": "+15550177"}
NOTE = "matrix note: the lake house"
OTHER_NOTE = "other clinic's note: the orchard"


@dataclass
class World:
    """The journeys, notes and people every cell is made of."""

    api: Api
    own: str  # client of th and rx (clinic default)
    colleague: str  # client of th2 and rx2 (clinic default)
    other_clinic: str  # client of th_b and rx_b (clinic other), an id unknown to default
    notes: dict[str, str]  # subject -> a note's reference (own: th's; colleague: th2's; ...)
    other_journey: str  # the other clinic's journey id
    revoked: User
    expired: User
    alerts: dict[str, str]  # subject -> an alert's id (own: th's; colleague: th2's; ...)
    nobody: str = field(default_factory=lambda: f"cl-nobody-{uuid.uuid4().hex[:8]}")
    nobody_note: str = "n-" + "0" * 32
    nobody_alert: str = "00000000-0000-4000-8000-000000000000"

    def user(self, role: Role) -> User:
        return {"therapist": self.api.th, "prescriber": self.api.rx, "ops": self.api.ops}[role]

    def client(self, subject: Subject | Literal["nobody"]) -> str:
        return self.nobody if subject == "nobody" else getattr(self, subject)

    def note(self, subject: Subject | Literal["nobody"]) -> str:
        return self.nobody_note if subject == "nobody" else self.notes[subject]

    def alert(self, subject: Subject | Literal["nobody"]) -> str:
        return self.nobody_alert if subject == "nobody" else self.alerts[subject]

    @property
    def secrets(self) -> list[str]:
        """What nothing of the clinic "default" may ever show."""
        api = self.api
        return [
            self.other_journey,
            api.th_b.clinician_id,
            api.rx_b.clinician_id,
            api.ops_b.clinician_id,
            OTHER_CONTACT["display_name"],
            OTHER_CONTACT["email"],
            OTHER_NOTE,
            self.notes["other_clinic"],
            self.alerts["other_clinic"],
        ]


Target = Literal["own", "colleague", "other_clinic", "nobody"]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None


def _decision() -> dict[str, Any]:
    return {
        "type": "record_screening",
        "decision_id": f"d-{uuid.uuid4().hex[:12]}",
        "instrument": "phq9",
        "answers": PHQ9,
    }


def _start(w: World, target: Target) -> dict[str, Any]:
    api = w.api
    assignees = {
        "own": (api.th, api.rx),
        "colleague": (api.th2, api.rx2),
        "other_clinic": (api.th_b, api.rx_b),
    }
    body: dict[str, Any] = {"client_id": f"cl-{uuid.uuid4().hex[:10]}"}
    if target == "nobody":  # a clinic that does not exist, clinicians who do not
        body |= {"therapist_id": "th-nobody", "prescriber_id": "rx-nobody", "clinic_id": "nowhere"}
    else:
        th, rx = assignees[target]
        body |= {"therapist_id": th.clinician_id, "prescriber_id": rx.clinician_id}
        if target == "other_clinic":
            body["clinic_id"] = OTHER_CLINIC
    return body


def _clinician(w: World, target: Target) -> dict[str, str]:
    api = w.api
    whose = {"own": None, "colleague": api.th2, "other_clinic": api.th_b}
    if target == "nobody":
        return {"clinician_id": "th-nobody"}
    who = whose[target]
    return {} if who is None else {"clinician_id": who.clinician_id}


Build = Callable[[World, Target], Call]


@dataclass(frozen=True)
class Row:
    """One route: how to call it on a subject, and what each role gets on each subject."""

    build: Build
    expect: dict[Subject, dict[Role, int]]
    same_body_as_nobody: bool = True  # False where the answer lists the caller's own audit
    erases: bool = False  # run after every other route


def _each(status: int) -> dict[Role, int]:
    return dict.fromkeys(ROLES, status)


def _roles(therapist: int, prescriber: int, ops: int) -> dict[Role, int]:
    return {"therapist": therapist, "prescriber": prescriber, "ops": ops}


_READ: dict[Subject, dict[Role, int]] = {
    "own": _each(200),
    "colleague": _roles(403, 403, 200),
    "other_clinic": _each(404),
}

MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/journeys/{client_id}"): Row(
        lambda w, t: Call("GET", f"/journeys/{w.client(t)}"), _READ
    ),
    ("GET", "/journeys/{client_id}/events"): Row(
        lambda w, t: Call("GET", f"/journeys/{w.client(t)}/events"), _READ
    ),
    ("GET", "/journeys/{client_id}/decisions"): Row(
        lambda w, t: Call("GET", f"/journeys/{w.client(t)}/decisions"), _READ
    ),
    ("GET", "/journeys/{client_id}/outcomes"): Row(
        lambda w, t: Call("GET", f"/journeys/{w.client(t)}/outcomes"), _READ
    ),
    ("POST", "/journeys/{client_id}/decisions"): Row(
        lambda w, t: Call("POST", f"/journeys/{w.client(t)}/decisions", json=_decision()),
        {
            "own": _roles(200, 200, 403),  # a clinician's, not ops'
            "colleague": _each(403),
            "other_clinic": _each(404),
        },
    ),
    ("POST", "/journeys/{client_id}/notes"): Row(
        lambda w, t: Call("POST", f"/journeys/{w.client(t)}/notes", json={"text": NOTE}),
        {
            "own": _roles(201, 403, 403),  # the client's therapist only
            "colleague": _each(403),
            "other_clinic": _roles(404, 403, 403),  # the role is refused first, as for nobody
        },
    ),
    ("GET", "/notes/{note_ref}"): Row(
        lambda w, t: Call("GET", f"/notes/{w.note(t)}"),
        {"own": _roles(200, 404, 404), "colleague": _each(404), "other_clinic": _each(404)},
    ),
    ("POST", "/journeys"): Row(
        lambda w, t: Call("POST", "/journeys", json=_start(w, t)),
        {
            "own": _roles(201, 403, 201),  # ops, or a therapist for their own client
            "colleague": _roles(403, 403, 201),
            "other_clinic": _each(403),  # journeys start in the caller's clinic only
        },
    ),
    ("GET", "/caseload"): Row(
        lambda w, t: Call("GET", "/caseload", params=_clinician(w, t)),
        {
            "own": _each(200),
            "colleague": _roles(403, 403, 200),
            "other_clinic": _roles(403, 403, 200),  # ops: an empty list, as for nobody
        },
    ),
    ("GET", "/audit"): Row(
        lambda w, t: Call("GET", "/audit", params={"client_id": w.client(t)}),
        {s: _roles(403, 403, 200) for s in SUBJECTS},
        same_body_as_nobody=False,  # the caller's own clinic's attempts on that id are listed
    ),
    ("GET", "/journeys/{client_id}/sessions"): Row(
        lambda w, t: Call("GET", f"/journeys/{w.client(t)}/sessions"), _READ
    ),
    ("GET", "/reports/adverse-events"): Row(
        lambda w, t: Call("GET", "/reports/adverse-events"), {s: _each(200) for s in SUBJECTS}
    ),
    ("GET", "/reports/controlled-substances"): Row(
        lambda w, t: Call("GET", "/reports/controlled-substances"),
        {s: _roles(403, 200, 200) for s in SUBJECTS},  # prescribers and ops
    ),
    ("GET", "/alerts"): Row(
        lambda w, t: Call("GET", "/alerts", params={"include_acknowledged": "true"}),
        {s: _each(200) for s in SUBJECTS},  # the caller's own alerts, whatever the subject
    ),
    ("POST", "/alerts/{alert_id}/acknowledge"): Row(
        lambda w, t: Call("POST", f"/alerts/{w.alert(t)}/acknowledge"),
        {
            "own": _roles(200, 403, 403),  # an alert for the therapist th: th only
            "colleague": _each(403),  # th2's
            "other_clinic": _each(404),  # th_b's: not there, as for nobody
        },
    ),
    # The clinic's protocol: any clinician reads their own clinic's; only its clinical lead
    # (none of the roles here) publishes, refused before the values are looked at.
    ("GET", "/protocols/current"): Row(
        lambda w, t: Call("GET", "/protocols/current"), {s: _each(200) for s in SUBJECTS}
    ),
    ("GET", "/protocols"): Row(
        lambda w, t: Call("GET", "/protocols"), {s: _each(200) for s in SUBJECTS}
    ),
    ("POST", "/protocols"): Row(
        lambda w, t: Call("POST", "/protocols", json={"values": {"bp_systolic_limit": 130}}),
        {s: _each(403) for s in SUBJECTS},
    ),
    ("DELETE", "/clients/{client_id}"): Row(
        lambda w, t: Call("DELETE", f"/clients/{w.client(t)}"),
        {
            "own": _roles(403, 403, 200),
            "colleague": _roles(403, 403, 200),
            "other_clinic": _roles(403, 403, 404),  # the role is refused first, as for nobody
        },
        erases=True,
    ),
}

# The caller's own lists: answered 2xx whatever the subject, holding nothing of the other clinic.
LISTS = (
    "/caseload",
    "/audit",
    "/alerts",
    "/reports/adverse-events",
    "/reports/controlled-substances",
    "/protocols/current",
    "/protocols",
)

# No token needed: the survey pages (the link is the credential), health, the API's own docs.
PUBLIC: dict[tuple[str, str], Call] = {
    ("GET", "/healthz"): Call("GET", "/healthz"),
    ("GET", "/surveys/{link}"): Call("GET", "/surveys/k1.not-a-link"),
    ("POST", "/surveys/{link}"): Call(
        "POST", "/surveys/k1.not-a-link", json={"answers": {"phq9": PHQ9}}
    ),
    ("GET", "/s/{link}"): Call("GET", "/s/k1.not-a-link"),
    ("POST", "/s/{link}"): Call("POST", "/s/k1.not-a-link"),
    ("GET", "/openapi.json"): Call("GET", "/openapi.json"),
    ("GET", "/docs"): Call("GET", "/docs"),
    ("GET", "/docs/assets/{name}"): Call("GET", "/docs/assets/swagger-ui.css"),
    # The web app: a session cookie, not a token (tests/api/test_web_sign_in.py); without one
    # every page goes to the sign-in page, and a form without its CSRF token is refused.
    ("GET", "/app"): Call("GET", "/app"),
    ("GET", "/app/sign-in"): Call("GET", "/app/sign-in"),
    ("POST", "/app/sign-in"): Call("POST", "/app/sign-in"),
    ("POST", "/app/sign-out"): Call("POST", "/app/sign-out"),
    ("GET", "/app/journeys/{client_id}"): Call("GET", "/app/journeys/cl-1"),
    ("POST", "/app/journeys/{client_id}/decisions"): Call("POST", "/app/journeys/cl-1/decisions"),
    ("GET", "/app/alerts"): Call("GET", "/app/alerts"),
    ("GET", "/app/caseload"): Call("GET", "/app/caseload"),
    ("POST", "/app/alerts/{alert_id}/acknowledge"): Call(
        "POST", "/app/alerts/00000000-0000-4000-8000-000000000000/acknowledge"
    ),
}
PUBLIC_STATUS = {
    "/healthz": 200,
    "/surveys/{link}": 404,
    "/s/{link}": 404,
    "/app": 303,
    "/app/sign-in": 200,
    "/app/sign-out": 303,
    "/app/journeys/{client_id}": 303,
    "/app/journeys/{client_id}/decisions": 303,
    "/app/alerts": 303,
    "/app/caseload": 303,
    "/app/alerts/{alert_id}/acknowledge": 303,
    "POST /app/sign-in": 403,  # by (method, path) where the methods differ
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD beside GET left out), from its routes
    and from its OpenAPI document (so a route is never missed however FastAPI nests them)."""

    def walk(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:  # an included router (FastAPI >= 0.16x)
                context = getattr(route, "include_context", None)
                yield from walk(inner.routes, prefix + (getattr(context, "prefix", "") or ""))
                continue
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    yield method, prefix + route.path

    found = set(walk(list(app.routes)))
    for path, operations in app.openapi()["paths"].items():
        found |= {(method.upper(), path) for method in operations}
    return found


async def _snapshot(api: Api) -> tuple[Any, ...]:
    """What a refused call must leave as it was: events, contact details, notes."""
    rows = await api.pool.fetchrow(
        "SELECT (SELECT count(*) FROM events) AS events,"
        " (SELECT md5(coalesce(string_agg(c::text, ',' ORDER BY c.clinic_id, c.client_id), ''))"
        "    FROM clients c) AS clients,"
        " (SELECT md5(coalesce(string_agg(n::text, ',' ORDER BY n.note_id), ''))"
        "    FROM psychotherapy_notes n) AS notes"
    )
    assert rows is not None
    return tuple(rows.values())


async def _world(api: Api) -> World:
    own = await api.started(contact=CONTACT)
    colleague = await api.started(therapist=api.th2, prescriber=api.rx2, contact=CONTACT)
    other = await api.started(
        api.ops_b, therapist=api.th_b, prescriber=api.rx_b, contact=OTHER_CONTACT
    )
    notes = {}
    for subject, client_id, author, text in (
        ("own", own, api.th, NOTE),
        ("colleague", colleague, api.th2, NOTE),
        ("other_clinic", other, api.th_b, OTHER_NOTE),
    ):
        written = await api.http.post(
            f"/journeys/{client_id}/notes", json={"text": text}, headers=author.headers
        )
        assert written.status_code == 201, written.text
        notes[subject] = written.json()["note_ref"]
    other_journey = (await api.get(api.ops_b, f"/journeys/{other}")).json()["journey_id"]
    alerts = {}
    for subject, client_id, user in (
        ("own", own, api.th),
        ("colleague", colleague, api.th2),
        ("other_clinic", other, api.th_b),
    ):
        alert = NewAlert(
            key=f"{uuid.uuid4()}:therapist:bp_hold",
            clinic_id=user.clinic,
            journey_id=journey_workflow_id(client_id, user.clinic),
            client_id=client_id,
            recipient_role="therapist",
            recipient_id=user.clinician_id,
            template="bp_hold",
            urgent=True,
        )
        alerts[subject] = str((await record_alert(api.pool, alert)).alert_id)
    revoked = await register(api.pool, "Rhea Revoked", "therapist")
    await revoke_tokens(api.pool, revoked.clinician_id)
    await api.catch_up()  # the read models (caseload, audit, outcomes) hold both clinics
    expired = await register(api.pool, "Ezra Expired", "ops")
    await api.pool.execute(
        "UPDATE api_tokens SET created_at = now() - interval '2 days',"
        " expires_at = now() - interval '1 day' WHERE clinician_id = $1",
        expired.clinician_id,
    )
    return World(api, own, colleague, other, notes, other_journey, revoked, expired, alerts)


def _headers(w: World, case: str) -> dict[str, str]:
    return {
        "none": {},
        "bad": {"Authorization": "Bearer cp_" + "x" * 43},
        "revoked": w.revoked.headers,
        "expired": w.expired.headers,
    }[case]


async def _send(http: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> httpx.Response:
    return await http.request(
        call.method, call.path, params=call.params, json=call.json, headers=headers
    )


def _normalized(response: httpx.Response, client_id: str) -> str:
    return response.text.replace(client_id, "<client>")


async def test_every_route_answers_every_caller_as_the_matrix_says(api: Api) -> None:
    app: FastAPI = api.http._transport.app  # type: ignore[attr-defined]
    routes = app_routes(app)
    missing = routes - set(MATRIX) - set(PUBLIC)
    assert not missing, f"routes without a row in the authorization matrix: {sorted(missing)}"
    stale = (set(MATRIX) | set(PUBLIC)) - routes
    assert not stale, f"rows of routes that no longer exist: {sorted(stale)}"

    w = await _world(api)
    other_view = (await api.get(api.ops_b, f"/journeys/{w.other_clinic}")).json()
    failures: list[str] = []
    cells = 0

    def check(ok: bool, cell: str, response: httpx.Response, why: str) -> None:
        if not ok:
            failures.append(f"{cell}: {why}; got {response.status_code} {response.text[:200]}")

    # Every token case on every authenticated route: 401, and nothing written. Each from an
    # address of its own: failed sign-ins are throttled per address.
    for (method, path), row in MATRIX.items():
        for case in TOKEN_CASES:
            cells += 1
            before = await _snapshot(api)
            transport = httpx.ASGITransport(app=app, client=(f"198.51.100.{cells}", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                response = await _send(http, row.build(w, "own"), _headers(w, case))
            cell = f"{method} {path} token={case}"
            check(response.status_code == 401, cell, response, "expected 401")
            check(await _snapshot(api) == before, cell, response, "it wrote something")

    # Every role on every subject, routes that erase last.
    for (method, path), row in sorted(MATRIX.items(), key=lambda item: item[1].erases):
        for role in ROLES:
            user = w.user(role)
            for subject in SUBJECTS:
                cells += 1
                cell = f"{method} {path} {role} on {subject}"
                expected = row.expect[subject][role]
                before = await _snapshot(api)
                response = await _send(api.http, row.build(w, subject), user.headers)
                check(response.status_code == expected, cell, response, f"expected {expected}")
                # Nothing of the other clinic, whatever the subject (a caseload, an audit log).
                leaked = [s for s in w.secrets if s in response.text]
                check(not leaked, cell, response, f"it revealed {len(leaked)} of theirs")
                if subject != "other_clinic":
                    continue
                check(not 200 <= response.status_code < 300 or path in LISTS,
                      cell, response, "a cross-clinic call answered 2xx")  # fmt: skip
                check(await _snapshot(api) == before, cell, response, "it wrote something")
                nobody = await _send(api.http, row.build(w, "nobody"), user.headers)
                check(
                    nobody.status_code == response.status_code,
                    cell,
                    response,
                    f"a client that does not exist gets {nobody.status_code}",
                )
                if row.same_body_as_nobody:
                    theirs = _normalized(response, w.other_clinic)
                    same = theirs == _normalized(nobody, w.nobody)
                    check(same, cell, response, f"not what nobody gets: {nobody.text[:200]}")

    # The public routes answer without a token (and a bad one changes nothing).
    for (method, path), call in PUBLIC.items():
        for case in ("none", "bad"):
            cells += 1
            response = await _send(api.http, call, _headers(w, case))
            wanted = PUBLIC_STATUS.get(f"{method} {path}", PUBLIC_STATUS.get(path, 200))
            check(
                response.status_code == wanted,
                f"{method} {path} token={case}",
                response,
                f"expected {wanted}",
            )

    # The other clinic's journey, contact details and note are as they were.
    assert (await api.get(api.ops_b, f"/journeys/{w.other_clinic}")).json() == other_view
    note = await api.get(api.th_b, f"/notes/{w.notes['other_clinic']}")
    assert note.status_code == 200 and note.json()["text"] == OTHER_NOTE
    assert not failures, f"{len(failures)} of {cells} cells:\n" + "\n".join(failures)
    assert cells == len(MATRIX) * (len(TOKEN_CASES) + len(ROLES) * len(SUBJECTS)) + 2 * len(PUBLIC)


def test_the_matrix_covers_every_role_and_subject() -> None:
    for key, row in MATRIX.items():
        assert set(row.expect) == set(SUBJECTS), key
        for subject, by_role in row.expect.items():
            assert set(by_role) == set(ROLES), (key, subject)
            if key not in {("GET", path) for path in LISTS}:
                assert not any(200 <= s < 300 for s in row.expect["other_clinic"].values()), key
