-- Reads of journeys through the API (the journey, its events, a caseload): who read what, when,
-- and whether it was shown. Append-only. No PHI: ids, roles, what was read, the outcome.
-- journey_id is NULL when the client had no journey to read.
CREATE TABLE access_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journey_id  text,
    workflow_id text,
    client_id   text,
    actor_id    text NOT NULL,
    actor_role  text NOT NULL,
    resource    text NOT NULL CHECK (resource IN ('journey', 'events', 'caseload')),
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'forbidden', 'not_found')),
    read_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_log_by_time ON access_log (read_at);
CREATE INDEX access_log_by_client ON access_log (client_id, read_at);
CREATE INDEX access_log_by_actor ON access_log (actor_id, read_at);

CREATE FUNCTION access_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER access_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_reject_change();
