-- Issue 19: the schema page's events per producer and schema version are counted from rollups
-- instead of from an index over every event. events_type_schema (type, source, dataschema) cost
-- about 3 us of the store's 20 per event on the Kafka bench and 8 % of the file; the page's
-- count was a scan of all of a type's events.
--
-- catalog_produce_minute: events by minute, producing service (events.source), type, topic and
-- dataschema, recomputed whole for the minutes that received events (as catalog_traffic_minute
-- is); the produce rows of catalog_traffic_minute are now its sums over dataschema, so the
-- events of a minute are read once per refresh.
CREATE TABLE catalog_produce_minute (
    minute      TEXT NOT NULL,
    service     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    topic       TEXT NOT NULL DEFAULT '',   -- '' when the event came from no topic
    dataschema  TEXT NOT NULL DEFAULT '',   -- '' when the event named no dataschema
    count       INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (minute, service, event_type, topic, dataschema)
);

-- The same per hour, keyed by type first: the schema page reads one type's whole history as
-- one range of this table.
CREATE TABLE catalog_schema_hour (
    event_type  TEXT NOT NULL,
    service     TEXT NOT NULL,
    dataschema  TEXT NOT NULL DEFAULT '',
    hour        TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (event_type, service, dataschema, hour)
);

-- The events stored before: their minutes and hours, once.
INSERT INTO catalog_produce_minute
SELECT substr(occurred_at, 1, 16), source, type, COALESCE(topic, ''), COALESCE(dataschema, ''),
       COUNT(*), MIN(occurred_at), MAX(occurred_at)
  FROM events GROUP BY 1, 2, 3, 4, 5;
INSERT INTO catalog_schema_hour
SELECT event_type, service, dataschema, substr(minute, 1, 13), SUM(count)
  FROM catalog_produce_minute GROUP BY 1, 2, 3, 4;

DROP INDEX events_type_schema;
