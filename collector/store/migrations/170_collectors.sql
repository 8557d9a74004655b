-- Issue 19: each `choreoscope collect` process's heartbeat (collector/member.py), upserted on its
-- health cadence; the Collector health page lists a group's collectors and flags a silent one.
CREATE TABLE collectors (
    collector_id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    partitions TEXT NOT NULL,
    lag INTEGER,
    records_per_second REAL NOT NULL,
    started_at TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    beat_every_s REAL NOT NULL
);
