-- Outcomes done right (issue 13): response and remission are judged only on measurements after
-- the baseline, only against a baseline the instrument's rules accept (PHQ-9 and GAD-7: 10 or
-- more), and never for a screener (the C-SSRS); NULL where they are not judged. The rules are
-- `domain.instruments.judge` (sources in domain/instruments/phq9.py, gad7.py, pcl5.py); the
-- outcomes projection (projections/outcomes.py) applies them.
--
-- Rows written before were judged by the rules before (a baseline PHQ-9 of 3 in "remission",
-- 4 -> 2 a "response", a C-SSRS "response"): they are corrected here and by the projection.

ALTER TABLE outcomes
    ALTER COLUMN response DROP NOT NULL,
    ALTER COLUMN remission DROP NOT NULL;

-- A baseline is never judged: corrected at once, and kept so. A projection runner of the version
-- before (which wrote true/false there) fails its batch and retries until it is upgraded,
-- rather than write a journey's first screening by the old rules.
UPDATE outcomes SET response = NULL, remission = NULL WHERE is_baseline;
ALTER TABLE outcomes ADD CONSTRAINT outcomes_baseline_not_judged
    CHECK (NOT is_baseline OR (response IS NULL AND remission IS NULL));

-- Every later measurement is judged again by the projection itself, so that the rules live in
-- one place: its checkpoint is reset and the runner replays the log for it alone (the other
-- projections keep theirs and get only the events after them, so they wait for the replay to
-- reach them: well under a minute per million events), its upserts rewriting each row; until
-- its row is reached, a row keeps the flags it had. A runner of the version before
-- inserts without upserting: it fails on the rows already there and retries until upgraded.
DELETE FROM projection_checkpoints WHERE name = 'outcomes';
