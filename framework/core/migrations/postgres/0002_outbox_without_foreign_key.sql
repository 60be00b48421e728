-- The outbox's rows are short-lived (deleted once published): drop the foreign key to the
-- events, so appends do not check it per row and deleting old events (retention) does not
-- scan the outbox.
ALTER TABLE keel_outbox DROP CONSTRAINT IF EXISTS keel_outbox_seq_fkey;
