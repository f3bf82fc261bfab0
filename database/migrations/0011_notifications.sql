-- One row per message, keyed by its idempotency key: a retried activity never sends a message
-- recorded as sent. Holds no PHI: ids, the template code, the channel, the outcome.
CREATE TABLE notifications (
    idempotency_key text PRIMARY KEY,
    journey_id      text NOT NULL,
    template        text NOT NULL,
    recipient_role  text NOT NULL,
    status          text NOT NULL CHECK (status IN ('sending', 'sent', 'skipped', 'rejected')),
    channel         text,
    attempts        integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX notifications_by_journey ON notifications (journey_id);
