-- The outbox references events by seq; index the reference so deleting old events (retention)
-- does not scan the outbox for every row.
CREATE INDEX IF NOT EXISTS keel_outbox_seq ON keel_outbox (seq);
