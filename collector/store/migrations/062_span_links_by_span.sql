-- Retention deletes a span's links with the span (they were left behind before): find them by
-- the linking span, and drop the links whose span an earlier retention already deleted.
CREATE INDEX span_links_by_span ON span_links (trace_id, span_id);
DELETE FROM span_links WHERE NOT EXISTS (
    SELECT 1 FROM spans s WHERE s.trace_id = span_links.trace_id AND s.span_id = span_links.span_id);
