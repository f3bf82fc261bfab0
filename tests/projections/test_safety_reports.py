"""The safety read model (`projections.safety`): every journey's controlled-substance ledger it
reports is `domain.ledger.substance_ledger` of the journey's folded events, whatever doses were
recorded, signed and amended; its adverse events are the events' adverse events; a clinic sees
only its own rows; a rebuild gives the same rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from database.pgtypes import Pool
from domain import Event, fold
from domain import events as ev
from domain.ledger import substance_ledger
from domain.vocabulary import AdverseEventSeverity
from eventstore import EventStore
from projections import ProjectionRunner, SafetyProjection
from projections.safety_queries import (
    adverse_events,
    substance_journeys,
    substance_report,
)
from tests.domain.journey import CHECK_OK, DISCHARGE_OK, OPS, PRESCRIBER, THERAPIST, Journey
from tests.projections.test_projections import append

VITALS = {"systolic": 120, "diastolic": 80}
HIGH = {"systolic": 170, "diastolic": 105}
TABLES = ("safety_journeys", "safety_sessions", "adverse_events")


def dose(mg: str, lot: str = "KET-A1", **more: Any) -> dict[str, Any]:
    return {"dose_mg": mg, "route": "intramuscular", "lot": lot, **more}


@dataclass
class Session:
    """What happens at one dosing session, in this order."""

    doses: list[dict[str, Any]] = field(default_factory=list)  # record_dose, each replacing
    discharged: bool = True  # needs a dose on record
    at_discharge: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)  # report_adverse_event
    signed: bool = True
    amendments: list[dict[str, Any]] = field(default_factory=list)  # after signing


def run_session(j: Journey, sid: str, plan: Session, *, last: bool) -> None:
    j.do("schedule_dosing", session_id=sid, scheduled_at=j.now + timedelta(days=2))
    j.wait(days=2)
    j.do("start_dosing", session_id=sid, vitals=VITALS, transport_confirmed=True)
    j.wait(minutes=45)
    j.do("record_session_monitoring", session_id=sid, **CHECK_OK)
    for given_dose in plan.doses:
        j.do("record_dose", session_id=sid, dose=given_dose)
    for report in plan.reports:
        j.do("report_adverse_event", PRESCRIBER, session_id=sid, **report)
    if not plan.discharged:
        assert last, "a session left in progress must be the last"
        return
    j.wait(minutes=80)
    j.do("complete_dosing", session_id=sid, adverse_events=plan.at_discharge, **DISCHARGE_OK)
    if plan.signed:
        j.do("sign_session_record", PRESCRIBER, session_id=sid)
        for n, amendment in enumerate(plan.amendments):
            j.do(
                "amend_session_record",
                session_id=sid,
                reason="dose_corrected",
                **({"note_ref": f"amend-{n}"} | amendment),
            )
    j.wait(days=3)
    if j.s.safety_hold is not None:  # a grave adverse event held the course: assessed, cleared
        j.do("clear_safety_hold", PRESCRIBER, assessment_ref=f"as-{sid}")
    j.do("complete_integration")
    j.wait(days=2)


def journey(plans: list[Session], **start: Any) -> Journey:
    j = Journey()
    j.started(**start).screened()
    j.do("complete_consultation", treatment_goals=["reduce depressive symptoms"])
    j.do("refer_to_prescriber")
    j.do("schedule_prescriber_intake", PRESCRIBER, scheduled_at=j.now + timedelta(days=5))
    j.wait(days=5)
    j.do("approve_medication", PRESCRIBER, expires_at=j.now + timedelta(days=200))
    j.do("complete_preparation")
    for n, plan in enumerate(plans):
        run_session(j, f"s{n + 1}", plan, last=n == len(plans) - 1)
    return j


async def store(event_store: EventStore, events: list[Event]) -> str:
    """The events as one journey's stream, in two appends; its id."""
    stream = f"journey-safety-{uuid.uuid4().hex[:10]}"
    half = len(events) // 2
    await append(event_store, stream, events[:half], 0)
    await append(event_store, stream, events[half:], half)
    return stream


async def project(pool: Pool, batch_size: int = 1000) -> None:
    await ProjectionRunner(pool, SafetyProjection(), batch_size=batch_size).catch_up()


def expected_adverse_events(events: list[Event]) -> list[tuple[Any, ...]]:
    """(session, source, code, severity, seriousness, serious, outcome, onset) as the events
    state them, in the order they happened."""
    found: list[tuple[Any, ...]] = []
    for e in events:
        if isinstance(e, ev.AdverseEventReported):
            found.append(
                (e.session_id, "reported", e.code, e.severity.value,
                 [s.value for s in e.seriousness], e.serious, e.outcome.value, e.onset_at)
            )  # fmt: skip
        elif isinstance(e, ev.DosingSessionCompleted):
            for a in e.adverse_events:
                serious = a.severity is AdverseEventSeverity.SERIOUS
                found.append(
                    (e.session_id, "at_discharge", a.code, a.severity.value, [], serious, None,
                     None)
                )  # fmt: skip
    return found


def shown(entries: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (a.session_id, a.source, a.code, a.severity.value, [s.value for s in a.seriousness],
         a.serious, a.outcome.value if a.outcome else None, a.onset_at)
        for a in sorted(entries, key=lambda a: a.recorded_at)
    ]  # fmt: skip


async def assert_ledger_is_the_domain_s(
    pool: Pool, stream: str, events: list[Event], clinic: str = "default"
) -> None:
    state = fold(events)
    assert state is not None
    [row], _ = await substance_journeys(pool, clinic, [stream])
    assert row.ledger() == substance_ledger(state)
    assert row.client_id == state.client_id and row.therapist_id == state.therapist_id


async def snapshot(pool: Pool) -> dict[str, list[dict[str, Any]]]:
    return {
        t: [dict(r) for r in await pool.fetch(f"SELECT * FROM {t} ORDER BY 1, 2, 3")]
        for t in TABLES
    }


# --- a clinic's journeys, by hand -------------------------------------------------------------


def clinic_journeys() -> dict[str, Journey]:
    made = {}
    # Signed, then amended with a corrected dose; the second dose has waste witnessed, and an
    # adverse event at discharge and one reported later.
    made["amended"] = journey(
        [
            Session(doses=[dose("40"), dose("50")], amendments=[{"dose": dose("45")}]),
            Session(
                doses=[dose("60", "KET-B2", wasted_mg="15")],
                at_discharge=[{"code": "nausea", "severity": "mild"}],
                reports=[
                    {"code": "headache", "severity": "moderate", "outcome": "resolved"},
                ],
            ),
        ]
    )
    # More dispensed than given and wasted: 5 mg unaccounted for; a serious adverse event.
    made["unaccounted"] = journey(
        [
            Session(
                doses=[dose("50", "KET-B2", dispensed_mg="60", wasted_mg="5")],
                signed=False,
                reports=[
                    {
                        "code": "hypertension",
                        "severity": "severe",
                        "seriousness": ["hospitalisation"],
                        "outcome": "recovering",
                    }
                ],
            )
        ]
    )
    # The dose started, nothing on record yet.
    made["no_record"] = journey([Session(discharged=False)])
    # Held for blood pressure, then cancelled: no dose used.
    j = journey([])
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=2))
    j.wait(days=2)
    j.do("start_dosing", session_id="s1", vitals=HIGH, transport_confirmed=True)
    j.do("cancel_session", session_id="s1", reason="bp_above_limit")
    made["held"] = j
    # Moved to another therapist after its adverse event: the report is the new therapist's.
    j = journey(
        [Session(doses=[dose("50", "KET-C3")], reports=[{"code": "anxiety", "severity": "mild"}])]
    )
    j.do("reassign_clinician", OPS, role="therapist", clinician_id="th-2")
    made["reassigned"] = j
    # Another clinic's journey, with a dose and an adverse event of its own.
    dizzy = {"code": "dizziness", "severity": "serious"}
    made["other"] = journey(
        [Session(doses=[dose("70", "KET-Z9")], at_discharge=[dizzy])], clinic_id="other"
    )
    return made


async def test_the_ledger_and_the_adverse_events_are_the_domain_s(
    db_pool: Pool, event_store: EventStore
) -> None:
    made = clinic_journeys()
    streams = {name: await store(event_store, j.events) for name, j in made.items()}
    await project(db_pool, batch_size=7)  # batches that split journeys and decisions

    for name, j in made.items():
        clinic = "other" if name == "other" else "default"
        await assert_ledger_is_the_domain_s(db_pool, streams[name], j.events, clinic)

    amended, _ = await substance_journeys(db_pool, "default", [streams["amended"]])
    assert (amended[0].administered_mg, amended[0].wasted_mg) == (Decimal(105), Decimal(15))
    assert amended[0].dispensed_mg == Decimal(120)  # none stated: the dose and the waste

    report = await substance_report(db_pool, "default")
    by_journey = {j.journey_id: j for j in report.journeys}
    assert set(by_journey) == {
        streams[n] for n in ("amended", "unaccounted", "no_record", "held", "reassigned")
    }
    assert by_journey[streams["held"]].doses_started == 0
    assert by_journey[streams["unaccounted"]].records_unsigned == ["s1"]
    assert by_journey[streams["no_record"]].sessions_without_dose_record == ["s1"]
    assert not report.reconciled
    found = {(d.kind, d.journey_id, d.session_id, d.amount_mg) for d in report.discrepancies}
    assert found == {
        ("unaccounted", streams["unaccounted"], "s1", Decimal(5)),
        ("no_dose_record", streams["no_record"], "s1", None),
    }
    lots = {lot.lot: lot for lot in report.lots}
    assert set(lots) == {"KET-A1", "KET-B2", "KET-C3"}  # not the other clinic's KET-Z9
    assert (lots["KET-A1"].doses, lots["KET-A1"].administered_mg) == (1, Decimal(45))
    assert (lots["KET-B2"].doses, lots["KET-B2"].dispensed_mg) == (2, Decimal(135))
    assert lots["KET-B2"].unaccounted_mg == Decimal(5)
    totals = report.totals
    assert (totals.journeys, totals.doses_started, totals.doses_recorded) == (5, 5, 4)
    assert totals.doses_authorized == 10
    assert (totals.dispensed_mg, totals.administered_mg, totals.wasted_mg) == (
        Decimal(230),
        Decimal(205),
        Decimal(20),
    )
    assert totals.unaccounted_mg == Decimal(5) and totals.sessions_without_dose_record == 1
    assert [s.session_id for s in report.sessions if s.journey_id == streams["amended"]] == [
        "s1",
        "s2",
    ]
    assert all(s.dose_number is not None for s in report.sessions)

    # Adverse events: both kinds, as the events state them; one clinic's only.
    default_events = [e for n, j in made.items() if n != "other" for e in j.events]
    listed = await adverse_events(db_pool, "default")
    assert sorted(shown(listed), key=repr) == sorted(
        expected_adverse_events(default_events), key=repr
    )
    assert [a.recorded_at for a in listed] == sorted((a.recorded_at for a in listed), reverse=True)
    assert {a.journey_id for a in listed} == {
        streams["amended"],
        streams["unaccounted"],
        streams["reassigned"],
    }
    serious = await adverse_events(db_pool, "default", serious=True)
    assert [(a.code, a.seriousness) for a in serious] == [("hypertension", ["hospitalisation"])]
    assert all(not a.serious for a in await adverse_events(db_pool, "default", serious=False))
    [reported] = [a for a in listed if a.code == "hypertension"]
    assert (reported.actor_id, reported.actor_role) == (PRESCRIBER.id, "prescriber")
    [at_discharge] = [a for a in listed if a.code == "nausea"]
    assert (at_discharge.actor_id, at_discharge.source) == (THERAPIST.id, "at_discharge")
    later = await adverse_events(db_pool, "default", since=reported.recorded_at)
    assert reported in later and all(a.recorded_at >= reported.recorded_at for a in later)
    assert await adverse_events(db_pool, "default", therapist_id="th-nobody") == []
    assert len(await adverse_events(db_pool, "default", therapist_id=THERAPIST.id)) == 3
    [moved] = await adverse_events(db_pool, "default", therapist_id="th-2")
    assert (moved.journey_id, moved.code, moved.therapist_id) == (
        streams["reassigned"],
        "anxiety",
        "th-2",
    )
    assert len(await adverse_events(db_pool, "default", limit=1)) == 1
    theirs = await adverse_events(db_pool, "other")
    assert [(a.code, a.serious, a.journey_id) for a in theirs] == [
        ("dizziness", True, streams["other"])
    ]
    other_report = await substance_report(db_pool, "other")
    assert [j.journey_id for j in other_report.journeys] == [streams["other"]]
    assert other_report.reconciled and [lot.lot for lot in other_report.lots] == ["KET-Z9"]
    assert (await substance_report(db_pool, "nowhere")).totals.journeys == 0

    # A rebuild gives the same rows.
    before = await snapshot(db_pool)
    assert all(before[t] for t in TABLES)
    await ProjectionRunner(db_pool, SafetyProjection(), batch_size=5).rebuild()
    assert await snapshot(db_pool) == before


async def test_later_events_update_the_rows_across_batches(
    db_pool: Pool, event_store: EventStore
) -> None:
    j = journey([Session(doses=[dose("50")], signed=False)])
    stream = f"journey-safety-{uuid.uuid4().hex[:10]}"
    await append(event_store, stream, j.events, 0)
    await project(db_pool)
    [row], _ = await substance_journeys(db_pool, "default", [stream])
    assert row.records_unsigned == ["s1"]
    version = len(j.events)
    j.do("sign_session_record", session_id="s1")
    j.do("amend_session_record", session_id="s1", reason="dose_corrected", dose=dose("55"))
    await append(event_store, stream, j.events[version:], version)
    await project(db_pool)
    await assert_ledger_is_the_domain_s(db_pool, stream, j.events)
    [row], [given_dose] = await substance_journeys(db_pool, "default", [stream])
    assert row.records_unsigned == [] and row.administered_mg == Decimal(55)
    assert (given_dose.signed, given_dose.amendments) == (True, 1)


# --- any doses, records, signatures and amendments --------------------------------------------

_mg = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(200), places=2)
_waste = st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=50, places=2))
_lots = st.sampled_from(["KET-A1", "KET-B2", "LOT-7.3/x"])
_routes = st.sampled_from(["intramuscular", "sublingual", "intranasal"])


@st.composite
def doses(draw: st.DrawFn) -> dict[str, Any]:
    given_mg, wasted = draw(_mg), draw(_waste)
    extra = draw(st.one_of(st.none(), st.decimals(min_value=0, max_value=20, places=2)))
    return {
        "dose_mg": str(given_mg),
        "route": draw(_routes),
        "lot": draw(_lots),
        "wasted_mg": str(wasted),
        "dispensed_mg": None if extra is None else str(given_mg + wasted + extra),
    }


_mild = st.fixed_dictionaries(
    {
        "code": st.sampled_from(["nausea", "headache"]),
        "severity": st.sampled_from(["mild", "moderate"]),
    }
)


@st.composite
def sessions(draw: st.DrawFn) -> list[Session]:
    plans = []
    for n in range(draw(st.integers(min_value=1, max_value=2))):
        recorded = draw(st.lists(doses(), max_size=3))
        discharged = bool(recorded) and (n == 0 or draw(st.booleans()))
        signed = discharged and draw(st.booleans())
        amendments = []
        if signed:
            amendments = draw(
                st.lists(st.one_of(doses().map(lambda d: {"dose": d}), st.just({})), max_size=2)
            )
        plans.append(
            Session(
                doses=recorded,
                discharged=discharged,
                at_discharge=draw(st.lists(_mild, max_size=2)) if discharged else [],
                reports=draw(st.lists(_mild, max_size=2)),
                signed=signed,
                amendments=amendments,
            )
        )
        if not discharged:
            break
    return plans


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=sessions(), batch_size=st.sampled_from([3, 11, 1000]))
async def test_any_journey_s_ledger_is_the_domain_s(
    db_pool: Pool, event_store: EventStore, plans: list[Session], batch_size: int
) -> None:
    # Examples share the database: each journey is a stream of its own.
    j = journey(plans)
    stream = await store(event_store, j.events)
    await project(db_pool, batch_size)
    await assert_ledger_is_the_domain_s(db_pool, stream, j.events)
    listed = [a for a in await adverse_events(db_pool, "default") if a.journey_id == stream]
    assert sorted(shown(listed), key=repr) == sorted(expected_adverse_events(j.events), key=repr)
