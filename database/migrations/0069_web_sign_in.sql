-- Signing clinicians in to the web app (records/signin.py): Argon2id password hashes with the
-- failure count and lock, and server-side sessions kept as the SHA-256 of their token. No PHI.
CREATE TABLE clinician_passwords (
    clinician_id   text PRIMARY KEY REFERENCES clinicians (clinician_id) ON DELETE CASCADE,
    password_hash  text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    set_at         timestamptz NOT NULL,
    failures       integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until   timestamptz
);

CREATE TABLE web_sessions (
    session_hash   text PRIMARY KEY CHECK (session_hash ~ '^[0-9a-f]{64}$'),
    clinician_id   text NOT NULL REFERENCES clinicians (clinician_id) ON DELETE CASCADE,
    csrf_token     text NOT NULL CHECK (length(csrf_token) >= 32),
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    ended_at       timestamptz,
    ended_why      text CHECK (ended_why IN ('signed_out', 'password_set', 'tokens_revoked')),
    CHECK ((ended_at IS NULL) = (ended_why IS NULL))
);
CREATE INDEX web_sessions_live_by_clinician ON web_sessions (clinician_id)
    WHERE ended_at IS NULL;
