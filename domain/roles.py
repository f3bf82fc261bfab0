"""Who may make which decision. Ops run the clinic but decide nothing clinical."""

from __future__ import annotations

from domain.vocabulary import Role

T, P, OPS, S = Role.THERAPIST, Role.PRESCRIBER, Role.OPS, Role.SYSTEM

ALLOWED_ROLES: dict[str, frozenset[Role]] = {
    "start_journey": frozenset({T, OPS}),
    "record_screening": frozenset({T, P, S}),
    "record_consent": frozenset({T}),
    "complete_consultation": frozenset({T}),
    "record_medical_clearance": frozenset({T, P}),
    "refer_to_prescriber": frozenset({T}),
    "acknowledge_referral": frozenset({P, OPS, S}),
    "record_referral_rejected": frozenset({S}),
    "schedule_prescriber_intake": frozenset({T, P, OPS}),
    "approve_medication": frozenset({P}),
    "decline_medication": frozenset({P}),
    "complete_preparation": frozenset({T}),
    "schedule_dosing": frozenset({T, OPS}),
    "start_dosing": frozenset({T}),
    "record_chaperone_check_in": frozenset({T, S}),
    "record_session_monitoring": frozenset({T, P}),
    "record_dose": frozenset({T, P}),
    "grant_discharge_exception": frozenset({P}),
    "complete_dosing": frozenset({T}),
    "sign_session_record": frozenset({T, P}),
    "amend_session_record": frozenset({T, P}),
    "report_adverse_event": frozenset({T, P}),
    "cancel_session": frozenset({T, OPS}),
    # Therapists book their own visits, the prescriber the follow-up, ops any (decide checks).
    "schedule_visit": frozenset({T, P, OPS}),
    "cancel_visit": frozenset({T, P, OPS}),
    "reassign_clinician": frozenset({OPS}),
    "complete_integration": frozenset({T}),
    "record_prescriber_follow_up": frozenset({P}),
    "raise_safety_hold": frozenset({T, P, OPS}),
    "clear_safety_hold": frozenset({T, P}),
    "pause": frozenset({T, P, OPS}),
    "resume": frozenset({T, P, OPS}),
    "withdraw": frozenset({T, P, OPS}),
    "discharge": frozenset({T, P}),
    "record_due_reached": frozenset({S}),
    "record_ended_outside": frozenset({S}),
}
