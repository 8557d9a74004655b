-- Issue 19 (per-record cost): business keys are looked up by name and value to find a flow's
-- correlation id, never by event. One row per event cost two random-key index entries per key
-- and event (the key and the event's identity: 13 of the write path's ~55 us per event on the
-- simulated traffic, whose events carry two keys each); one row per correlation id stores
-- each key once per flow. Retention removes a correlation's keys with its last event.
CREATE TABLE business_keys_by_correlation (
    name            TEXT NOT NULL,
    value           TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    PRIMARY KEY (name, value, correlation_id)
);
INSERT INTO business_keys_by_correlation (name, value, correlation_id)
    SELECT DISTINCT name, value, correlation_id FROM business_keys;
DROP TABLE business_keys;
ALTER TABLE business_keys_by_correlation RENAME TO business_keys;
-- Retention: the keys of the correlations whose last event it deleted.
CREATE INDEX business_keys_correlation ON business_keys (correlation_id);
