-- Events and documents a projection skipped, kept with their reason. One row per projection,
-- event, stage and sink: a batch written again after a crash adds nothing.
CREATE TABLE keel_projection_dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    projection      TEXT    NOT NULL,
    stage           TEXT    NOT NULL,
    sink            TEXT    NOT NULL,
    doc_key         TEXT,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,
    position_commit INTEGER NOT NULL,
    position_seq    INTEGER NOT NULL,
    payload         TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    at_us           INTEGER NOT NULL,
    UNIQUE (projection, event_id, stage, sink)
);
