-- Every decode through the codec server (who saw decrypted Temporal payloads, how many, when).
-- Append-only. No PHI: ids, roles, counts.
CREATE TABLE codec_access_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id    text NOT NULL,
    actor_role  text NOT NULL,
    namespace   text,
    payloads    integer NOT NULL,
    decoded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX codec_access_log_by_time ON codec_access_log (decoded_at);

CREATE FUNCTION codec_access_log_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the codec access log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER codec_access_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON codec_access_log
    FOR EACH STATEMENT EXECUTE FUNCTION codec_access_log_reject_change();
