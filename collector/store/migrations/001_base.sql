-- Choreoscope store, version 1: events, flows, dead letters, violations, outbox, positions, metrics.
-- Times are UTC text in one fixed format (YYYY-MM-DDTHH:MM:SS.ffffffZ), so they sort as text.

CREATE TABLE events (
    source          TEXT NOT NULL,
    id              TEXT NOT NULL,
    type            TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    causation_id    TEXT,
    subject         TEXT,
    dataschema      TEXT,
    trace_id        TEXT,
    span_id         TEXT,
    sequence        INTEGER,
    loc_source      TEXT NOT NULL,
    topic           TEXT,
    partition       INTEGER,
    "offset"        INTEGER,
    data            TEXT,            -- JSON after redaction; NULL when the capture policy keeps none
    instance_id     TEXT,            -- the flow instance the event joined, if any
    PRIMARY KEY (source, id)
);
CREATE INDEX events_correlation ON events (correlation_id, occurred_at);
CREATE INDEX events_instance ON events (instance_id, occurred_at);
CREATE INDEX events_type_time ON events (type, occurred_at);
CREATE INDEX events_time ON events (occurred_at);

CREATE TABLE business_keys (
    name    TEXT NOT NULL,
    value   TEXT NOT NULL,
    source  TEXT NOT NULL,
    id      TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    PRIMARY KEY (name, value, source, id)
);

CREATE TABLE flows (
    instance_id         TEXT PRIMARY KEY,
    correlation_id      TEXT NOT NULL,
    flow_type           TEXT NOT NULL,
    definition_version  INTEGER NOT NULL,
    status              TEXT NOT NULL,
    started_at          TEXT NOT NULL,
    last_event_at       TEXT NOT NULL,
    last_event_type     TEXT NOT NULL,
    event_count         INTEGER NOT NULL,
    ended_at            TEXT,
    next_deadline       TEXT,
    expected_next       TEXT NOT NULL DEFAULT '[]',
    stuck_step          TEXT,
    stuck_since         TEXT,
    sla_breached        INTEGER NOT NULL DEFAULT 0,
    sla_over_s          REAL,
    recovered           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX flows_correlation ON flows (correlation_id, started_at);
CREATE INDEX flows_status ON flows (status, flow_type);
CREATE INDEX flows_type_started ON flows (flow_type, started_at);

CREATE TABLE dead_letters (
    dl_id        INTEGER PRIMARY KEY,
    reason       TEXT NOT NULL,
    detail       TEXT NOT NULL,
    loc_source   TEXT NOT NULL,
    topic        TEXT,
    partition    INTEGER,
    "offset"     INTEGER,
    received_at  TEXT NOT NULL,
    raw          BLOB,
    key          BLOB,
    headers      TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX dead_letters_location ON dead_letters (loc_source, topic, partition, "offset");
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at);

CREATE TABLE violations (
    source          TEXT NOT NULL,
    id              TEXT NOT NULL,
    pointer         TEXT NOT NULL,
    keyword         TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    producer        TEXT NOT NULL,
    schema_version  INTEGER,
    message         TEXT NOT NULL,
    occurred_at     TEXT NOT NULL,
    PRIMARY KEY (source, id, pointer, keyword)
);
CREATE INDEX violations_type ON violations (event_type, producer, schema_version);

CREATE TABLE outbox (
    alert_id        TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    instance_id     TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    flow_type       TEXT NOT NULL,
    step            TEXT,
    at              TEXT NOT NULL,
    details         TEXT,
    sent_at         TEXT
);
CREATE INDEX outbox_unsent ON outbox (sent_at);

CREATE TABLE positions (
    reader       TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    next_offset  INTEGER NOT NULL,
    PRIMARY KEY (reader, topic, partition)
);

CREATE TABLE metrics (
    name    TEXT NOT NULL,
    labels  TEXT NOT NULL,
    value   REAL NOT NULL,
    at      TEXT NOT NULL
);
CREATE INDEX metrics_name_time ON metrics (name, at);
