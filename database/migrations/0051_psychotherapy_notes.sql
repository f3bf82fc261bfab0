-- Psychotherapy notes (HIPAA 164.501) are kept apart from the record: their own table, read only
-- by the authoring therapist. Events hold a reference (note_id), never the text. Erasure empties
-- the text and keeps the row, so references in the event log stay valid.
CREATE TABLE psychotherapy_notes (
    note_id     text PRIMARY KEY,
    journey_id  text NOT NULL,
    client_id   text NOT NULL,
    author_id   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    body        text,
    erased_at   timestamptz,
    CHECK ((body IS NULL) = (erased_at IS NOT NULL))
);
CREATE INDEX psychotherapy_notes_by_client ON psychotherapy_notes (client_id);

ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'caseload', 'note', 'erasure'));
