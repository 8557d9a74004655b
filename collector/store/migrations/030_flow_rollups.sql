-- Flow engine (issue 5): per-minute rollups of flow and step durations and the share within SLA.
-- One row per (minute, flow type, step); step '*' is the whole flow, 'From->To' a step.
-- minute is event time, UTC text like every time in the store; upserted by its key.

CREATE TABLE flow_rollups (
    minute      TEXT NOT NULL,
    flow_type   TEXT NOT NULL,
    step        TEXT NOT NULL,
    count       INTEGER NOT NULL,
    within_sla  INTEGER NOT NULL,
    p50_s       REAL,
    p95_s       REAL,
    p99_s       REAL,
    PRIMARY KEY (minute, flow_type, step)
);
CREATE INDEX flow_rollups_type ON flow_rollups (flow_type, step, minute);
