-- Indexes the dashboard's pages read by (issue 8): the SLA-breach list and counts read the
-- outbox by kind, flow type and step and join it by instance (the stuck list is served by
-- flows_status); breached flows are read by the amount over.
CREATE INDEX outbox_kind ON outbox (kind, flow_type, step);
CREATE INDEX outbox_instance ON outbox (instance_id);
CREATE INDEX flows_breached ON flows (sla_over_s) WHERE sla_breached = 1;
