"""The flow tracker, table by table: outcomes, stuck and recovery, SLA, correlation, restart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.flows.tracker import FlowTracker, FlowUpdate, alert_id, instance_id
from collector.model import AlertKind, EventIdentity, FlowSnapshot, FlowStatus

from .conftest import at, ev


class Run:
    """Feeds a tracker and keeps the latest snapshot per instance and every alert."""

    def __init__(self, tracker: FlowTracker) -> None:
        self.tracker = tracker
        self.flows: dict[str, FlowSnapshot] = {}
        self.assigned: dict[EventIdentity, str] = {}
        self.alerts: list = []

    def take(self, update: FlowUpdate) -> FlowUpdate:
        self.flows.update((f.instance_id, f) for f in update.flows)
        self.assigned.update(update.assignments)
        self.alerts.extend(update.alerts)
        return update

    def events(self, *events) -> Run:
        for e in events:
            self.take(self.tracker.on_event(e))
        return self

    def tick(self, seconds: float) -> Run:
        self.take(self.tracker.on_tick(at(seconds)))
        return self

    def only(self) -> FlowSnapshot:
        assert len(self.flows) == 1
        return next(iter(self.flows.values()))

    def kinds(self) -> list[AlertKind]:
        return [a.kind for a in self.alerts]


@pytest.fixture
def run(definitions) -> Run:
    return Run(FlowTracker(definitions))


HAPPY = ["OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
         "OrderCompleted"]


@pytest.mark.parametrize(("path", "status"), [
    (HAPPY, FlowStatus.COMPLETED),
    (["OrderPlaced", "PaymentFailed"], FlowStatus.FAILED),
    (["OrderPlaced", "PaymentProcessed", "InventoryOutOfStock", "RefundIssued"],
     FlowStatus.COMPENSATED),
    (["CustomerRegistered", "KycChecked", "AccountOpened"], FlowStatus.COMPLETED),
    (["CustomerRegistered", "KycChecked", "KycRejected"], FlowStatus.FAILED),
])
def test_terminal_events_give_the_outcome(run, path, status):
    run.events(*(ev(k, 2 * i) for i, k in enumerate(path))).tick(10_000)
    flow = run.only()
    assert flow.status is status
    assert flow.ended_at == at(2 * (len(path) - 1))
    assert not flow.sla_breached
    assert flow.sla_over is None
    assert flow.event_count == len(path)
    assert flow.flow_type == ("order" if path[0] == "OrderPlaced" else "onboarding")
    assert run.alerts == []


def test_running_flow_expects_the_next_events_with_a_deadline(run):
    run.events(ev("OrderPlaced", 0), ev("PaymentProcessed", 3))
    flow = run.only()
    assert flow.status is FlowStatus.RUNNING
    assert flow.expected_next == ("InventoryOutOfStock", "InventoryReserved")
    assert flow.next_deadline == at(13)
    assert run.tracker.next_deadline() == at(13)


def test_notifications_join_but_do_not_move_the_flow(run):
    run.events(ev("OrderPlaced", 0), ev("CustomerNotified", 1), ev("PaymentProcessed", 3))
    flow = run.only()
    assert flow.event_count == 3
    assert flow.next_deadline == at(13)
    assert run.assigned[EventIdentity("svc", "c1-CustomerNotified-1")] == flow.instance_id


def test_stuck_at_its_deadline_then_recovered_keeping_history(run):
    run.events(ev("OrderPlaced", 0), ev("PaymentProcessed", 3)).tick(12.9)
    assert run.only().status is FlowStatus.RUNNING
    assert run.alerts == []
    run.tick(13)
    flow = run.only()
    assert flow.status is FlowStatus.STUCK
    assert (flow.stuck_step, flow.stuck_since) == ("PaymentProcessed", at(13))
    assert flow.sla_breached
    assert run.kinds() == [AlertKind.FLOW_STUCK, AlertKind.SLA_BREACHED]
    run.events(ev("InventoryReserved", 20))
    flow = run.only()
    assert flow.status is FlowStatus.RUNNING
    assert flow.recovered
    assert (flow.stuck_step, flow.stuck_since) == ("PaymentProcessed", at(13))
    assert run.kinds()[-1] is AlertKind.FLOW_RECOVERED
    run.events(ev("ShippingScheduled", 21), ev("OrderCompleted", 22))
    flow = run.only()
    assert flow.status is FlowStatus.COMPLETED
    assert flow.recovered
    assert flow.sla_breached
    assert flow.sla_over == timedelta(seconds=7)  # PaymentProcessed -> InventoryReserved: 17 s


def test_slow_step_breaches_with_the_amount_over(run):
    run.events(ev("OrderPlaced", 0), ev("PaymentProcessed", 12.5))
    flow = run.only()
    assert flow.sla_breached
    assert flow.sla_over == timedelta(seconds=2.5)
    assert run.kinds() == [AlertKind.SLA_BREACHED]
    assert run.alerts[0].step == "OrderPlaced"


def _roomy():
    """A definition whose steps leave room: the end-to-end SLA can pass while steps are on time."""
    from collector.flows.definition import parse_definition
    return parse_definition({
        "flow_type": "roomy", "version": 1, "start": ["A"], "terminal": {"success": ["C"]},
        "transitions": [{"from": "A", "to": ["B"], "deadline": "PT60S"},
                        {"from": "B", "to": ["C"], "deadline": "PT60S"}],
        "sla": "PT30S"})


def test_end_to_end_sla_breach_on_completion():
    r = Run(FlowTracker([_roomy()]))
    r.events(ev("A", 0), ev("B", 20), ev("C", 35))
    flow = r.only()
    assert flow.status is FlowStatus.COMPLETED
    assert flow.sla_breached
    assert flow.sla_over == timedelta(seconds=5)
    assert r.alerts[0].step is None


def test_open_flow_breaches_once_its_sla_passed():
    d = _roomy()
    r = Run(FlowTracker([d]))
    r.events(ev("A", 0), ev("B", 10))
    assert r.tracker.next_deadline() == at(30)
    r.tick(29.9)
    assert not r.only().sla_breached
    r.tick(30)
    flow = r.only()
    assert flow.status is FlowStatus.RUNNING
    assert flow.sla_breached
    assert r.kinds() == [AlertKind.SLA_BREACHED]


def test_events_before_their_start_wait_and_join_when_it_arrives(run):
    run.events(ev("PaymentProcessed", 3), ev("CustomerNotified", 1))
    assert run.flows == {}
    assert run.tracker.held == 2
    run.events(ev("OrderPlaced", 0))
    flow = run.only()
    assert flow.event_count == 3
    assert flow.last_event_type == "PaymentProcessed"
    assert set(run.assigned.values()) == {flow.instance_id}
    assert len(run.assigned) == 3
    assert run.tracker.held == 0


def test_reused_correlation_id_gives_a_second_instance(run):
    first = [ev("OrderPlaced", 0), ev("PaymentFailed", 1)]
    second = [ev("OrderPlaced", 100), ev("PaymentProcessed", 101), ev("InventoryReserved", 102)]
    late_notice = ev("CustomerNotified", 2)
    run.events(*first, *second, late_notice)
    by_start = {f.started_at: f for f in run.flows.values()}
    assert by_start[at(0)].status is FlowStatus.FAILED
    assert by_start[at(0)].event_count == 3
    assert by_start[at(100)].status is FlowStatus.RUNNING
    assert by_start[at(100)].event_count == 3
    assert run.assigned[late_notice.identity] == by_start[at(0)].instance_id


def test_second_start_arriving_late_takes_its_events_from_the_first(run):
    run.events(ev("OrderPlaced", 0), ev("PaymentFailed", 1),
               ev("PaymentProcessed", 101))  # belongs to a start not seen yet
    first = run.only()
    assert first.event_count == 3
    run.events(ev("OrderPlaced", 100))
    second = run.flows[instance_id("svc", "c1-OrderPlaced-100")]
    assert run.flows[first.instance_id].event_count == 2
    assert second.event_count == 2
    assert second.last_event_type == "PaymentProcessed"
    assert run.assigned[EventIdentity("svc", "c1-PaymentProcessed-101")] == second.instance_id


def test_duplicates_change_nothing(run):
    events = [ev("OrderPlaced", 0), ev("PaymentProcessed", 1), ev("InventoryReserved", 2)]
    run.events(*events)
    before = run.only()
    updates = [run.tracker.on_event(e) for e in (*events, events[0])]
    assert all(not u.flows for u in updates)
    assert run.only() == before


def test_ties_ordered_by_causation_then_sequence(run, definitions):
    # same timestamp: the cause goes first whatever the ids and sequences say
    run.events(ev("OrderPlaced", 0, id="z-start"),
               ev("OrderCompleted", 5, id="a", cause="b", seq=1),
               ev("ShippingScheduled", 5, id="b", seq=2),
               ev("InventoryReserved", 4), ev("PaymentProcessed", 3))
    flow = run.only()
    assert flow.status is FlowStatus.COMPLETED
    assert flow.last_event_type == "OrderCompleted"
    r2 = Run(FlowTracker(definitions))
    r2.events(ev("OrderPlaced", 0, id="z-start"), ev("PaymentProcessed", 3),
              ev("InventoryReserved", 4),
              ev("OrderCompleted", 5, id="a", seq=2), ev("ShippingScheduled", 5, id="b", seq=1))
    assert r2.only().status is FlowStatus.COMPLETED  # no causation: sequence decides
    r3 = Run(FlowTracker(definitions))
    r3.events(ev("OrderPlaced", 0, id="z-start"), ev("PaymentProcessed", 3),
              ev("InventoryReserved", 4),
              ev("OrderCompleted", 5, id="a", seq=1), ev("ShippingScheduled", 5, id="b", seq=2))
    # completed first, then the shipping step is ignored: the flow has ended
    assert r3.only().last_event_type == "ShippingScheduled"
    assert r3.only().status is FlowStatus.COMPLETED


def test_alert_ids_are_stable_across_runs(definitions):
    def alerts() -> list[str]:
        r = Run(FlowTracker(definitions))
        r.events(ev("OrderPlaced", 0), ev("PaymentProcessed", 3)).tick(60)
        r.events(ev("InventoryReserved", 70))
        return [a.alert_id for a in r.alerts]
    first = alerts()
    assert first == alerts()
    assert len(set(first)) == 3
    iid = instance_id("svc", "c1-OrderPlaced-0")
    assert first[0] == alert_id(iid, AlertKind.FLOW_STUCK, "PaymentProcessed")


def test_each_flow_is_flagged_at_next_deadline(run):
    run.events(*(ev("OrderPlaced", i, corr=f"c{i}") for i in range(5)))
    seen = []
    while (deadline := run.tracker.next_deadline()) is not None and len(seen) < 20:
        update = run.tracker.on_tick(deadline)
        run.take(update)
        seen.append((deadline, [a.correlation_id for a in update.alerts
                                if a.kind is AlertKind.FLOW_STUCK]))
    assert [s for s in seen if s[1]] == [(at(10 + i), [f"c{i}"]) for i in range(5)]
    assert all(f.status is FlowStatus.STUCK for f in run.flows.values())


def test_ended_flows_leave_memory_after_retention(run):
    run.events(ev("OrderPlaced", 0), ev("PaymentFailed", 1))
    assert (run.tracker.open_flows, run.tracker.in_memory) == (0, 1)
    run.tick(1 + 45)
    assert run.tracker.in_memory == 0


def test_restart_rebuilds_open_flows_without_repeating_alerts(definitions):
    events = [ev("OrderPlaced", 0), ev("PaymentProcessed", 3),
              ev("OrderPlaced", 5, corr="c2")]
    live = Run(FlowTracker(definitions)).events(*events).tick(14)
    assert [a.correlation_id for a in live.alerts if a.kind is AlertKind.FLOW_STUCK] == ["c1"]
    by_instance = {iid: [e for e in events if live.assigned[e.identity] == iid]
                   for iid in live.flows}
    restored = Run(FlowTracker(definitions))
    restored.tracker.restore((s, by_instance[s.instance_id]) for s in live.flows.values())
    given = len(live.alerts)
    for r in (live, restored):
        r.tick(16).events(ev("InventoryReserved", 17))
    assert restored.flows == {k: v for k, v in live.flows.items() if k in restored.flows}
    assert restored.alerts == live.alerts[given:]  # none of those given before the restart
    assert [a.kind for a in restored.alerts] == [
        AlertKind.FLOW_STUCK, AlertKind.SLA_BREACHED, AlertKind.FLOW_RECOVERED]


def test_definition_versions_judge_flows_by_the_version_at_their_start(definitions):
    from dataclasses import replace
    order = next(d for d in definitions if d.flow_type == "order")
    v2 = replace(order, version=2, effective_from=at(5), sla=timedelta(seconds=2))
    r = Run(FlowTracker([*definitions, v2]))
    r.events(ev("OrderPlaced", 0, corr="old"), ev("OrderPlaced", 6, corr="new"))
    versions = {f.correlation_id: f.definition_version for f in r.flows.values()}
    assert versions == {"old": 1, "new": 2}
    r.tick(9)
    assert {f.correlation_id for f in r.flows.values() if f.sla_breached} == {"new"}


def test_a_start_redelivered_after_its_flow_left_memory_does_not_reopen_it(run):
    start = ev("OrderPlaced", 0)
    run.events(start, ev("PaymentFailed", 1)).tick(1000)
    assert run.tracker.in_memory == 0
    assert not run.tracker.on_event(start)  # nothing: no new instance, no snapshot
    assert run.tracker.in_memory == 0
