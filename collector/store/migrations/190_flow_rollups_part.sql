-- Issue 19: per-minute flow rollups in scale-out. A tracker sees only the flows of its internal
-- partitions, so each writes the rows of those partitions apart: part is the internal partition
-- (-1: every flow, one tracker), in the key. Readers sum a minute's parts (counts add; the
-- percentiles are count-weighted means, as over several minutes).
CREATE TABLE flow_rollups_parts (
    minute      TEXT NOT NULL,
    flow_type   TEXT NOT NULL,
    step        TEXT NOT NULL,
    part        INTEGER NOT NULL DEFAULT -1,
    count       INTEGER NOT NULL,
    within_sla  INTEGER NOT NULL,
    p50_s       REAL,
    p95_s       REAL,
    p99_s       REAL,
    PRIMARY KEY (minute, flow_type, step, part)
);
INSERT INTO flow_rollups_parts (minute, flow_type, step, part, count, within_sla, p50_s, p95_s,
                                p99_s)
    SELECT minute, flow_type, step, -1, count, within_sla, p50_s, p95_s, p99_s FROM flow_rollups;
DROP TABLE flow_rollups;
ALTER TABLE flow_rollups_parts RENAME TO flow_rollups;
CREATE INDEX flow_rollups_type ON flow_rollups (flow_type, step, minute);
