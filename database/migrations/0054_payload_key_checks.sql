-- One row per payload key id ever used with this database: a value derived from the key
-- (privacy.derived.key_check), never the key. A process given another key under a known id is
-- refused at start, before it can seal a contact detail or a note this database cannot open.
CREATE TABLE payload_key_checks (
    key_id        text PRIMARY KEY,
    key_check     text NOT NULL CHECK (key_check ~ '^[0-9a-f]{32}$'),
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
