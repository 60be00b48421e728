-- Saga instances: the queryable columns, and the whole instance as JSON in `body`.
CREATE TABLE keel_saga_instances (
    saga_type    TEXT        NOT NULL,
    saga_id      TEXT        NOT NULL,
    state        TEXT        NOT NULL,
    current_step INTEGER     NOT NULL,
    deadline_us  BIGINT,
    version      BIGINT      NOT NULL,
    body         JSONB       NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (saga_type, saga_id)
);
CREATE INDEX keel_saga_instances_due ON keel_saga_instances (saga_type, deadline_us)
    WHERE deadline_us IS NOT NULL;
CREATE INDEX keel_saga_instances_state ON keel_saga_instances (saga_type, state);

-- Replies that could not be applied, with their reason.
CREATE TABLE keel_saga_dead_letters (
    id        BIGSERIAL   PRIMARY KEY,
    saga_type TEXT        NOT NULL,
    saga_id   TEXT        NOT NULL,
    reason    TEXT        NOT NULL,
    reply     JSONB       NOT NULL,
    at_us     BIGINT      NOT NULL
);
CREATE INDEX keel_saga_dead_letters_saga ON keel_saga_dead_letters (saga_id);

-- Participants' inbox: one row per handled command (by idempotency key) with its outcome.
CREATE TABLE keel_saga_inbox (
    participant     TEXT        NOT NULL,
    idempotency_key TEXT        NOT NULL,
    outcome         JSONB       NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (participant, idempotency_key)
);
