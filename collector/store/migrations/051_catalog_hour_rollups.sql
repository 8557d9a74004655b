-- Event map rollups, hourly tier (issue 7): the sums of catalog_traffic_minute and
-- catalog_latency_minute per hour ('YYYY-MM-DDTHH'), recomputed for the hours a refresh
-- touched, so a long window is read from hours and only its ragged ends from minutes.

CREATE TABLE catalog_traffic_hour (
    hour        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    service     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL DEFAULT '',
    count       INTEGER NOT NULL,
    violations  INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (hour, kind, service, event_type, topic)
);

CREATE TABLE catalog_latency_hour (
    hour        TEXT NOT NULL,
    service     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL DEFAULT '',
    bucket      INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (hour, service, event_type, topic, bucket)
);

-- Rollups computed before this tier existed: their hours, once.
INSERT INTO catalog_traffic_hour
SELECT substr(minute, 1, 13), kind, service, event_type, topic, SUM(count), SUM(violations),
       SUM(errors), MIN(first_seen), MAX(last_seen)
  FROM catalog_traffic_minute GROUP BY 1, 2, 3, 4, 5;
INSERT INTO catalog_latency_hour
SELECT substr(minute, 1, 13), service, event_type, topic, bucket, SUM(count)
  FROM catalog_latency_minute GROUP BY 1, 2, 3, 4, 5;
