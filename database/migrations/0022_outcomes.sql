-- Read model: instrument scores over time per journey, with response and remission flags.
CREATE TABLE outcomes (
    journey_id      text NOT NULL,
    global_position bigint NOT NULL,
    instrument      text NOT NULL,
    recorded_at     timestamptz NOT NULL,
    total           integer NOT NULL,
    band            text NOT NULL,
    is_baseline     boolean NOT NULL,
    baseline_total  integer NOT NULL,
    response        boolean NOT NULL,
    remission       boolean NOT NULL,
    PRIMARY KEY (journey_id, global_position)
);
CREATE INDEX outcomes_by_instrument ON outcomes (journey_id, instrument, recorded_at);
