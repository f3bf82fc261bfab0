"""After the faults: wait until every journey has no pending work, then check the record.

Each check counts what passed and lists what failed (the first failures in full). The store is
the truth the others are compared with: the workflow's state, the client's answers, the
notifications sent, the read models.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client

from chaos.driver import Journey, Record, describe, query_state
from chaos.stack import Delivered
from chaos.timeline import Timeline
from database.pgtypes import Pool
from domain import JourneyState, evolve, fold, next_due, parse_event
from domain.events import ScreeningRecorded
from domain.notifications import notices
from eventstore import EventStore, RecordedEvent
from projections import ProjectionRunner, all_projections

ENGINE_PREFIXES = ("due-", "referral-rejected-")  # decisions the workflow makes itself
IMMINENT = timedelta(seconds=60)  # a timer this close is waited for before checking
S = WorkflowExecutionStatus
BAD_STATUSES = {
    S.WORKFLOW_EXECUTION_STATUS_FAILED: "failed",
    S.WORKFLOW_EXECUTION_STATUS_TERMINATED: "terminated",
    S.WORKFLOW_EXECUTION_STATUS_TIMED_OUT: "timed out",
    S.WORKFLOW_EXECUTION_STATUS_CANCELED: "cancelled",
}


@dataclass
class Check:
    name: str
    what: str
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def judge(self, ok: bool, failure: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(failure)

    def row(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "what": self.what,
            "passed": self.passed,
            "failed": self.failed,
            "failures": self.failures[:25],
        }


class Checks:
    def __init__(self) -> None:
        self.all: dict[str, Check] = {}

    def add(self, name: str, what: str) -> Check:
        self.all[name] = Check(name, what)
        return self.all[name]

    def __getitem__(self, name: str) -> Check:
        return self.all[name]


# --- waiting until nothing is pending ----------------------------------------------------


async def why_busy(client: Client, store: EventStore, j: Journey) -> str | None:
    """Why this journey still has work to do; None when it has none."""
    try:
        desc = await describe(client, j.workflow_id)
    except Exception as error:
        return f"describe failed: {type(error).__name__}"
    status = desc.workflow_execution_info.status
    if status in BAD_STATUSES:
        return f"the workflow {BAD_STATUSES[status]}"
    if desc.pending_activities:
        parts = []
        for a in desc.pending_activities:
            failure = a.last_failure.message[:120] if a.HasField("last_failure") else ""
            parts.append(f"{a.activity_type.name} attempt {a.attempt} {failure}".strip())
        return f"{len(parts)} pending activities: " + "; ".join(parts)
    if desc.HasField("pending_workflow_task"):
        return f"a workflow task is pending (attempt {desc.pending_workflow_task.attempt})"
    if status != S.WORKFLOW_EXECUTION_STATUS_RUNNING:
        return None  # completed: the journey closed after its outbox and effects
    state = await query_state(client, j.workflow_id, within=20)
    if state is None:
        return "no answer to the state query"
    version = await store.stream_version(j.stream_id)
    if state.version != version:
        return f"the workflow is at version {state.version}, the store at {version}"
    item = next_due(state)
    if item is not None and item.at <= datetime.now(UTC) + IMMINENT:
        return f"{item.kind.value} due at {item.at.isoformat()} (its timer fires soon)"
    return None


async def settle(
    client: Client,
    store: EventStore,
    journeys: Sequence[Journey],
    timeline: Timeline,
    within: float,
) -> dict[str, str]:
    """Wait until no journey has pending work; what is still busy after `within` s, and why."""
    busy = {j.workflow_id: j for j in journeys if j.handle is not None}
    reasons: dict[str, str] = {}
    began = time.monotonic()
    said = began
    while busy:
        for workflow_id, journey in list(busy.items()):
            reason = await why_busy(client, store, journey)
            if reason is None:
                del busy[workflow_id]
                reasons.pop(workflow_id, None)
            else:
                reasons[workflow_id] = reason
        if not busy or time.monotonic() - began > within:
            break
        if time.monotonic() - said > 10:
            said = time.monotonic()
            sample = next(iter(reasons.items()))
            timeline.log(f"waiting for {len(busy)} journeys, e.g. {sample[0]}: {sample[1]}")
        await asyncio.sleep(2.0)
    return {workflow_id: reasons[workflow_id] for workflow_id in busy}


# --- the checks --------------------------------------------------------------------------


def _differences(a: JourneyState | None, b: JourneyState | None) -> str:
    if a is None or b is None:
        return f"{'workflow' if a is None else 'store'} has no state"
    left, right = a.model_dump(mode="json"), b.model_dump(mode="json")
    fields = sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))
    return f"workflow v{a.version}, store v{b.version}; fields differ: {', '.join(fields)}"


def _by_decision(records: Sequence[RecordedEvent]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for r in records:
        decision_id = str(r.metadata.get("decision_id"))
        grouped.setdefault(decision_id, []).append(r.type)
    return grouped


def _expected_notice_keys(records: Sequence[RecordedEvent]) -> list[str]:
    keys: list[str] = []
    state: JourneyState | None = None
    for r in records:
        event = parse_event(r.data)
        state = evolve(state, event)
        keys += [n.key for n in notices(state, [(str(r.event_id), event)])]
    return keys


def declare_checks() -> Checks:
    checks = Checks()
    checks.add("settled", "every journey finished its pending work (activities, tasks, timers)")
    checks.add("answered", "every decision got an answer (accepted or rejected)")
    checks.add("state_is_fold", "the workflow's `state` query equals the fold of its stream")
    checks.add("versions", "stream versions are 1..n with no gap")
    checks.add("event_ids_unique", "no event id appears twice in the store")
    checks.add("accepted_once", "each accepted decision's events are in the store exactly once")
    checks.add("rejected_none", "a rejected decision left no event in the store")
    checks.add("signals_once", "each signal's events are in the store at most once, as decided")
    checks.add("engine_once", "each timer/engine decision is in the store once")
    checks.add("no_strangers", "no events from decisions nobody made, no unknown streams")
    checks.add("repeats_same", "a decision sent again after its answer got the first answer")
    checks.add("as_predicted", "each answer is the one the domain predicts for the client's view")
    checks.add("notices_once", "one notification row per notice the stored events call for")
    checks.add("notices_done", "every notification row finished (sent or skipped)")
    checks.add("mail_matches", "each sent notification reached the mail server; no stray mail")
    checks.add("caseload_is_fold", "after catch-up, each caseload row matches the fold")
    checks.add("outcomes_match", "the outcomes rows match the stream's screenings")
    checks.add("audit_matches", "the audit rows match the stream's decisions")
    return checks


async def verify(
    client: Client,
    pool: Pool,
    journeys: Sequence[Journey],
    unsettled: dict[str, str],
    mail: Sequence[Delivered],
    timeline: Timeline,
) -> tuple[Checks, dict[str, Any]]:
    store = EventStore(pool)
    checks = declare_checks()
    facts: dict[str, Any] = {}
    started = [j for j in journeys if j.handle is not None]
    streams: dict[str, list[RecordedEvent]] = {}
    folds: dict[str, JourneyState | None] = {}
    for record in (r for j in journeys for r in j.records):  # also of journeys never started
        checks["answered"].judge(
            record.answer not in ("pending", "unanswered", "failed"),
            f"{record.summary()}: {record.answer} after {record.attempts} attempts "
            f"{dict(record.errors)} {record.note}",
        )
    for j in started:
        checks["settled"].judge(
            j.workflow_id not in unsettled,
            f"{j.workflow_id}: {unsettled.get(j.workflow_id)}",
        )
        records = await store.read_stream(j.stream_id)
        streams[j.stream_id] = records
        folded = fold(parse_event(r.data) for r in records) if records else None
        folds[j.stream_id] = folded
        state = await query_state(client, j.workflow_id, within=60)
        if state != folded:  # a timer may have fired in between: look once more
            await asyncio.sleep(2)
            records = await store.read_stream(j.stream_id)
            streams[j.stream_id] = records
            folded = fold(parse_event(r.data) for r in records) if records else None
            folds[j.stream_id] = folded
            state = await query_state(client, j.workflow_id, within=60)
        checks["state_is_fold"].judge(
            state is not None and state == folded,
            f"{j.workflow_id}: {_differences(state, folded)}",
        )
        versions = [r.stream_version for r in records]
        checks["versions"].judge(
            versions == list(range(1, len(records) + 1)),
            f"{j.stream_id}: versions {versions}",
        )
        _check_decisions(checks, j, records)
    # Event ids: across every stream the store holds, and as the store counts them.
    all_ids = Counter(str(r.event_id) for records in streams.values() for r in records)
    for event_id, count in all_ids.items():
        checks["event_ids_unique"].judge(count == 1, f"event {event_id} stored {count} times")
    row = await pool.fetchrow(
        "SELECT count(*) AS events, count(DISTINCT event_id) AS ids, "
        "count(DISTINCT stream_id) AS streams FROM events"
    )
    assert row is not None
    facts.update(events=row["events"], streams=row["streams"])
    checks["event_ids_unique"].judge(
        row["events"] == row["ids"], f"{row['events']} events but {row['ids']} distinct ids"
    )
    known = {j.stream_id for j in started}
    for (stream_id,) in await pool.fetch("SELECT DISTINCT stream_id FROM events"):
        checks["no_strangers"].judge(stream_id in known, f"unknown stream {stream_id}")
    await _check_notifications(checks, pool, started, streams, mail, facts)
    timeline.log("projections: catching up (caseload, audit, outcomes)")
    began = time.monotonic()
    applied = await ProjectionRunner(pool, all_projections()).catch_up()
    facts["projection_catch_up"] = {
        "events": applied,
        "seconds": round(time.monotonic() - began, 2),
    }
    await _check_projections(checks, pool, started, streams, folds)
    return checks, facts


def _check_decisions(checks: Checks, j: Journey, records: Sequence[RecordedEvent]) -> None:
    stored = _by_decision(records)
    made: dict[str, Record] = {}
    for record in j.records:
        made.setdefault(record.decision_id, record)
        found = stored.get(record.decision_id)
        where = f"{record.summary()}: store has {found}"
        if record.via in ("start", "update") and record.answer == "accepted":
            answer = record.events
            checks["accepted_once"].judge(found == answer, f"{where}, answer {answer}")
        elif record.answer == "rejected":
            checks["rejected_none"].judge(found is None, f"{where}, answer {record.code}")
        elif record.via == "signal":
            if record.answer == "delivered":
                expected = record.predicted
                checks["signals_once"].judge(found == expected, f"{where}, decided {expected}")
            else:  # it may or may not have arrived: at most once
                ok = found is None or found == record.predicted
                checks["signals_once"].judge(ok, f"{where} (not confirmed delivered)")
        if record.repeats:
            checks["repeats_same"].judge(
                not record.repeat_differs,
                f"{record.summary()}: first {record.events}, again {record.repeat_differs}",
            )
        if record.answer in ("accepted", "rejected"):
            checks["as_predicted"].judge(
                record.agrees,
                f"{record.summary()}: predicted {record.predicted or record.predicted_code}, "
                f"answered {record.events or record.code}",
            )
    for decision_id, types in stored.items():
        if decision_id in made:
            continue
        if decision_id.startswith(ENGINE_PREFIXES):
            checks["engine_once"].judge(
                len(types) == 1, f"{j.stream_id}: engine decision {decision_id} stored {types}"
            )
        else:
            checks["no_strangers"].judge(
                False, f"{j.stream_id}: events {types} of decision {decision_id} nobody made"
            )


async def _check_notifications(
    checks: Checks,
    pool: Pool,
    journeys: Sequence[Journey],
    streams: dict[str, list[RecordedEvent]],
    mail: Sequence[Delivered],
    facts: dict[str, Any],
) -> None:
    rows = await pool.fetch(
        "SELECT idempotency_key, journey_id, status, attempts FROM notifications"
    )
    by_journey: dict[str, list[Any]] = {}
    for r in rows:
        by_journey.setdefault(r["journey_id"], []).append(r)
    keys = Counter(r["idempotency_key"] for r in rows)
    for key, count in keys.items():
        checks["notices_once"].judge(count == 1, f"idempotency key {key} recorded {count} times")
    for j in journeys:
        expected = Counter(_expected_notice_keys(streams.get(j.stream_id, [])))
        got = Counter(r["idempotency_key"] for r in by_journey.get(j.workflow_id, []))
        missing, extra = expected - got, got - expected
        checks["notices_once"].judge(
            not missing and not extra,
            f"{j.workflow_id}: missing {sorted(missing)}, unexpected {sorted(extra)}",
        )
    for r in rows:
        checks["notices_done"].judge(
            r["status"] in ("sent", "skipped"),
            f"{r['idempotency_key']}: {r['status']} after {r['attempts']} attempts",
        )
    delivered = Counter(d.key for d in mail)
    sent = {r["idempotency_key"] for r in rows if r["status"] == "sent"}
    reached = {key.rsplit(":", 1)[0] for key in delivered}
    for key in sorted(sent):
        checks["mail_matches"].judge(key in reached, f"{key}: recorded as sent, no mail arrived")
    for key in sorted(reached - sent):
        checks["mail_matches"].judge(False, f"{key}: mail arrived, not recorded as sent")
    facts["notifications"] = {
        "rows": len(rows),
        "by_status": dict(Counter(r["status"] for r in rows)),
        "attempts_over_1": sum(1 for r in rows if r["attempts"] > 1),
        "mails": len(mail),
        "mails_sent_twice": sum(1 for c in delivered.values() if c > 1),
    }


async def _check_projections(
    checks: Checks,
    pool: Pool,
    journeys: Sequence[Journey],
    streams: dict[str, list[RecordedEvent]],
    folds: dict[str, JourneyState | None],
) -> None:
    caseload = {r["journey_id"]: r for r in await pool.fetch("SELECT * FROM caseload")}
    outcomes: dict[str, list[Any]] = {}
    for r in await pool.fetch("SELECT * FROM outcomes ORDER BY journey_id, global_position"):
        outcomes.setdefault(r["journey_id"], []).append(r)
    audit: dict[str, dict[str, list[str]]] = {}
    for r in await pool.fetch("SELECT journey_id, decision_id, event_types FROM audit_accepted"):
        audit.setdefault(r["journey_id"], {})[r["decision_id"]] = list(r["event_types"])
    for j in journeys:
        records = streams.get(j.stream_id, [])
        state = folds.get(j.stream_id)
        row = caseload.get(j.stream_id)
        if state is None:
            checks["caseload_is_fold"].judge(row is None, f"{j.stream_id}: a row, no events")
            continue
        if row is None:
            checks["caseload_is_fold"].judge(False, f"{j.stream_id}: no caseload row")
            continue
        raw = row["state"]
        stored = JourneyState.model_validate(json.loads(raw) if isinstance(raw, str) else raw)
        item = next_due(state)
        seen = (
            stored,
            row["stage"],
            row["status"],
            row["version"],
            row["doses_authorized"],
            row["doses_used"],
            row["next_due_kind"],
            row["next_due_at"],
        )
        wanted = (
            state,
            state.stage.value,
            state.status.value,
            len(records),
            state.doses.authorized,
            state.doses.used,
            item.kind.value if item else None,
            item.at if item else None,
        )
        checks["caseload_is_fold"].judge(
            seen == wanted,
            f"{j.stream_id}: row v{row['version']} {row['stage']}/{row['status']}, "
            f"fold v{state.version} {state.stage.value}/{state.status.value}"
            + ("" if stored == state else f"; {_differences(stored, state)}"),
        )
        screenings = [
            (r.global_position, parse_event(r.data))
            for r in records
            if r.type == "screening_recorded"
        ]
        rows = outcomes.get(j.stream_id, [])
        totals = [(p, e.score.total) for p, e in screenings if isinstance(e, ScreeningRecorded)]
        checks["outcomes_match"].judge(
            [(r["global_position"], r["total"]) for r in rows] == totals,
            f"{j.stream_id}: outcomes {[(r['global_position'], r['total']) for r in rows]}, "
            f"screenings {totals}",
        )
        decided = _by_decision(records)
        checks["audit_matches"].judge(
            audit.get(j.stream_id, {}) == decided,
            f"{j.stream_id}: audit {audit.get(j.stream_id)}, store {decided}",
        )
