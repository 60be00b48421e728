-- The common append in one round trip (ADR 0005): lock the stream, check the expected version,
-- insert the events, write the outbox row and the stream's version, all in the caller's
-- (implicit) transaction. Called as one statement, so the round trips of BEGIN, five statements
-- and COMMIT become one. It does not notify subscribers: the store does, after the commit
-- (ADR 0008), since PostgreSQL serializes the commits of transactions that notified.
--
-- It does not look for already-stored event ids first: the unique index on event_id does. An
-- append carrying a stored id fails with a unique violation on keel_events_event_id_key, and
-- the client then takes the general path (which finds the stored ids and skips them). When the
-- expected version does not hold, nothing is written and the row says so (tx IS NULL): the
-- client takes the general path, which tells a conflict from a re-delivered batch.
--
-- Little is returned per event: the events of one append share one recorded time, taken once
-- the stream's lock is held (so it never goes back within a stream), and their seqs come back as
-- one array, unordered: the rows take their seqs in version order (the insert reads its rows in
-- that order and the identity hands out increasing values in a session), the order the global
-- order (tx_id, seq) relies on, so the client sorts the array to pair seqs with versions.

-- p_expected: the version the stream must be at (0 = no stream yet), NULL for any version.
-- Returns the version the stream was at, then (NULL when the version did not hold) the
-- transaction id, the events' seqs and their recorded time.
CREATE OR REPLACE FUNCTION keel_append(
    p_stream_id       TEXT,
    p_expected        BIGINT,
    p_event_ids       UUID[],
    p_event_types     TEXT[],
    p_schema_versions INTEGER[],
    p_payloads        JSONB[],
    p_metadata        JSONB[],
    p_occurred_at     TIMESTAMPTZ[]
) RETURNS TABLE (actual BIGINT, tx BIGINT, seqs BIGINT[], recorded TIMESTAMPTZ)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_actual   BIGINT;
    v_count    BIGINT := cardinality(p_event_ids);
    v_seqs     BIGINT[];
    v_recorded TIMESTAMPTZ;
BEGIN
    -- Before anything is written, so before the transaction is given its id (ADR 0002).
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));
    SELECT s.version INTO v_actual FROM keel_streams s WHERE s.stream_id = p_stream_id;
    v_actual := coalesce(v_actual, 0);
    IF p_expected IS NOT NULL AND p_expected <> v_actual THEN
        RETURN QUERY SELECT v_actual, NULL::BIGINT, NULL::BIGINT[], NULL::TIMESTAMPTZ;
        RETURN;
    END IF;

    v_recorded := clock_timestamp();
    WITH inserted AS (
        INSERT INTO keel_events (event_id, stream_id, stream_version, event_type,
            schema_version, payload, metadata, occurred_at, recorded_at)
        SELECT u.event_id, p_stream_id, v_actual + u.ord, u.event_type, u.schema_version,
            u.payload, u.metadata, u.occurred_at, v_recorded
        FROM unnest(p_event_ids, p_event_types, p_schema_versions, p_payloads, p_metadata,
                p_occurred_at)
            WITH ORDINALITY AS u(event_id, event_type, schema_version, payload, metadata,
                occurred_at, ord)
        ORDER BY u.ord
        RETURNING seq)
    SELECT array_agg(i.seq) INTO v_seqs FROM inserted i;

    -- One outbox row for the append (the client sends at most 2^20 events this way).
    INSERT INTO keel_outbox_ranges (stream_id, base_version, next_version, last_version)
    VALUES (p_stream_id, v_actual + 1, v_actual + 1, v_actual + v_count);
    INSERT INTO keel_streams AS s (stream_id, version) VALUES (p_stream_id, v_actual + v_count)
    ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;
    RETURN QUERY SELECT v_actual, pg_current_xact_id()::text::bigint, v_seqs, v_recorded;
END
$$;
