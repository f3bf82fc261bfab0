-- The event log: append-only, one row per event.
CREATE TABLE events (
    -- Order of insertion, NOT of commit: see EventStore.read_all for why readers use
    -- (transaction_id, global_position) instead.
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL CHECK (stream_id ~ '^[A-Za-z0-9_.:-]{1,200}$'),
    stream_version integer NOT NULL CHECK (stream_version >= 1),
    event_id uuid NOT NULL,
    event_type text NOT NULL CHECK (event_type <> ''),
    schema_version integer NOT NULL CHECK (schema_version >= 1),
    data jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    -- actor id and role, causation/correlation ids, workflow id and run id
    metadata jsonb NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    -- The writing transaction; with pg_snapshot_xmin it tells readers which rows are final.
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

CREATE INDEX events_transaction_position_idx ON events (transaction_id, global_position);

CREATE FUNCTION events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
