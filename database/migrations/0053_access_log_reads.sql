-- Reads of a journey's outcomes (GET /journeys/{client_id}/outcomes) are logged like the others,
-- and a read that failed because a sealed value did not open is logged as 'unreadable'.
-- NOT VALID: each new set holds the old one, so the append-only log need not be rescanned (and
-- locked) to prove it.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure')) NOT VALID;
ALTER TABLE access_log DROP CONSTRAINT access_log_outcome_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_outcome_check
    CHECK (outcome IN ('ok', 'forbidden', 'not_found', 'unreadable')) NOT VALID;
