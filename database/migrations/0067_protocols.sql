-- Protocols per clinic (issue 13): a registry of named, versioned protocols, changed only by a
-- clinical lead (`records/protocols.py`, `POST /protocols`). Each version is immutable and
-- identified by its content: `digest` is the SHA-256 of its values as canonical JSON
-- (`domain.protocol.protocol_digest`), `label` is `<name>.<n>+<first 12 hex of the digest>`,
-- the version a journey records when it pins it. A clinic's current version is its latest
-- (`seq`); a clinic without one gets the built-in defaults published as its first version, by
-- the engine, on first use. Publishing the current version's name and values again answers it;
-- publishing an older version's values again is a new version (the same digest, the next n).
-- No PHI: ids, settings, times.
CREATE TABLE protocols (
    clinic_id      text NOT NULL CHECK (clinic_id ~ '^[A-Za-z0-9_.:-]{1,200}$'),
    name           text NOT NULL CHECK (name ~ '^[a-z][a-z0-9-]{0,19}$'),
    number         integer NOT NULL CHECK (number BETWEEN 1 AND 999999),
    digest         text NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    label          text NOT NULL CHECK (label = name || '.' || number || '+' || left(digest, 12)),
    protocol       jsonb NOT NULL CHECK (jsonb_typeof(protocol) = 'object'),
    published_at   timestamptz NOT NULL DEFAULT now(),
    published_by   text NOT NULL,
    publisher_role text NOT NULL CHECK (publisher_role IN ('clinical_lead', 'system')),
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    PRIMARY KEY (clinic_id, name, number),
    UNIQUE (clinic_id, label)
);
-- The clinic's current version, and its versions newest first.
CREATE INDEX protocols_by_clinic ON protocols (clinic_id, seq DESC);

CREATE FUNCTION protocols_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'protocol versions are immutable: publish a new version (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER protocols_immutable
    BEFORE UPDATE OR DELETE ON protocols
    FOR EACH STATEMENT EXECUTE FUNCTION protocols_reject_change();

-- The clinical lead: governs the clinic's protocol (domain.vocabulary.Role.CLINICAL_LEAD).
ALTER TABLE clinicians DROP CONSTRAINT clinicians_role_check;
ALTER TABLE clinicians ADD CONSTRAINT clinicians_role_check
    CHECK (role IN ('therapist', 'prescriber', 'ops', 'clinical_lead'));

-- Reading the clinic's current protocol ('protocol') or its versions ('protocols'), and
-- publishing one ('protocol_published', refused or not), go to the access log like other reads.
-- The list is 0065's and these three.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision', 'audit', 'user_added', 'token_issued', 'tokens_revoked',
                        'tokens_rotated', 'users_listed', 'alerts', 'alert_acknowledged',
                        'sessions', 'adverse_events', 'controlled_substances', 'protocol',
                        'protocols', 'protocol_published')) NOT VALID;
