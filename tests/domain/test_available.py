"""`available`: the decisions an actor may take now are exactly those `decide` accepts.

Random journeys are driven through the pathway by taking offers (the pathway's next step most
often), from journeys folded to every stage (`stages()` of the event-store test), with time
passing between decisions; at every state each caller — the assigned therapist and one not
assigned, the assigned prescriber and one not, ops, the clinical lead — is checked:

(a) every offer's command, as the offer fills it, is accepted by `decide`;
(b) every offerable decision not offered has its probes all rejected;
(c) a closed journey offers nothing; a journey on a safety hold offers `clear_safety_hold` to
    its therapist and prescriber only, and nothing that a hold stops (`HOLD_STOPS`).

Scripted courses check the other direction: each decision the pathway's driver makes was
offered to its actor just before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import JourneyState, Rejection, decide
from domain.available import NOT_OFFERED, OFFERED, ORDER, Offer, available, probes
from domain.decide import HOLD_STOPS
from domain.roles import ALLOWED_ROLES
from domain.vocabulary import Actor, Role
from tests.domain.journey import (
    OPS,
    PHQ9_MODERATE,
    PRESCRIBER,
    THERAPIST,
    Journey,
    Rejected,
)
from tests.eventstore.test_accepted_commands_append import OPEN, stages

LEAD = Actor(id="lead-1", role=Role.CLINICAL_LEAD)
WAITS = [
    timedelta(0),
    timedelta(minutes=15),
    timedelta(minutes=45),
    timedelta(minutes=80),
    timedelta(hours=3),
    timedelta(days=1),
    timedelta(days=2),
    timedelta(days=4),
    timedelta(days=10),
    timedelta(days=40),
]


def callers(state: JourneyState) -> dict[str, Actor]:
    """Every kind of caller, the assigned clinicians as the state has them now."""
    return {
        "therapist": Actor(id=state.therapist_id, role=Role.THERAPIST),
        "other_therapist": Actor(id=f"{state.therapist_id}-not", role=Role.THERAPIST),
        "prescriber": Actor(id=state.prescriber_id, role=Role.PRESCRIBER),
        "other_prescriber": Actor(id=f"{state.prescriber_id}-not", role=Role.PRESCRIBER),
        "ops": OPS,
        "clinical_lead": LEAD,
    }


def check(j: Journey) -> dict[str, list[Offer]]:
    """Check (a), (b), (c) and the order for every caller; the offers by caller."""
    state, now = j.s, j.now
    by_caller = {}
    for name, actor in callers(state).items():
        offers = available(state, actor, now)
        by_caller[name] = offers
        types = [o.type for o in offers]
        assert len(types) == len(set(types)), types
        # (a) each offer is accepted as it stands, from its JSON fields
        for offer in offers:
            assert offer.type in OFFERED
            assert actor.role in ALLOWED_ROLES[offer.type]
            assert set(offer.needs_input) <= set(offer.fields), offer
            result = decide(state, offer.command(actor, "d-offer"), now)
            assert not isinstance(result, Rejection), (name, offer, result)
        # (b) the rest: every probe is refused
        for type_ in OFFERED - set(types):
            for probe in probes(state, actor, now, type_):
                result = decide(state, probe, now)
                assert isinstance(result, Rejection), (name, type_, probe, result)
        # the order: the next steps first, then the rest, each in ORDER
        flags = [o.next_step for o in offers]
        assert flags == sorted(flags, reverse=True), types
        for group in (True, False):
            ranks = [ORDER.index(o.type) for o in offers if o.next_step is group]
            assert ranks == sorted(ranks), types
        # (c)
        if state.is_closed:
            assert offers == []
        if state.safety_hold is not None and not state.is_closed:
            assert not set(types) & HOLD_STOPS, (name, types)
            clears = name in ("therapist", "prescriber")
            assert ("clear_safety_hold" in types) is clears, (name, types)
    return by_caller


def _resume(stage: str) -> Journey:
    built = stages()[stage]
    return Journey(now=built.now, state=built.state, events=list(built.events))


def _pick(data: st.DataObject, offers: list[Offer]) -> Offer:
    """The pathway's next step most often; withdrawals and discharges seldom."""
    nexts = [o for o in offers if o.next_step]
    if nexts and data.draw(st.integers(0, 9), label="next?") < 7:
        return data.draw(st.sampled_from(nexts), label="next step")
    quiet = [o for o in offers if o.type not in ("withdraw", "discharge")]
    if quiet and data.draw(st.integers(0, 9), label="stop?") > 0:
        return data.draw(st.sampled_from(quiet), label="offer")
    return data.draw(st.sampled_from(offers), label="any offer")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stage=st.sampled_from(OPEN), data=st.data())
def test_offers_are_exactly_what_decide_accepts_along_random_journeys(
    stage: str, data: st.DataObject
) -> None:
    j = _resume(stage)
    for _ in range(data.draw(st.integers(1, 30), label="steps")):
        by_caller = check(j)
        if j.s.is_closed:
            break
        j.now += data.draw(st.sampled_from(WAITS), label="wait")
        who = data.draw(st.sampled_from(sorted(by_caller)), label="caller")
        offers = available(j.s, callers(j.s)[who], j.now)  # after the wait
        if not offers:
            continue
        offer = _pick(data, offers)
        j.do(offer.type, callers(j.s)[who], **offer.fields)  # the offer's fields, as submitted
    check(j)


# --- scripted courses: what the driver decides was offered -----------------------------------


class Offered(Journey):
    """A journey whose every accepted decision must have been offered to its actor."""

    def try_(self, type_: str, actor: Actor = THERAPIST, /, **fields: Any) -> Any:
        before = self.state
        offered = [o.type for o in available(before, actor, self.now)] if before else []
        result = super().try_(type_, actor, **fields)
        if before is not None and not isinstance(result, Rejection) and type_ not in NOT_OFFERED:
            assert type_ in offered, f"{type_} was accepted but not offered to {actor}: {offered}"
        if self.state is not None:
            check(self)
        return result


def test_a_whole_course_is_offered_step_by_step() -> None:
    j = Offered().prepared()
    j.dose("s1")
    j.dose("s2", integrate=False)
    j.wait(days=1)
    j.do("record_prescriber_follow_up", PRESCRIBER, outcome="continue",
         expires_at=j.now + timedelta(days=60))  # fmt: skip
    j.do("complete_integration")
    j.dose("s3")
    assert j.s.is_closed is False
    assert available(j.s, THERAPIST, j.now)


def test_a_remote_session_a_hold_a_pause_and_a_stop_are_offered() -> None:
    j = Offered().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=2),
         mode="remote", chaperone_id="c1")  # fmt: skip
    j.wait(days=2)
    j.do(
        "start_dosing",
        session_id="s1",
        vitals={"systolic": 150, "diastolic": 95},
        transport_confirmed=True,
        chaperone_present=True,
    )  # fmt: skip  (held: BP)
    j.do("start_dosing", session_id="s1", vitals={"systolic": 120, "diastolic": 80},
         transport_confirmed=True, chaperone_present=True)  # fmt: skip
    j.wait(minutes=15)
    j.do("record_chaperone_check_in", session_id="s1")
    j.monitored("s1")
    j.do("grant_discharge_exception", PRESCRIBER, session_id="s1", reason="stable")
    j.wait(minutes=80)
    j.discharged("s1", vitals={"systolic": 150, "diastolic": 92})
    j.do("report_adverse_event", PRESCRIBER, session_id="s1", code="nausea", severity="severe")
    assert j.s.safety_hold is not None
    j.do("sign_session_record", session_id="s1")
    j.do("amend_session_record", session_id="s1", reason="typo", note_ref="n-1")
    j.do("clear_safety_hold", PRESCRIBER, assessment_ref="a-1")
    j.do(
        "schedule_visit", visit_id="v1", kind="integration", scheduled_at=j.now + timedelta(days=1)
    )
    j.do("cancel_visit", visit_id="v1")
    j.do("pause", OPS)
    j.do("resume", PRESCRIBER)
    j.do("withdraw", OPS)  # after a dose: the course stops
    assert j.s.stopping is not None
    offers = available(j.s, PRESCRIBER, j.now)
    assert offers[0].type == "record_prescriber_follow_up"
    assert offers[0].fields["outcome"] == "discontinue" and offers[0].needs_input == ()
    j.do("record_prescriber_follow_up", PRESCRIBER, **offers[0].fields)
    assert j.s.is_closed
    for actor in (THERAPIST, PRESCRIBER, OPS, LEAD):
        assert available(j.s, actor, j.now) == []


def test_clearance_referral_and_decline_are_offered() -> None:
    j = Offered().started().screened()
    j.do("complete_consultation", treatment_goals=["sleep"], contraindications=["pregnancy"])
    j.do("record_medical_clearance", PRESCRIBER, cleared=True)
    j.do("refer_to_prescriber")
    j.do("acknowledge_referral", OPS)
    j.do("schedule_prescriber_intake", OPS, scheduled_at=j.now + timedelta(days=3))
    j.do(
        "schedule_visit", visit_id="v1", kind="preparation", scheduled_at=j.now + timedelta(days=1)
    )
    j.do("reassign_clinician", OPS, role="prescriber", clinician_id="rx-2")
    j.do("decline_medication", Actor(id="rx-2", role=Role.PRESCRIBER))
    assert j.s.is_closed


# --- particular states ------------------------------------------------------------------------


def _types(j: Journey, actor: Actor) -> list[str]:
    return [o.type for o in available(j.s, actor, j.now)]


def test_consultation_offers_the_screening_first_with_answers_to_fill() -> None:
    j = Journey().started()
    offers = available(j.s, THERAPIST, j.now)
    assert [o.type for o in offers[:2]] == ["record_screening", "record_consent"]
    screening = offers[0]
    assert screening.next_step and screening.needs_input == ("answers",)
    assert screening.fields["instrument"] == "phq9"
    assert "approve_medication" not in _types(j, THERAPIST)
    j.do("record_screening", instrument="phq9", answers=PHQ9_MODERATE)
    assert available(j.s, THERAPIST, j.now)[0].fields["instrument"] == "gad7"


def test_the_prescriber_at_medication_review_is_offered_approval_first() -> None:
    j = Journey().referred()
    offers = available(j.s, PRESCRIBER, j.now)
    assert [o.type for o in offers[:2]] == ["approve_medication", "decline_medication"]
    assert offers[0].fields["expires_at"] > j.now.isoformat()
    assert "approve_medication" not in _types(j, THERAPIST)
    other = Actor(id="rx-2", role=Role.PRESCRIBER)
    assert available(j.s, other, j.now) == []  # not assigned: nothing


def test_scheduling_a_dose_respects_the_gap_and_the_expiry() -> None:
    j = Journey().prepared()
    j.dose("s1", integrate=False)
    j.do("complete_integration")
    # The follow-up is due 30 days after approval: a session a day ahead is still before it.
    offer = next(o for o in available(j.s, THERAPIST, j.now) if o.type == "schedule_dosing")
    assert offer.fields["session_id"] == "s2"
    # Close to the follow-up's date, the session is offered before it, not a day ahead.
    rx = j.s.prescription
    assert rx is not None
    j.now = rx.follow_up_due_at - timedelta(hours=6)
    offer = next(o for o in available(j.s, THERAPIST, j.now) if o.type == "schedule_dosing")
    assert offer.fields["scheduled_at"] < rx.follow_up_due_at.isoformat()


def test_a_held_journey_offers_clearing_to_its_clinicians_only() -> None:
    j = Journey().eligible()
    j.do("raise_safety_hold", OPS)
    therapist = available(j.s, THERAPIST, j.now)
    assert therapist[0].type == "clear_safety_hold"
    assert therapist[0].needs_input == ("assessment_ref",)
    assert "clear_safety_hold" in _types(j, PRESCRIBER)
    assert "clear_safety_hold" not in _types(j, OPS)
    assert "refer_to_prescriber" not in _types(j, THERAPIST)
    check(j)


def test_the_clinical_lead_and_the_engine_are_offered_nothing_of_theirs() -> None:
    j = Journey().eligible()
    assert available(j.s, LEAD, j.now) == []
    for offer in available(j.s, OPS, j.now):
        assert offer.type not in NOT_OFFERED


def test_every_decision_is_offerable_or_never_offered() -> None:
    decisions = set(ALLOWED_ROLES)
    assert decisions == OFFERED | NOT_OFFERED
    assert not OFFERED & NOT_OFFERED
    assert len(ORDER) == len(OFFERED)
    assert {t for t, roles in ALLOWED_ROLES.items() if roles <= {Role.SYSTEM}} <= NOT_OFFERED


def test_a_journey_not_started_offers_nothing() -> None:
    assert available(None, OPS, Journey().now) == []


@pytest.mark.parametrize("stage", OPEN)
def test_every_stage(stage: str) -> None:
    check(_resume(stage))


def test_an_offer_with_its_input_filled_is_accepted() -> None:
    j = Journey().prepared()
    j.do("schedule_dosing", session_id="s1", scheduled_at=j.now + timedelta(days=2))
    j.wait(days=2)
    start = next(o for o in available(j.s, THERAPIST, j.now) if o.type == "start_dosing")
    assert start.needs_input == ("vitals", "transport_confirmed")
    j.do(
        "start_dosing", THERAPIST, **(start.fields | {"vitals": {"systolic": 130, "diastolic": 85}})
    )
    dose = next(o for o in available(j.s, THERAPIST, j.now) if o.type == "record_dose")
    filled = {"dose": {"dose_mg": "40", "route": "sublingual", "lot": "L-9"}}
    j.do("record_dose", THERAPIST, **(dose.fields | filled))
    with pytest.raises(Rejected):  # not yet: the monitoring time
        j.do(
            "complete_dosing", THERAPIST, session_id="s1", vitals={"systolic": 120, "diastolic": 80}
        )
