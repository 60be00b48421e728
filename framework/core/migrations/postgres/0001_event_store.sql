-- Keel event store on PostgreSQL.
-- Each event records the id of the transaction that appended it (xid8). Readers of the global
-- order read by (tx_id, seq) and only below the oldest transaction still in flight
-- (pg_snapshot_xmin(pg_current_snapshot())), so a transaction that commits late is never skipped.
CREATE TABLE IF NOT EXISTS keel_events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id          XID8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id       UUID        NOT NULL UNIQUE,
    stream_id      TEXT        NOT NULL,
    stream_version BIGINT      NOT NULL,
    event_type     TEXT        NOT NULL,
    schema_version INTEGER     NOT NULL,
    payload        JSONB       NOT NULL,
    metadata       JSONB       NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (stream_id, stream_version)
);
CREATE INDEX IF NOT EXISTS keel_events_global_order ON keel_events (tx_id, seq);

CREATE TABLE IF NOT EXISTS keel_streams (
    stream_id TEXT   PRIMARY KEY,
    version   BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS keel_snapshots (
    stream_id        TEXT        NOT NULL,
    stream_version   BIGINT      NOT NULL,
    aggregate_type   TEXT        NOT NULL,
    schema_version   INTEGER     NOT NULL,
    last_recorded_at TIMESTAMPTZ NOT NULL,
    state            JSONB       NOT NULL,
    PRIMARY KEY (stream_id, stream_version)
);

CREATE TABLE IF NOT EXISTS keel_checkpoints (
    name       TEXT        PRIMARY KEY,
    commit_pos BIGINT      NOT NULL,
    seq        BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS keel_outbox (
    id  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq BIGINT NOT NULL REFERENCES keel_events (seq)
);
