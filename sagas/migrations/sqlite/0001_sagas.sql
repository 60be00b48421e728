-- Saga instances: the queryable columns, and the whole instance as JSON in `body`.
CREATE TABLE keel_saga_instances (
    saga_type     TEXT    NOT NULL,
    saga_id       TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    current_step  INTEGER NOT NULL,
    deadline_us   INTEGER,
    version       INTEGER NOT NULL,
    body          TEXT    NOT NULL,
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (saga_type, saga_id)
);
CREATE INDEX keel_saga_instances_due ON keel_saga_instances (saga_type, deadline_us)
    WHERE deadline_us IS NOT NULL;
CREATE INDEX keel_saga_instances_state ON keel_saga_instances (saga_type, state);

-- Replies that could not be applied, with their reason.
CREATE TABLE keel_saga_dead_letters (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    saga_type TEXT    NOT NULL,
    saga_id   TEXT    NOT NULL,
    reason    TEXT    NOT NULL,
    reply     TEXT    NOT NULL,
    at_us     INTEGER NOT NULL
);
CREATE INDEX keel_saga_dead_letters_saga ON keel_saga_dead_letters (saga_id);

-- Participants' inbox: one row per handled command (by idempotency key) with its outcome.
CREATE TABLE keel_saga_inbox (
    participant     TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    outcome         TEXT    NOT NULL,
    recorded_at_us  INTEGER NOT NULL,
    PRIMARY KEY (participant, idempotency_key)
);
