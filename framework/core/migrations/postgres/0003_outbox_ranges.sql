-- One outbox row per append instead of one per event: the row covers the versions the append
-- wrote to one stream. Entry ids are `id * 2^20 + (stream_version - base_version)`; publishing
-- advances `next_version`, and a row whose range is fully published is deleted.
CREATE TABLE IF NOT EXISTS keel_outbox_ranges (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id    TEXT   NOT NULL,
    base_version BIGINT NOT NULL,
    next_version BIGINT NOT NULL,
    last_version BIGINT NOT NULL
);

INSERT INTO keel_outbox_ranges (stream_id, base_version, next_version, last_version)
SELECT e.stream_id, e.stream_version, e.stream_version, e.stream_version
FROM keel_outbox o JOIN keel_events e ON e.seq = o.seq
ORDER BY o.id;

DROP TABLE keel_outbox;
