-- Issue 6: events by the span that produced them (their traceparent), so that a trace's spans
-- are joined to every event they sent, of this flow or another, without a scan.
CREATE INDEX events_trace ON events (trace_id, span_id);
