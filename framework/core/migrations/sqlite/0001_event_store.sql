-- Keel event store on SQLite. Times are microseconds since the Unix epoch (UTC).
CREATE TABLE IF NOT EXISTS keel_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       BLOB    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    occurred_at_us INTEGER NOT NULL,
    recorded_at_us INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE TABLE IF NOT EXISTS keel_streams (
    stream_id TEXT    PRIMARY KEY,
    version   INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS keel_snapshots (
    stream_id           TEXT    NOT NULL,
    stream_version      INTEGER NOT NULL,
    aggregate_type      TEXT    NOT NULL,
    schema_version      INTEGER NOT NULL,
    last_recorded_at_us INTEGER NOT NULL,
    state               TEXT    NOT NULL,
    PRIMARY KEY (stream_id, stream_version)
);

CREATE TABLE IF NOT EXISTS keel_checkpoints (
    name       TEXT    PRIMARY KEY,
    commit_pos INTEGER NOT NULL,
    seq        INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS keel_outbox (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL REFERENCES keel_events (seq)
);
