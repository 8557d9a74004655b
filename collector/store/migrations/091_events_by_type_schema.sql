-- Issue 16: the schema compatibility page counts events per producer and schema version from
-- the events' dataschema (the hourly rollups know no version). A covering index: the count of
-- one type is a scan of its index range, no row read.
CREATE INDEX events_type_schema ON events (type, source, dataschema);
