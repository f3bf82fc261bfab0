-- Lookups behind GET /audit: a client's journeys (from their journey_started events) and one
-- clinician's rejected decisions.
CREATE INDEX events_journey_started_by_client ON events ((data->>'client_id'))
    WHERE event_type = 'journey_started';
CREATE INDEX audit_rejected_by_actor ON audit_rejected (actor_id, decided_at);
CREATE INDEX audit_accepted_by_time ON audit_accepted (decided_at);
