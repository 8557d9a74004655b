"""Any delivery order of the same events, with duplicates, gives the same flows (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.flows.tracker import FlowTracker
from collector.model import Event, EventIdentity, FlowSnapshot

from .conftest import ev

PATHS = [
    ["OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
     "OrderCompleted"],
    ["OrderPlaced", "PaymentFailed"],
    ["OrderPlaced", "PaymentProcessed", "InventoryOutOfStock", "RefundIssued"],
    ["OrderPlaced", "PaymentProcessed", "InventoryReserved"],  # goes stuck
    ["CustomerRegistered", "KycChecked", "AccountOpened"],
    ["CustomerRegistered"],
]


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    """A few correlation ids, some reused by a second instance, with notifications and ties."""
    events: list[Event] = []
    for c in range(draw(st.integers(1, 4))):
        corr = f"c{c}"
        t = 0.0
        for _ in range(draw(st.integers(1, 2))):
            path = draw(st.sampled_from(PATHS))
            prev = None
            for kind in path:
                t += draw(st.sampled_from([0.0, 1.0, 4.0, 12.0]))  # 0: a tie; 12: a late step
                e = ev(kind, t, corr, id=f"{corr}-{len(events)}", cause=prev,
                       seq=draw(st.integers(0, 3)))
                events.append(e)
                prev = e.id
                if draw(st.booleans()):
                    events.append(ev("CustomerNotified", t + 0.5, corr,
                                     id=f"{corr}-n{len(events)}", cause=prev))
            t += draw(st.sampled_from([1.0, 30.0]))
    return events


def final_state(tracker: FlowTracker, events: list[Event], settle_s: float,
                ) -> tuple[dict[str, FlowSnapshot], dict[EventIdentity, str]]:
    flows: dict[str, FlowSnapshot] = {}
    assigned: dict[EventIdentity, str] = {}
    for e in events:
        update = tracker.on_event(e)
        flows.update((f.instance_id, f) for f in update.flows)
        assigned.update(update.assignments)
    from .conftest import at
    update = tracker.on_tick(at(settle_s))
    flows.update((f.instance_id, f) for f in update.flows)
    return flows, assigned


@settings(max_examples=300, deadline=None)
@given(data=st.data(), history=histories())
def test_delivery_order_and_duplicates_do_not_change_the_flows(definitions, data, history):
    in_order = sorted(history, key=lambda e: (e.occurred_at, e.id))
    shuffled = data.draw(st.permutations(history))
    dupes = data.draw(st.lists(st.sampled_from(history), max_size=5))
    delivered = list(shuffled)
    for i, e in enumerate(dupes):
        delivered.insert(data.draw(st.integers(0, len(delivered))), e)
        del i
    settle_s = data.draw(st.sampled_from([0.0, 40.0, 10_000.0]))
    expected = final_state(FlowTracker(definitions), in_order, settle_s)
    actual = final_state(FlowTracker(definitions), delivered, settle_s)
    assert actual[0] == expected[0]
    assert actual[1] == expected[1]
    starts = [e for e in history if e.type in ("OrderPlaced", "CustomerRegistered")]
    assert len(actual[0]) == len(starts)


@st.composite
def overlapping(draw: st.DrawFn) -> tuple[list[Event], dict[str, str]]:
    """Several instances of ONE correlation id running at the same time, each event caused by
    the one before it in its instance; returns the events and each event's instance start."""
    events: list[Event] = []
    root: dict[str, str] = {}
    for i in range(draw(st.integers(2, 3))):
        path = draw(st.sampled_from(PATHS))
        t = draw(st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        prev = None
        start_id = f"i{i}-0"
        for j, kind in enumerate(path):
            t += draw(st.sampled_from([0.25, 1.0, 3.0]))
            e = ev(kind, t, "shared", id=f"i{i}-{j}", cause=prev)
            events.append(e)
            root[e.id] = start_id
            prev = e.id
    return events, root


@settings(max_examples=300, deadline=None)
@given(data=st.data(), case=overlapping())
def test_overlapping_instances_follow_causation_in_any_order(definitions, data, case):
    history, root = case
    in_order = sorted(history, key=lambda e: (e.occurred_at, e.id))
    delivered = data.draw(st.permutations(history))
    expected = final_state(FlowTracker(definitions), in_order, 10_000.0)
    actual = final_state(FlowTracker(definitions), delivered, 10_000.0)
    assert actual == expected
    from collector.flows.tracker import instance_id
    for e in history:
        assert actual[1][e.identity] == instance_id("svc", root[e.id]), e.id
