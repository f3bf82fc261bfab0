-- Outcome check-ins after a completed course (workflows/followups.py): one row per journey,
-- check-in ("week-2", "week-4", "week-12") and instrument. `sent` when the invitation went out,
-- then `answered` (with the score: the clinical record) or `missed`. No other PHI: opaque ids,
-- instrument codes, totals, bands and the risk flag.
CREATE TABLE follow_up_check_ins (
    journey_id  text NOT NULL,
    check_in    text NOT NULL CHECK (check_in ~ '^[a-z0-9-]{1,40}$'),
    instrument  text NOT NULL CHECK (instrument IN ('phq9', 'gad7', 'pcl5', 'cssrs')),
    status      text NOT NULL CHECK (status IN ('sent', 'answered', 'missed')),
    total       integer,
    band        text,
    risk        boolean,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (journey_id, check_in, instrument),
    CONSTRAINT follow_up_check_ins_scored_when_answered CHECK (
        (status = 'answered') = (total IS NOT NULL AND band IS NOT NULL AND risk IS NOT NULL)
    )
);
CREATE INDEX follow_up_check_ins_by_status ON follow_up_check_ins (status, recorded_at);
