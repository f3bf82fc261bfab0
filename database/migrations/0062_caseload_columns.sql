-- The caseload's follow-up facts as columns of their own, instead of paths into `state` (the
-- journey's folded domain state, serialized): when the journey started and closed, and its
-- protocol's check-in weeks and maintenance interval. The caseload projection writes them
-- (projections/caseload.py); here they are filled for the rows it wrote before, from `state`,
-- exactly as the follow-up sweep read them until now. A rebuild (`carepath projections rebuild`)
-- makes its staging table like this one (columns, NOT NULL, indexes) and fills them the same way.
--
-- NOT NULL: a projection runner of the version before cannot insert a row without them; it
-- fails its batch and retries until it is upgraded, rather than leave a row without them.

-- Rows written before the state was stored as a JSON object hold it as a JSON string: unwrapped
-- once, here (the state's readers decode an object).
UPDATE caseload SET state = (state #>> '{}')::jsonb WHERE jsonb_typeof(state) = 'string';

ALTER TABLE caseload
    ADD COLUMN started_at                timestamptz,
    -- When a closed journey closed: its closing decision's time (`journey_closed` the last
    -- event of a clinician's decision), else its last activity; NULL while it is open.
    ADD COLUMN closed_at                 timestamptz,
    ADD COLUMN follow_up_check_in_weeks  integer[],
    ADD COLUMN maintenance_interval_days integer;

UPDATE caseload SET
    started_at = (state->>'started_at')::timestamptz,
    closed_at = CASE WHEN status = 'closed' THEN COALESCE(
        CASE WHEN state->'last_decision'->>'type' = 'journey_closed'
             THEN (state->'last_decision'->>'at')::timestamptz END,
        (state->>'last_activity_at')::timestamptz) END,
    -- A state folded before protocols had these fields decodes to the protocol's defaults.
    follow_up_check_in_weeks = CASE
        WHEN jsonb_typeof(state->'protocol'->'follow_up_check_in_weeks') = 'array'
        THEN ARRAY(SELECT w.value::integer
                     FROM jsonb_array_elements_text(state->'protocol'->'follow_up_check_in_weeks')
                          WITH ORDINALITY AS w (value, n)
                    ORDER BY w.n)
        ELSE '{2,4,12}' END,
    maintenance_interval_days = COALESCE(
        (state->'protocol'->>'maintenance_interval_days')::integer, 45);

ALTER TABLE caseload
    ALTER COLUMN started_at SET NOT NULL,
    ALTER COLUMN follow_up_check_in_weeks SET NOT NULL,
    ALTER COLUMN maintenance_interval_days SET NOT NULL;

-- The follow-up sweep's "each client's latest journey".
CREATE INDEX caseload_by_client
    ON caseload (clinic_id, client_id, started_at DESC, journey_id DESC);
