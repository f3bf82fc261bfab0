-- Audit log. Accepted decisions are a projection of the event log (rebuildable); rejected
-- decisions are not events, so the API records them in their own permanent table. The `audit`
-- view joins both. No PHI: ids, decision types, roles, times, outcomes, reasons in plain words.
CREATE TABLE audit_accepted (
    journey_id      text NOT NULL,
    decision_id     text NOT NULL,
    decision_type   text,
    actor_id        text NOT NULL,
    actor_role      text NOT NULL,
    decided_at      timestamptz NOT NULL,
    event_types     text[] NOT NULL,
    first_position  bigint NOT NULL,
    PRIMARY KEY (journey_id, decision_id)
);
CREATE INDEX audit_accepted_by_actor ON audit_accepted (actor_id, decided_at);

CREATE TABLE audit_rejected (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journey_id      text NOT NULL,
    decision_id     text NOT NULL,
    decision_type   text NOT NULL,
    actor_id        text NOT NULL,
    actor_role      text NOT NULL,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    rejection_code  text NOT NULL,
    reason          text NOT NULL
);
CREATE INDEX audit_rejected_by_journey ON audit_rejected (journey_id, decided_at);

CREATE VIEW audit AS
    SELECT journey_id, decision_id, decision_type, actor_id, actor_role, decided_at,
           'accepted' AS outcome, NULL::text AS rejection_code, NULL::text AS reason, event_types
      FROM audit_accepted
    UNION ALL
    SELECT journey_id, decision_id, decision_type, actor_id, actor_role, decided_at,
           'rejected', rejection_code, reason, ARRAY[]::text[]
      FROM audit_rejected;
