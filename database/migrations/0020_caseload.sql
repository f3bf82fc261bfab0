-- Read model: each journey's stage, status, dose ledger and next due item, per clinician.
-- `state` is the journey's folded domain state; the columns are derived from it.
CREATE TABLE caseload (
    journey_id       text PRIMARY KEY,
    client_id        text NOT NULL,
    therapist_id     text NOT NULL,
    prescriber_id    text NOT NULL,
    clinic_id        text NOT NULL,
    stage            text NOT NULL,
    status           text NOT NULL,
    closed_reason    text,
    doses_authorized integer NOT NULL,
    doses_used       integer NOT NULL,
    next_due_kind    text,
    next_due_at      timestamptz,
    version          integer NOT NULL,
    state            jsonb NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX caseload_by_therapist ON caseload (therapist_id, status);
CREATE INDEX caseload_by_prescriber ON caseload (prescriber_id, status);
CREATE INDEX caseload_by_next_due ON caseload (next_due_at) WHERE next_due_at IS NOT NULL;
