-- Issue 16: most producers key a record by its correlation id (the demo's simulator does), and
-- a random-key index costs the write path about a fifth of its work per event. events_key now
-- holds only the keys that differ from the event's correlation id; a record keyed by its
-- correlation id is found through events_correlation (collector/messages.py looks in both).
DROP INDEX events_key;
CREATE INDEX events_key ON events (key, occurred_at) WHERE key IS NOT NULL AND key <> correlation_id;
