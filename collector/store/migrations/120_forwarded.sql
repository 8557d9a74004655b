-- Issue 19 (scale-out): per partition of the user's topics, how far a reader of the group has
-- forwarded to the internal repartition topic (where a reader resumes: everything before
-- next_offset is stored and forwarded), the latest event time forwarded from it and the
-- records still unread behind it then (-1: not known), so the trackers' detection clock never
-- runs ahead of what the readers have not forwarded yet.
CREATE TABLE forwarded (
    reader       TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    next_offset  INTEGER NOT NULL,
    latest_at    TEXT,
    lag          INTEGER NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (reader, topic, partition)
);
