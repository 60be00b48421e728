-- The saga view of choreographed instances: the queryable columns, and the whole status as
-- JSON in `body` (steps completed and compensated, every event seen).
CREATE TABLE keel_choreography_instances (
    choreography   TEXT        NOT NULL,
    correlation_id UUID        NOT NULL,
    state          TEXT        NOT NULL,
    awaiting       TEXT,
    failure        TEXT,
    body           JSONB       NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (choreography, correlation_id)
);
-- "Instances in state S (waiting for step X) with no event since T."
CREATE INDEX keel_choreography_instances_state
    ON keel_choreography_instances (choreography, state, updated_at);
