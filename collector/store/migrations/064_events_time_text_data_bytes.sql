-- Issue 14: what an event carries beyond microsecond times and JSON payloads.
-- time_text: the event's time as sent when it is finer than occurred_at keeps (nanoseconds from
-- Go and Java producers); NULL otherwise. data_bytes: a payload that is not JSON nor text
-- (e.g. application/octet-stream, or data_base64 of no JSON type), data is then NULL.
ALTER TABLE events ADD COLUMN time_text TEXT;
ALTER TABLE events ADD COLUMN data_bytes BLOB;
