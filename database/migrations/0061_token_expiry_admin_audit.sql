-- API tokens expire. A token issued from now on expires CAREPATH_TOKEN_TTL_DAYS (default 90)
-- after it is issued (`records/users.py` sets it). Tokens issued before this migration expire 90 days
-- after the migration ran, not after their creation: a deployment never locks its clinicians out
-- the moment it upgrades, and every old token is gone within 90 days (`carepath users rotate`).
ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz NOT NULL DEFAULT (now() + interval '90 days');
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_expire_after_creation
    CHECK (expires_at > created_at);

-- Admin actions go to the access log too: reads of the audit log itself ('audit'), and what
-- `carepath users` does to clinicians and their tokens. `subject_id` names the clinician an
-- admin action concerns (never a token or its hash); the actor of a `carepath users` command is
-- `cli:<the operating-system user>` with the role 'admin'.
ALTER TABLE access_log ADD COLUMN subject_id text;
ALTER TABLE access_log DROP CONSTRAINT access_log_resource_check;
ALTER TABLE access_log ADD CONSTRAINT access_log_resource_check
    CHECK (resource IN ('journey', 'events', 'outcomes', 'caseload', 'note', 'erasure',
                        'decision', 'audit', 'user_added', 'token_issued', 'tokens_revoked',
                        'tokens_rotated', 'users_listed')) NOT VALID;
