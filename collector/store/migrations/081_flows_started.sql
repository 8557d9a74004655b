-- Issue 16: the flow search lists flows newest first, and within a time window, by start time.
CREATE INDEX flows_started ON flows (started_at);
