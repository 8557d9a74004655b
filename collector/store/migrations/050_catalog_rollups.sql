-- Event map rollups (issue 7): traffic per minute and edge, so the map can be shown for any
-- past window without reading raw events. Minutes are 'YYYY-MM-DDTHH:MM' (UTC), sortable text.
-- produce rows: events by producing service (events.source), type and topic, bucketed by event
-- time; consume rows: consumer spans joined to the event they consumed (parent or link),
-- bucketed by the consumer span's start. Rows are recomputed whole for the minutes that received
-- new events, spans or violations (INSERT OR REPLACE), so a refresh can run any number of times.

CREATE TABLE catalog_traffic_minute (
    minute      TEXT NOT NULL,
    kind        TEXT NOT NULL,              -- produce | consume
    service     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL DEFAULT '',   -- '' when the event came from no topic
    count       INTEGER NOT NULL,
    violations  INTEGER NOT NULL,           -- events with at least one schema violation
    errors      INTEGER NOT NULL,           -- producer or consumer spans with an error status
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (minute, kind, service, event_type, topic)
);

-- Consume edges per minute and producer-to-consumer latency bucket (an index into the
-- catalog's LATENCY_BUCKETS_MS), so a window's percentiles are merged from its minutes; the
-- consume rows of catalog_traffic_minute are sums of these.
CREATE TABLE catalog_latency_minute (
    minute      TEXT NOT NULL,
    service     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL DEFAULT '',
    bucket      INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (minute, service, event_type, topic, bucket)
);

-- How far each source table has been rolled up (its largest rowid seen).
CREATE TABLE catalog_rollup_marks (
    source_table  TEXT PRIMARY KEY,
    last_rowid    INTEGER NOT NULL
);

-- A consumer span points at the event it consumed by (trace id, producer span id).
CREATE INDEX catalog_events_trace_span ON events (trace_id, span_id) WHERE trace_id IS NOT NULL;

-- Declared contracts (AsyncAPI import): who says they produce or consume what, and where.
CREATE TABLE catalog_declarations (
    origin       TEXT NOT NULL,
    service      TEXT NOT NULL,
    role         TEXT NOT NULL,             -- producer | consumer
    event_type   TEXT NOT NULL,
    topic        TEXT NOT NULL DEFAULT '',
    payload      TEXT,                      -- the declared payload schema (JSON), if any
    imported_at  TEXT NOT NULL,
    PRIMARY KEY (origin, service, role, event_type, topic)
);
