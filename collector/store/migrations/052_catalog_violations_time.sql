-- Event map rollups (issue 7): a minute's violating events are found by the violation's time
-- (the violating event's occurred_at), not by scanning every violation.
CREATE INDEX catalog_violations_time ON violations (occurred_at);
