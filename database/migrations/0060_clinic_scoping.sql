-- Clinics share a deployment and see nothing of each other: client ids are per clinic, and
-- every table the API reads for a clinic names the clinic a row belongs to.
--
-- Rows written before this migration belong to the clinic "default" (the only clinic a
-- deployment had) unless the event log names another: a note or an audit row of a journey takes
-- the clinic of that journey's journey_started event; an audit row without a journey takes its
-- actor's clinic.

-- Contact details: one row per (clinic, client). `row_key` names the row in one string: the
-- client id in the clinic "default" (what values sealed before this migration are bound to),
-- `<clinic>~<client>` elsewhere ('~' is in no opaque id). Sealed values are bound to it, so a
-- value copied to another clinic's row does not open; `carepath keys reseal` pages by it.
ALTER TABLE clients ADD COLUMN clinic_id text NOT NULL DEFAULT 'default'
    CHECK (clinic_id ~ '^[A-Za-z0-9_.:-]{1,200}$');
ALTER TABLE clients ADD COLUMN row_key text NOT NULL GENERATED ALWAYS AS (
    CASE WHEN clinic_id = 'default' THEN client_id ELSE clinic_id || '~' || client_id END
) STORED;
ALTER TABLE clients DROP CONSTRAINT clients_pkey;
ALTER TABLE clients ADD PRIMARY KEY (clinic_id, client_id);
CREATE UNIQUE INDEX clients_by_row_key ON clients (row_key);

-- Psychotherapy notes: erased per clinic and client.
ALTER TABLE psychotherapy_notes ADD COLUMN clinic_id text NOT NULL DEFAULT 'default';
UPDATE psychotherapy_notes n SET clinic_id = e.data->>'clinic_id'
  FROM events e
 WHERE e.stream_id = n.journey_id AND e.stream_version = 1 AND e.event_type = 'journey_started'
   AND e.data->>'clinic_id' IS NOT NULL AND e.data->>'clinic_id' <> n.clinic_id;
DROP INDEX psychotherapy_notes_by_client;
CREATE INDEX psychotherapy_notes_by_client ON psychotherapy_notes (clinic_id, client_id);

-- The audit trail. New rows are written with the clinic of the caller (whose clinic is the only
-- one a caller can reach); GET /audit shows a clinic's rows only. Nullable: a row written
-- without a clinic is shown to no clinic rather than to the wrong one.
ALTER TABLE audit_rejected ADD COLUMN clinic_id text;
UPDATE audit_rejected r SET clinic_id = coalesce(
    (SELECT e.data->>'clinic_id' FROM events e
      WHERE e.stream_id = r.journey_id AND e.stream_version = 1
        AND e.event_type = 'journey_started'),
    (SELECT c.clinic_id FROM clinicians c WHERE c.clinician_id = r.actor_id),
    'default');
CREATE INDEX audit_rejected_by_clinic ON audit_rejected (clinic_id, decided_at);

-- A projection (rebuildable): the clinic of the decision's journey, from its first event.
ALTER TABLE audit_accepted ADD COLUMN clinic_id text;
UPDATE audit_accepted a SET clinic_id = e.data->>'clinic_id'
  FROM events e
 WHERE e.stream_id = a.journey_id AND e.stream_version = 1 AND e.event_type = 'journey_started';
CREATE INDEX audit_accepted_by_clinic ON audit_accepted (clinic_id, decided_at);

CREATE OR REPLACE VIEW audit AS
    SELECT journey_id, decision_id, decision_type, actor_id, actor_role, decided_at,
           'accepted' AS outcome, NULL::text AS rejection_code, NULL::text AS reason, event_types,
           clinic_id
      FROM audit_accepted
    UNION ALL
    SELECT journey_id, decision_id, decision_type, actor_id, actor_role, decided_at,
           'rejected', rejection_code, reason, ARRAY[]::text[], clinic_id
      FROM audit_rejected;

-- The append-only logs get their clinic once, here, with their guard lifted for this
-- transaction only.
ALTER TABLE access_log ADD COLUMN clinic_id text;
ALTER TABLE access_log DISABLE TRIGGER access_log_append_only;
UPDATE access_log l SET clinic_id = coalesce(
    (SELECT e.data->>'clinic_id' FROM events e
      WHERE e.stream_id = l.journey_id AND e.stream_version = 1
        AND e.event_type = 'journey_started'),
    (SELECT c.clinic_id FROM clinicians c WHERE c.clinician_id = l.actor_id),
    'default');
ALTER TABLE access_log ENABLE TRIGGER access_log_append_only;
CREATE INDEX access_log_by_clinic ON access_log (clinic_id, read_at);
-- 'decision': a repeated decision id answered with the first answer (a read of that answer).
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision')) NOT VALID;

-- Codec server: the caller's clinic, and how many payloads it was refused (another clinic's).
ALTER TABLE codec_access_log ADD COLUMN clinic_id text;
ALTER TABLE codec_access_log ADD COLUMN refused integer NOT NULL DEFAULT 0;
ALTER TABLE codec_access_log DISABLE TRIGGER codec_access_log_append_only;
UPDATE codec_access_log l SET clinic_id = coalesce(
    (SELECT c.clinic_id FROM clinicians c WHERE c.clinician_id = l.actor_id), 'default');
ALTER TABLE codec_access_log ENABLE TRIGGER codec_access_log_append_only;
