-- The web app's sign-ins and sign-outs (api/web.py) go to the access log: 'signed_in',
-- 'signed_out'. The list is 0068's and these.
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision', 'audit', 'user_added', 'token_issued', 'tokens_revoked',
                        'tokens_rotated', 'users_listed', 'alerts', 'alert_acknowledged',
                        'sessions', 'adverse_events', 'controlled_substances', 'protocol',
                        'protocols', 'protocol_published', 'decisions_available', 'signed_in',
                        'signed_out')) NOT VALID;
