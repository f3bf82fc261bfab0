-- Reading the decisions a caller may take on a journey (`GET /journeys/{client_id}/decisions`,
-- 'decisions_available') goes to the access log like other reads. The list is 0067's and this.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision', 'audit', 'user_added', 'token_issued', 'tokens_revoked',
                        'tokens_rotated', 'users_listed', 'alerts', 'alert_acknowledged',
                        'sessions', 'adverse_events', 'controlled_substances', 'protocol',
                        'protocols', 'protocol_published', 'decisions_available')) NOT VALID;
