-- The in-app alert list: every notice to a clinician (therapist, prescriber, ops), recorded
-- before any channel is tried (`records/alerts.py`, written by the notify activity), so that no
-- alert depends on email or SMS. One row per notice, keyed by its idempotency key: a retried
-- activity records it once. `recipient_id` is the clinician's id; for ops, the clinic's id (an
-- ops alert is for every ops of the clinic). `clinic_id` is the journey's clinic (from its
-- workflow id): a clinic sees and acknowledges its own alerts only.
--
-- `delivery`: 'pending' until a channel was tried; 'delivered' once one reached someone;
-- 'undelivered' when none did (no channel, no address, every address refused, or a channel
-- that is down and still being retried). Acknowledging keeps the first time and person.
-- No PHI: ids, the template code, the channel, times.
CREATE TABLE alerts (
    alert_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    idempotency_key text NOT NULL UNIQUE,
    clinic_id       text NOT NULL,
    journey_id      text NOT NULL,
    client_id       text NOT NULL,
    recipient_role  text NOT NULL CHECK (recipient_role IN ('therapist', 'prescriber', 'ops')),
    recipient_id    text NOT NULL,
    template        text NOT NULL,
    urgent          boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivery        text NOT NULL DEFAULT 'pending'
                    CHECK (delivery IN ('pending', 'delivered', 'undelivered')),
    channel         text,
    acknowledged_at timestamptz,
    acknowledged_by text,
    CHECK ((acknowledged_at IS NULL) = (acknowledged_by IS NULL))
);
-- A clinician's list (ops: the clinic's ops alerts), newest first.
CREATE INDEX alerts_by_recipient
    ON alerts (clinic_id, recipient_role, recipient_id, created_at DESC);

-- Reading one's alert list and acknowledging an alert go to the access log like other reads.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision', 'audit', 'user_added', 'token_issued', 'tokens_revoked',
                        'tokens_rotated', 'users_listed', 'alerts',
                        'alert_acknowledged')) NOT VALID;
