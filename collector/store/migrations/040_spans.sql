-- Spans (issue 6): one row per (trace_id, span_id), whichever way the span arrived.
-- Ids are lowercase hex; times are the store's fixed UTC text, plus the exact nanoseconds.

CREATE TABLE spans (
    trace_id        TEXT NOT NULL,
    span_id         TEXT NOT NULL,
    parent_id       TEXT,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    service         TEXT NOT NULL,
    start_at        TEXT NOT NULL,
    end_at          TEXT NOT NULL,
    duration_us     INTEGER NOT NULL,
    status          TEXT NOT NULL,
    status_message  TEXT NOT NULL DEFAULT '',
    scope           TEXT NOT NULL DEFAULT '',
    attributes      TEXT NOT NULL DEFAULT '{}',  -- JSON object
    links           TEXT NOT NULL DEFAULT '[]',  -- JSON [[trace_id, span_id, {attributes}], ...]
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX spans_start ON spans (start_at);
CREATE INDEX spans_service_start ON spans (service, start_at);

-- Links by target, so that the spans linking into a trace (batch consumers) are found by index.
CREATE TABLE span_links (
    linked_trace_id  TEXT NOT NULL,
    linked_span_id   TEXT NOT NULL,
    trace_id         TEXT NOT NULL,
    span_id          TEXT NOT NULL,
    PRIMARY KEY (linked_trace_id, linked_span_id, trace_id, span_id)
);
