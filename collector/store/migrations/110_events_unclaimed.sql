-- Issue 19: a restarted collector gives its flow tracker back the newest events no flow has
-- claimed (collector/flows/query.py restore_tracker: they wait for their start event however
-- old they are). Without this index that read walks every stored event from the newest back;
-- with it, only the unclaimed ones. Most events are stored with their flow already, so the
-- write path adds an index entry only for the few that wait (or belong to no flow).
CREATE INDEX events_unclaimed ON events (occurred_at) WHERE instance_id IS NULL;
