-- Kafka tap (issue 3): retention deletes events' business keys by event identity, and dead
-- letters are listed newest first per topic.
CREATE INDEX business_keys_event ON business_keys (source, id);
CREATE INDEX dead_letters_topic ON dead_letters (topic, dl_id);
