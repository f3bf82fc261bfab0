"""`carepath journey|decide|caseload|audit|report|alerts|users`: a thin client of the
clinicians' API.

The API's address and token come from settings (`CAREPATH_API_URL`, `CAREPATH_API_TOKEN`).
`--json` prints the API's JSON for scripts; otherwise plain text. Exit codes: 0 done, 1 refused
(rejected, forbidden, not found, not authorised), 2 bad input, 3 API unreachable or failing.
`users` talks to the database directly (it issues the tokens the API checks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from config.settings import Settings, get_settings

OK, REFUSED, BAD_INPUT, UNREACHABLE = 0, 1, 2, 3
HTTP_TIMEOUT = httpx.Timeout(45.0, connect=5.0)


class CliError(Exception):
    def __init__(self, code: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.body = body


# --- talking to the API ---------------------------------------------------------------------


def _exit_code(status: int) -> int:
    if status in (400, 422):
        return BAD_INPUT
    if status >= 500:
        return UNREACHABLE
    return REFUSED


def call(
    settings: Settings,
    method: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """The API's JSON answer; CliError for anything but success."""
    if not settings.api_token:
        raise CliError(BAD_INPUT, "no API token: set CAREPATH_API_TOKEN (see `users add`)")
    headers = {"Authorization": f"Bearer {settings.api_token}"}
    query = {k: v for k, v in (params or {}).items() if v is not None}
    url = settings.api_url.rstrip("/")
    try:
        with httpx.Client(base_url=url, timeout=HTTP_TIMEOUT, headers=headers) as http:
            response = http.request(method, path, json=body, params=query)
    except httpx.HTTPError as error:
        raise CliError(
            UNREACHABLE, f"the API is unreachable at {url} ({type(error).__name__})"
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {"detail": response.text[:200] or response.reason_phrase}
    if response.is_success:
        return answer
    detail = answer.get("detail") if isinstance(answer, dict) else None
    if response.status_code == 401:
        detail = f"not authorised: {detail or 'the token is missing, unknown or revoked'}"
    message = f"{detail or response.reason_phrase} ({response.status_code})"
    body_out = answer if isinstance(answer, dict) else {"detail": answer}
    raise CliError(
        _exit_code(response.status_code), message, {"status": response.status_code, **body_out}
    )


# --- plain output -----------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value) or "-"
    return str(value)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _journey_text(j: dict[str, Any]) -> str:
    doses = j.get("doses") or {}
    due = j.get("next_due")
    last = j.get("last_decision")
    pairs = [
        ("client", j.get("client_id")),
        ("journey", j.get("journey_id")),
        ("stage", j.get("stage")),
        ("status", j.get("status")),
        ("closed", j.get("closed_reason")),
        ("therapist", j.get("therapist_id")),
        ("prescriber", j.get("prescriber_id")),
        ("clinic", j.get("clinic_id")),
        ("doses", f"{doses.get('used', 0)} used of {doses.get('authorized', 0)} authorized"),
        ("next due", f"{due['kind']} at {due['at']}" if due else None),
        ("overdue", "yes" if j.get("overdue") else "no"),
        (
            "last decision",
            f"{last['type']} by {last['actor_id']} ({last['actor_role']}) at {last['at']}"
            if last
            else None,
        ),
    ]
    pairs += _course_pairs(j)
    return "\n".join(f"{k:<14}{_cell(v)}" for k, v in pairs)


def _minute(at: str | None) -> str | None:
    """An ISO time as read on a clinic's screen: to the minute, in UTC."""
    if not at:
        return None
    return datetime.fromisoformat(at).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _course_pairs(j: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The hold and why, a stopping course, booked visits and each dosing session."""
    pairs: list[tuple[str, str | None]] = []
    hold = j.get("safety_hold")
    if hold:
        by = hold.get("raised_by") or {}
        pairs.append(
            (
                "safety hold",
                f"{hold['reason']} ({hold['source']}) by {by.get('id')} at "
                f"{_minute(hold.get('raised_at'))}",
            )
        )
    stopping = j.get("stopping")
    if stopping:
        pairs.append(
            (
                "stopping",
                f"{stopping['reason']}: the prescriber's discharge follow-up is due by "
                f"{_minute(stopping.get('follow_up_due_at'))}",
            )
        )
    for visit in j.get("visits") or []:
        pairs.append(
            ("visit", f"{visit['kind']} {visit['visit_id']} at {_minute(visit['scheduled_at'])}")
        )
    for session in j.get("sessions") or []:
        parts = [session["status"], f"scheduled {_minute(session['scheduled_at'])}"]
        if session.get("dose_number"):
            parts.append(f"dose {session['dose_number']}")
        if session.get("started_at"):
            parts.append(f"started {_minute(session['started_at'])}")
        if session.get("monitoring_ends_at") and not session.get("completed_at"):
            parts.append(f"monitoring until {_minute(session['monitoring_ends_at'])}")
        vitals = session.get("last_vitals")
        if vitals:
            parts.append(
                f"BP {vitals['systolic']}/{vitals['diastolic']} at "
                f"{_minute(session.get('last_vitals_at'))}"
            )
        if session.get("completed_at"):
            signed = session.get("record_signed_at")
            parts.append(f"record signed {_minute(signed)}" if signed else "record unsigned")
        if session.get("adverse_events"):
            parts.append(f"{session['adverse_events']} adverse event(s)")
        pairs.append((f"session {session['session_id']}", " · ".join(parts)))
    return pairs


def _show(args: argparse.Namespace, answer: Any, text: Callable[[Any], str]) -> int:
    print(json.dumps(answer, indent=2) if args.json else text(answer))
    return OK


# --- verbs ----------------------------------------------------------------------------------


def _read_contact(source: str | None) -> dict[str, Any] | None:
    if source is None:
        return None
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        contact = json.loads(raw)
    except (OSError, ValueError):
        raise CliError(BAD_INPUT, "--contact must name a JSON file (or - for stdin)") from None
    if not isinstance(contact, dict):
        raise CliError(BAD_INPUT, "--contact must hold a JSON object")
    return contact


def _journey_start(args: argparse.Namespace) -> int:
    body = {
        "client_id": args.client,
        "therapist_id": args.therapist,
        "prescriber_id": args.prescriber,
        "clinic_id": args.clinic,
        "contact": _read_contact(args.contact),
    }
    answer = call(
        get_settings(), "POST", "/journeys", body={k: v for k, v in body.items() if v is not None}
    )
    return _show(args, answer, lambda j: f"journey started\n{_journey_text(j)}")


def _journey_show(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "GET", f"/journeys/{args.client}")
    return _show(args, answer, _journey_text)


def _events_text(timeline: dict[str, Any]) -> str:
    rows = [
        (e["version"], e["occurred_at"], e["type"], e["actor_id"], e["actor_role"])
        for e in timeline["events"]
    ]
    head = f"journey {timeline['journey_id']} of client {timeline['client_id']}"
    return f"{head}\n{table(rows, ['#', 'WHEN', 'EVENT', 'BY', 'ROLE'])}"


def _journey_events(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "GET", f"/journeys/{args.client}/events")
    return _show(args, answer, _events_text)


def _outcomes_text(outcomes: dict[str, Any]) -> str:
    rows = [
        (
            i["instrument"],
            m["recorded_at"],
            m["check_in"] or ("baseline" if m["baseline"] else "session"),
            m["total"],
            m["band"],
            # Blank where not judged (a baseline, a baseline below 10, the C-SSRS).
            {True: "yes", False: "no"}.get(m["response"], ""),
            {True: "yes", False: "no"}.get(m["remission"], ""),
            "SAFETY REVIEW" if m["risk"] else "",
        )
        for i in outcomes["instruments"]
        for m in i["measurements"]
    ]
    head = f"journey {outcomes['journey_id']} of client {outcomes['client_id']}"
    headers = ["INSTRUMENT", "WHEN", "WHAT", "TOTAL", "BAND", "RESPONSE", "REMISSION", "RISK"]
    unanswered = [
        f"{c['check_in']} {c['instrument']}: {c['status']}"
        for c in outcomes["check_ins"]
        if c["status"] != "answered"
    ]
    body = table(rows, headers) if rows else "no scores yet"
    return "\n".join([head, body, *unanswered])


def _journey_outcomes(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "GET", f"/journeys/{args.client}/outcomes")
    return _show(args, answer, _outcomes_text)


def _mg(value: Any) -> str:
    return "-" if value is None else f"{value} mg"


def _sessions_text(answer: dict[str, Any]) -> str:
    rows = []
    for s in answer["sessions"]:
        dose = s["dose"] or {}
        rows.append(
            (
                s["session_id"],
                s["dose_number"],
                s["status"],
                s["started_at"],
                f"{_mg(dose.get('dose_mg'))} {dose.get('route', '')}".strip() if dose else None,
                dose.get("lot"),
                dose.get("wasted_mg"),
                s["signed_at"] or ("due " + s["record_due_at"] if s["record_due_at"] else None),
                s["amendments"],
                f"{s['adverse_events']} ({s['serious_adverse_events']} serious)",
            )
        )
    headers = ["SESSION", "DOSE#", "STATUS", "STARTED", "DOSE", "LOT", "WASTED MG", "SIGNED"]
    headers += ["AMENDED", "ADVERSE EVENTS"]
    ledger = answer["ledger"]
    lines = [
        f"journey {answer['journey_id']} of client {answer['client_id']}",
        table(rows, headers) if rows else "no dosing sessions",
        f"doses: {ledger['doses_started']} started of {ledger['doses_authorized']} authorized, "
        f"{ledger['doses_recorded']} on record",
        f"mg: dispensed {ledger['dispensed_mg']} = administered {ledger['administered_mg']} "
        f"+ wasted {ledger['wasted_mg']} + unaccounted {ledger['unaccounted_mg']}",
    ]
    if answer["reconciled"]:
        lines.append("reconciled")
    else:
        missing = ", ".join(ledger["sessions_without_dose_record"]) or "none"
        lines.append(f"NOT RECONCILED: sessions without a dose record: {missing}")
    return "\n".join(lines)


def _journey_sessions(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "GET", f"/journeys/{args.client}/sessions")
    return _show(args, answer, _sessions_text)


def _decide_arg(value: Any) -> str:
    """A field's value as `carepath decide` reads it back (JSON when it parses)."""
    import shlex

    if isinstance(value, str) and field_value(value) == value:
        return shlex.quote(value)
    return shlex.quote(json.dumps(value, separators=(",", ":")))


def _available_text(client: str, offers: list[dict[str, Any]]) -> str:
    """Each decision you may take now as the `carepath decide` that takes it (the next steps,
    marked *, first); the fields to fill in are named, their values shown are samples."""
    if not offers:
        return f"no decision is open to you on {client} now"
    lines = [f"decisions you may take on {client} now (* the next step):"]
    for offer in offers:
        args = " ".join(
            f"--{name} {_decide_arg(value)}"
            for name, value in offer["fields"].items()
            if value is not None
        )
        mark = "*" if offer["next_step"] else " "
        lines.append(f"{mark} {offer['type']}")
        lines.append(f"    carepath decide {client} {offer['type']} {args}".rstrip())
        if offer["needs_input"]:
            asked = ", ".join(offer["needs_input"])
            lines.append(f"    fill in: {asked} (the values shown are samples)")
    return "\n".join(lines)


def _journey_decisions(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "GET", f"/journeys/{args.client}/decisions")
    return _show(args, answer, lambda offers: _available_text(args.client, offers))


def _adverse_events_text(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no adverse events"
    rows = [
        (
            e["recorded_at"],
            e["client_id"],
            e["session_id"],
            e["code"],
            e["severity"],
            "SERIOUS" if e["serious"] else "",
            e["seriousness"],
            e["outcome"],
            e["onset_at"],
            e["source"],
            e["actor_id"],
        )
        for e in entries
    ]
    headers = ["RECORDED", "CLIENT", "SESSION", "CODE", "SEVERITY", "SERIOUS", "SERIOUSNESS"]
    headers += ["OUTCOME", "ONSET", "SOURCE", "BY"]
    return table(rows, headers)


def _report_adverse_events(args: argparse.Namespace) -> int:
    params = {"serious": "true" if args.serious else None, "since": args.since}
    answer = call(get_settings(), "GET", "/reports/adverse-events", params=params)
    return _show(args, answer, _adverse_events_text)


_MG_FIELDS = ("dispensed_mg", "administered_mg", "wasted_mg", "unaccounted_mg")


def _substances_text(report: dict[str, Any]) -> str:
    journeys = [
        (
            j["client_id"],
            j["journey_id"],
            j["doses_authorized"],
            j["doses_started"],
            j["doses_recorded"],
            *(j[k] for k in _MG_FIELDS),
            j["sessions_without_dose_record"],
        )
        for j in report["journeys"]
    ]
    lots = [(lot["lot"], lot["doses"], *(lot[k] for k in _MG_FIELDS)) for lot in report["lots"]]
    t = report["totals"]
    mg = ["DISPENSED MG", "ADMINISTERED MG", "WASTED MG", "UNACCOUNTED MG"]
    found = len(report["discrepancies"])
    lines = [
        f"controlled substances, clinic {report['clinic_id']}: "
        + ("reconciled" if report["reconciled"] else f"{found} discrepancies"),
        "",
        table(
            journeys,
            ["CLIENT", "JOURNEY", "AUTHORIZED", "STARTED", "RECORDED", *mg, "NO DOSE RECORD"],
        )
        if journeys
        else "no journey has a dose authorized",
    ]
    if lots:
        lines += ["", table(lots, ["LOT", "DOSES", *mg])]
    lines += [
        "",
        f"total: {t['journeys']} journeys, {t['doses_started']} doses started of "
        f"{t['doses_authorized']} authorized, {t['doses_recorded']} on record; dispensed "
        f"{t['dispensed_mg']} mg = administered {t['administered_mg']} + wasted "
        f"{t['wasted_mg']} + unaccounted {t['unaccounted_mg']}",
    ]
    if found:
        lines += [
            "",
            "discrepancies (resolve: record_dose while the session record is unsigned, "
            "amend_session_record once signed):",
        ]
        lines += [
            f"  {d['kind']}: client {d['client_id']}: {d['detail']}"
            for d in report["discrepancies"]
        ]
    return "\n".join(lines)


def _report_substances(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "GET", "/reports/controlled-substances")
    return _show(args, answer, _substances_text)


def field_value(text: str) -> Any:
    """JSON when it parses (numbers, lists, objects, true/false), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_fields(tokens: Sequence[str]) -> tuple[dict[str, Any], str | None, bool]:
    """`--x-y v` pairs as fields {x_y: v}; also picks out --decision-id and --json."""
    fields: dict[str, Any] = {}
    decision_id: str | None = None
    as_json = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise CliError(BAD_INPUT, f"expected a --field, got an extra value at position {i + 1}")
        name, has_value, value = token[2:].partition("=")
        i += 1
        if not has_value:
            if i < len(tokens) and not tokens[i].startswith("--"):
                value = tokens[i]
                i += 1
            elif name == "json":
                as_json = True
                continue
            else:
                value = "true"
        key = name.replace("-", "_")
        if not key.isidentifier():
            raise CliError(BAD_INPUT, f"--{name} is not a field name")
        if key == "decision_id":
            decision_id = value
        elif key in fields:
            raise CliError(BAD_INPUT, f"--{name} is given twice")
        else:
            fields[key] = field_value(value)
    return fields, decision_id, as_json


def _decision_text(answer: dict[str, Any]) -> str:
    events = ", ".join(answer.get("events") or []) or "nothing new"
    return (
        f"accepted {answer['decision_id']}: recorded {events}\n"
        f"stage {answer['stage']}, status {answer['status']}"
    )


def _decide(args: argparse.Namespace) -> int:
    if any(token in ("-h", "--help") for token in args.fields):  # decide CLIENT TYPE --help
        print(_one_decision_help(args.type), end="")
        return OK
    fields, decision_id, as_json = parse_fields(args.fields)
    args.json = args.json or as_json
    decision_id = decision_id or args.decision_id or f"d-{uuid.uuid4().hex[:16]}"
    body = {**fields, "type": args.type, "decision_id": decision_id}
    answer = call(get_settings(), "POST", f"/journeys/{args.client}/decisions", body=body)
    return _show(args, answer, _decision_text)


def _caseload_text(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no journeys"
    rows = [
        (
            e["client_id"],
            e["stage"],
            e["status"],
            f"{e['doses_used']}/{e['doses_authorized']}",
            e["next_due_kind"],
            e["next_due_at"],
            e["therapist_id"],
            e["prescriber_id"],
        )
        for e in entries
    ]
    headers = ["CLIENT", "STAGE", "STATUS", "DOSES", "NEXT DUE", "AT", "THERAPIST", "PRESCRIBER"]
    return table(rows, headers)


def _caseload(args: argparse.Namespace) -> int:
    params = {"clinician_id": args.clinician, "include_closed": "true" if args.all else None}
    answer = call(get_settings(), "GET", "/caseload", params=params)
    return _show(args, answer, _caseload_text)


def _audit_text(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "nothing audited"
    rows = [
        (
            e["at"],
            e["kind"],
            e["actor_id"],
            e["actor_role"],
            e["client_id"],
            e["decision_type"] or e["read"],
            e["outcome"],
            e["reason"],
        )
        for e in entries
    ]
    return table(rows, ["AT", "KIND", "BY", "ROLE", "CLIENT", "WHAT", "OUTCOME", "REASON"])


def _audit(args: argparse.Namespace) -> int:
    params = {
        "client_id": args.client,
        "clinician_id": args.clinician,
        "kind": args.kind,
        "limit": args.limit,
    }
    answer = call(get_settings(), "GET", "/audit", params=params)
    return _show(args, answer, _audit_text)


def _alerts_text(entries: list[dict[str, Any]]) -> str:
    if not entries:
        return "no alerts"
    rows = [
        (
            e["alert_id"],
            e["created_at"],
            ("URGENT " if e["urgent"] else "") + e["template"],
            e["client_id"],
            e["recipient_role"],
            e["delivery"],
            e["acknowledged_by"] or "",
        )
        for e in entries
    ]
    headers = ["ALERT", "AT", "WHAT", "CLIENT", "FOR", "DELIVERY", "ACKNOWLEDGED BY"]
    return table(rows, headers)


def _alerts(args: argparse.Namespace) -> int:
    params = {"include_acknowledged": "true" if args.all else None}
    answer = call(get_settings(), "GET", "/alerts", params=params)
    return _show(args, answer, _alerts_text)


def _alerts_ack(args: argparse.Namespace) -> int:
    answer = call(get_settings(), "POST", f"/alerts/{args.alert_id}/acknowledge")
    return _show(
        args,
        answer,
        lambda a: (
            f"alert {a['alert_id']} acknowledged by {a['acknowledged_by']} "
            f"at {a['acknowledged_at']}"
        ),
    )


def _with_pool(work: Callable[[Any], Any]) -> Any:
    from database import create_pool

    async def run() -> Any:
        try:
            pool = await create_pool(get_settings())
        except Exception as error:
            raise CliError(
                UNREACHABLE, f"the database is unreachable ({type(error).__name__})"
            ) from None
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(run())


def channel_warnings(
    settings: Settings, clinician_id: str, *, email: str | None, phone: str | None
) -> list[str]:
    """What `users add` warns of: a clinician no email or SMS can reach sees alerts only in
    Carepath's alert list."""
    warnings = []
    if not email and not phone:
        warnings.append(
            f"warning: {clinician_id} has no email or phone: alerts reach them only in "
            "Carepath's alert list (`carepath alerts`)"
        )
    if not settings.smtp_host and not settings.sms_gateway_url:
        warnings.append(
            "warning: neither SMTP (CAREPATH_SMTP_HOST) nor an SMS gateway "
            "(CAREPATH_SMS_GATEWAY_URL) is configured: alerts reach clinicians only in "
            "Carepath's alert list (`carepath alerts`)"
        )
    return warnings


def _users_add(args: argparse.Namespace) -> int:
    from records.users import add_user

    clinician_id, token = _with_pool(
        lambda pool: add_user(pool, args.name, args.role, args.clinic, args.email, args.phone)
    )
    warnings = channel_warnings(get_settings(), clinician_id, email=args.email, phone=args.phone)
    for warning in warnings:
        print(warning, file=sys.stderr)
    answer = {
        "clinician_id": clinician_id,
        "role": args.role,
        "clinic_id": args.clinic,
        "token": token,
    }
    return _show(
        args,
        answer,
        lambda a: (
            f"clinician {a['clinician_id']} ({a['role']}, clinic {a['clinic_id']})\n"
            f"token {a['token']}\n"
            "The token is shown only this once: hand it to the clinician (CAREPATH_API_TOKEN)."
        ),
    )


def _users_token(args: argparse.Namespace) -> int:
    from records.users import issue_token

    try:
        token = _with_pool(lambda pool: issue_token(pool, args.clinician_id))
    except LookupError:
        raise CliError(REFUSED, "no such clinician") from None
    answer = {"clinician_id": args.clinician_id, "token": token}
    return _show(args, answer, lambda a: f"token {a['token']}\nShown only this once.")


def _users_revoke(args: argparse.Namespace) -> int:
    from records.users import revoke_tokens

    count = _with_pool(lambda pool: revoke_tokens(pool, args.clinician_id))
    answer = {"clinician_id": args.clinician_id, "revoked": count}
    return _show(args, answer, lambda a: f"revoked {a['revoked']} token(s)")


def _one_decision_help(decision: str) -> str:
    from cli.decisions_help import one_decision

    try:
        return one_decision(decision)
    except KeyError as error:
        raise CliError(BAD_INPUT, str(error.args[0])) from None


class _DecideHelp(argparse.Action):
    """`decide --help`: the decisions and their fields, generated from the domain's commands
    when asked (not at every start); `decide --help TYPE`: one decision."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs="?",
            metavar="TYPE",
            help=help,
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from cli.decisions_help import all_decisions

        if values is None:
            parser.epilog = all_decisions()
            parser.print_help()
            parser.exit()
        try:
            print(_one_decision_help(str(values)), end="")
        except CliError as error:
            parser.exit(error.code, f"carepath: {error.message}\n")
        parser.exit()


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except CliError as error:
            if getattr(args, "json", False):
                print(json.dumps(error.body or {"detail": error.message}, indent=2))
            print(f"carepath: {error.message}", file=sys.stderr)
            return error.code

    return guarded


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the API client's verbs to the `carepath` command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON (for scripts)")

    journey = subparsers.add_parser("journey", help="start a client's journey, or read it")
    verbs = journey.add_subparsers(dest="journey_command", required=True)
    start = verbs.add_parser("start", parents=[common], help="start a client's journey")
    start.add_argument("client", help="the client's opaque id")
    start.add_argument("--therapist", required=True, help="the therapist's clinician id")
    start.add_argument("--prescriber", required=True, help="the prescriber's clinician id")
    start.add_argument("--clinic", help="default: your clinic")
    start.add_argument(
        "--contact",
        metavar="FILE",
        help="a JSON file (- for stdin) with display_name, email, phone: kept apart from events",
    )
    start.set_defaults(run=_guarded(_journey_start))
    show = verbs.add_parser("show", parents=[common], help="the journey: stage, status, due")
    show.add_argument("client")
    show.set_defaults(run=_guarded(_journey_show))
    events = verbs.add_parser("events", parents=[common], help="the journey's event timeline")
    events.add_argument("client")
    events.set_defaults(run=_guarded(_journey_events))
    outcomes = verbs.add_parser(
        "outcomes", parents=[common], help="scores over time: response, remission, check-ins"
    )
    outcomes.add_argument("client")
    outcomes.set_defaults(run=_guarded(_journey_outcomes))
    sessions = verbs.add_parser(
        "sessions", parents=[common], help="dosing-session records and the substance ledger"
    )
    sessions.add_argument("client")
    sessions.set_defaults(run=_guarded(_journey_sessions))
    decisions = verbs.add_parser(
        "decisions", parents=[common], help="the decisions you may take now, ready to run"
    )
    decisions.add_argument("client")
    decisions.set_defaults(run=_guarded(_journey_decisions))

    decide = subparsers.add_parser(
        "decide",
        parents=[common],
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="make a decision on a client's journey (--help lists every decision)",
        description="Make a decision on a client's journey: fields as --name value (JSON when it "
        "parses), e.g.\n"
        "  carepath decide cl-1 record_screening --instrument phq9 --answers [1,2,1,0,0,1,2,1,0]",
    )
    decide.add_argument(
        "-h", "--help", action=_DecideHelp, help="every decision and its fields (TYPE: one)"
    )
    decide.add_argument("client")
    decide.add_argument("type", help="the decision, e.g. record_screening, pause (see below)")
    decide.add_argument("--decision-id", help="repeat one to retry safely (default: a new one)")
    decide.add_argument("fields", nargs=argparse.REMAINDER, help="--field value ...")
    decide.set_defaults(run=_guarded(_decide))

    caseload = subparsers.add_parser("caseload", parents=[common], help="your journeys")
    caseload.add_argument("--clinician", help="ops: this clinician's journeys")
    caseload.add_argument("--all", action="store_true", help="closed journeys too")
    caseload.set_defaults(run=_guarded(_caseload))

    audit = subparsers.add_parser("audit", parents=[common], help="the audit log (ops)")
    audit.add_argument("--client")
    audit.add_argument("--clinician")
    audit.add_argument("--kind", choices=["decision", "read"])
    audit.add_argument("--limit", type=int, default=50)
    audit.set_defaults(run=_guarded(_audit))

    report = subparsers.add_parser("report", help="the clinic's safety reports")
    report_verbs = report.add_subparsers(dest="report_command", required=True)
    adverse = report_verbs.add_parser(
        "adverse-events",
        parents=[common],
        help="adverse events, newest first (a therapist: their own clients')",
    )
    adverse.add_argument("--serious", action="store_true", help="the serious ones only")
    adverse.add_argument("--since", metavar="ISO", help="recorded then or later (ISO 8601)")
    adverse.set_defaults(run=_guarded(_report_adverse_events))
    substances = report_verbs.add_parser(
        "substances",
        parents=[common],
        help="the controlled-substance ledger and its discrepancies (prescribers, ops)",
    )
    substances.set_defaults(run=_guarded(_report_substances))

    alerts = subparsers.add_parser(
        "alerts", parents=[common], help="your alerts (ops: the clinic's), unacknowledged first"
    )
    alerts.add_argument("--all", action="store_true", help="acknowledged alerts too")
    alerts.set_defaults(run=_guarded(_alerts))
    alert_verbs = alerts.add_subparsers(dest="alerts_command")
    ack = alert_verbs.add_parser("ack", parents=[common], help="acknowledge one of your alerts")
    ack.add_argument("alert_id")
    ack.set_defaults(run=_guarded(_alerts_ack))

    users = subparsers.add_parser("users", help="clinicians and their API tokens")
    user_verbs = users.add_subparsers(dest="users_command", required=True)
    add = user_verbs.add_parser("add", parents=[common], help="register a clinician, issue a token")
    add.add_argument("name", help="the clinician's name (kept in the clinicians table only)")
    roles = ["therapist", "prescriber", "ops", "clinical_lead"]  # the lead governs protocols
    add.add_argument("--role", required=True, choices=roles)
    add.add_argument("--clinic", default="default")
    add.add_argument("--email")
    add.add_argument("--phone")
    add.set_defaults(run=_guarded(_users_add))
    token = user_verbs.add_parser("token", parents=[common], help="issue another token")
    token.add_argument("clinician_id")
    token.set_defaults(run=_guarded(_users_token))
    revoke = user_verbs.add_parser("revoke", parents=[common], help="revoke a clinician's tokens")
    revoke.add_argument("clinician_id")
    revoke.set_defaults(run=_guarded(_users_revoke))
