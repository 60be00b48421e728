-- The global order (tx_id, seq) is the table's key: one index serves ordering and uniqueness,
-- instead of a key on seq plus a separate (tx_id, seq) index that every append maintained.
ALTER TABLE keel_events DROP CONSTRAINT keel_events_pkey;
ALTER TABLE keel_events ADD PRIMARY KEY (tx_id, seq);
DROP INDEX IF EXISTS keel_events_global_order;
