-- Issue 18: consuming services seen receiving a stored topic (RabbitMQ's firehose: the queue a
-- message was delivered to names its service). collector/catalog_source.read_groups reads this
-- table into the event map's consumer edges (GroupAssignment).
CREATE TABLE consumer_groups (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (group_id, topic)
);
