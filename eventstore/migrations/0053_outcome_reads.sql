-- Reads of a journey's outcomes (GET /journeys/{client_id}/outcomes) are logged like the others.
-- NOT VALID: the new set holds the old one, so the append-only log need not be rescanned (and
-- locked) to prove it.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure')) NOT VALID;
