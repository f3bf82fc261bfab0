-- Bearer tokens of the clinicians' HTTP API, one or more per clinician. Only the SHA-256 of a
-- token is kept: the token itself is shown once, when it is issued, and never stored.
CREATE TABLE api_tokens (
    token_hash   text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    clinician_id text NOT NULL REFERENCES clinicians (clinician_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_by_clinician ON api_tokens (clinician_id) WHERE revoked_at IS NULL;
