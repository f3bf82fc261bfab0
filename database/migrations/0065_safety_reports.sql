-- Read models of the safety reports (projections/safety.py; issue 12): the controlled-substance
-- ledger (per journey, per dosing session) and the adverse events, each row naming its clinic.
-- Projections: rebuildable from the event log (`carepath projections rebuild`). Quantities of
-- the drug are exact (numeric, two decimals), never floating point. No PHI: opaque ids, codes,
-- times and quantities.

-- One row per journey: whose it is, the doses authorized (the approval and every follow-up's
-- additional doses) and the doses started (a started dose counts as used, whatever followed).
CREATE TABLE safety_journeys (
    journey_id       text PRIMARY KEY,
    clinic_id        text NOT NULL,
    client_id        text NOT NULL,
    therapist_id     text NOT NULL,
    prescriber_id    text NOT NULL,
    doses_authorized integer NOT NULL DEFAULT 0,
    doses_started    integer NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX safety_journeys_by_clinic ON safety_journeys (clinic_id, client_id, journey_id);

-- One row per dosing session: its status, and the dose on record (the latest `dose_recorded`,
-- or an amendment's corrected dose). `dispensed_mg` is what was drawn from stock: as recorded,
-- or the dose plus the waste when none was stated (`domain.commands.DoseGiven.dispensed`).
CREATE TABLE safety_sessions (
    journey_id       text NOT NULL,
    session_id       text NOT NULL,
    clinic_id        text NOT NULL,
    client_id        text NOT NULL,
    status           text NOT NULL,
    scheduled_at     timestamptz NOT NULL,
    dose_number      integer,
    started_at       timestamptz,
    completed_at     timestamptz,
    dose_mg          numeric(7, 2),
    route            text,
    lot              text,
    dispensed_mg     numeric(7, 2),
    wasted_mg        numeric(7, 2),
    dose_recorded_at timestamptz,  -- when the dose on record was recorded or last amended
    signed_at        timestamptz,  -- the monitoring record's signature
    amendments       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (journey_id, session_id),
    CHECK (num_nulls(dose_mg, route, lot, dispensed_mg, wasted_mg, dose_recorded_at) IN (0, 6))
);
CREATE INDEX safety_sessions_by_clinic ON safety_sessions (clinic_id, journey_id);

-- One row per adverse event: reported at any time (`adverse_event_reported`, source
-- 'reported') or given at discharge (each of `dosing_session_completed.adverse_events`, source
-- 'at_discharge', which carry a code and a severity only: no onset, seriousness or outcome).
-- Keyed by the event's place in the log and its place in the event's list.
CREATE TABLE adverse_events (
    journey_id      text NOT NULL,
    global_position bigint NOT NULL,
    entry           integer NOT NULL,
    clinic_id       text NOT NULL,
    client_id       text NOT NULL,
    therapist_id    text NOT NULL,
    prescriber_id   text NOT NULL,
    session_id      text NOT NULL,
    source          text NOT NULL CHECK (source IN ('reported', 'at_discharge')),
    recorded_at     timestamptz NOT NULL,
    onset_at        timestamptz,
    code            text NOT NULL,
    severity        text NOT NULL,
    seriousness     text[] NOT NULL DEFAULT '{}',
    serious         boolean NOT NULL,
    outcome         text,
    actor_id        text NOT NULL,
    actor_role      text NOT NULL,
    PRIMARY KEY (journey_id, global_position, entry)
);
-- The clinic's report, newest first; a therapist's clients'.
CREATE INDEX adverse_events_by_clinic ON adverse_events (clinic_id, recorded_at DESC);
CREATE INDEX adverse_events_by_therapist
    ON adverse_events (clinic_id, therapist_id, recorded_at DESC);

-- Reading the reports goes to the access log like other reads: a journey's session records
-- ('sessions'), the adverse-event report ('adverse_events'), the controlled-substance report
-- ('controlled_substances'). The list is 0064's and these three.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision', 'audit', 'user_added', 'token_issued', 'tokens_revoked',
                        'tokens_rotated', 'users_listed', 'alerts', 'alert_acknowledged',
                        'sessions', 'adverse_events', 'controlled_substances')) NOT VALID;
