-- Issue 19: a collector that stops cleanly writes a last row saying so (stopped_at), so that
-- the Collector health page shows it stopped rather than silent; the host it ran on and the
-- records it read let the page tell a restart from a new collector and say what a run did.
ALTER TABLE collectors ADD COLUMN host TEXT;
ALTER TABLE collectors ADD COLUMN records INTEGER;
ALTER TABLE collectors ADD COLUMN stopped_at TEXT;
