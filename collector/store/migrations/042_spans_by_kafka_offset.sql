-- Issue 6: consumer spans by the Kafka offset they name (current or older attribute name), so a
-- flow's timeline finds the consumers of its events even when no trace context travelled.
-- A partial expression index: the query must use the same expression and kind = 'consumer'.
CREATE INDEX spans_consumer_offset ON spans (
    COALESCE(json_extract(attributes, '$."messaging.kafka.offset"'),
             json_extract(attributes, '$."messaging.kafka.message.offset"'))
) WHERE kind = 'consumer';
