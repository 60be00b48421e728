-- Payloads and metadata are stored as `json`, the text the client serialized, not `jsonb`
-- (ADR 0052): the store never looks inside them, and `jsonb` cost a parse into its binary form
-- on every append and a conversion back to text on every read (about 40% of what the server
-- spends returning an event). Rewrites the table once.
ALTER TABLE keel_events
    ALTER COLUMN payload TYPE json USING payload::json,
    ALTER COLUMN metadata TYPE json USING metadata::json;

-- keel_append takes the new column type (so a payload is not parsed into `jsonb` on the way
-- in); otherwise as in 0005.
DROP FUNCTION IF EXISTS keel_append(TEXT, BIGINT, UUID[], TEXT[], INTEGER[], JSONB[], JSONB[],
    TIMESTAMPTZ[]);
CREATE OR REPLACE FUNCTION keel_append(
    p_stream_id       TEXT,
    p_expected        BIGINT,
    p_event_ids       UUID[],
    p_event_types     TEXT[],
    p_schema_versions INTEGER[],
    p_payloads        JSON[],
    p_metadata        JSON[],
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
