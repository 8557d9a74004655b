-- The collector's write path: every event inserted updates each index on events, and an index
-- with random keys dirties one page per event. events_trace (041) and catalog_events_trace_span
-- (050) index the same columns; the partial one serves every query by trace id (trace_id = ?,
-- IN (...), joins on trace_id and span_id all imply trace_id IS NOT NULL), so keep only it.
DROP INDEX IF EXISTS events_trace;
