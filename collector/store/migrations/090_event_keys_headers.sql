-- Issue 16, the message browser: each event keeps its record key and headers (as text, after
-- redaction by the capture rules: header:NAME, key, and pointers to CloudEvents attributes),
-- beside the topic, partition and offset it already has. headers is a JSON array of
-- [name, value] pairs, NULL when the record had none.
ALTER TABLE events ADD COLUMN key TEXT;
ALTER TABLE events ADD COLUMN headers TEXT;
-- A topic's messages newest first, and a time window of them (the browser's main read).
CREATE INDEX events_topic_time ON events (topic, occurred_at);
-- A partition's stored offsets: first and last, and an offset range.
CREATE INDEX events_topic_offset ON events (topic, partition, "offset");
-- Messages by record key (partial: records without a key cost nothing).
CREATE INDEX events_key ON events (key, occurred_at) WHERE key IS NOT NULL;
