-- Events and documents a projection skipped, kept with their reason. One row per projection,
-- event, stage and sink: a batch written again after a crash adds nothing.
CREATE TABLE keel_projection_dead_letters (
    id              BIGSERIAL PRIMARY KEY,
    projection      TEXT      NOT NULL,
    stage           TEXT      NOT NULL,
    sink            TEXT      NOT NULL,
    doc_key         TEXT,
    event_id        UUID      NOT NULL,
    event_type      TEXT      NOT NULL,
    schema_version  BIGINT    NOT NULL,
    stream_id       TEXT      NOT NULL,
    stream_version  BIGINT    NOT NULL,
    position_commit BIGINT    NOT NULL,
    position_seq    BIGINT    NOT NULL,
    payload         JSONB     NOT NULL,
    reason          TEXT      NOT NULL,
    at_us           BIGINT    NOT NULL,
    UNIQUE (projection, event_id, stage, sink)
);
