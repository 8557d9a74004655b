-- Flow engine (issue 5): a restarted collector reloads the flows that ended within the retention
-- (late notifications still join them); find them without scanning every flow.

CREATE INDEX flows_ended ON flows (ended_at);
