"""The spans the simulated services export: producer per event, consumer per subscriber."""

from __future__ import annotations

from collections import defaultdict

from collector.envelope import Decoder, EnvelopeRules
from collector.model import DeadLetter, Event, SpanKind
from collector.simulator import TOPOLOGY, Fault, Simulation, encode_json_line, to_observation
from collector.simulator._spans import consumer_span_id
from collector.traces.join import join_spans

from .conftest import definitions

FAULTS = {Fault.LOST: 0.2, Fault.ORPHAN: 0.3, Fault.UNKNOWN_TYPE: 0.3, Fault.DUPLICATE: 0.2}


def _run(spans: bool) -> tuple[Simulation, list[bytes]]:
    sim = Simulation(definitions(), flows=300, seed=17, fault_rates=FAULTS, spans=spans)
    return sim, [encode_json_line(r) for r in sim.records()]


def test_spans_change_no_record() -> None:
    plain, with_spans = _run(False), _run(True)
    assert plain[1] == with_spans[1]
    assert plain[0].take_spans() == []


def _events(sim: Simulation) -> list[Event]:
    decode = Decoder(EnvelopeRules())
    out = []
    for seq, record in enumerate(sim.records()):
        event = decode(to_observation(record, seq))
        if not isinstance(event, DeadLetter):
            out.append(event)
    return out


def test_each_event_has_its_producer_span_and_a_consumer_span_per_subscriber() -> None:
    sim = Simulation(definitions(), flows=300, seed=17, fault_rates=FAULTS, spans=True)
    events = {e.identity: e for e in _events(sim)}
    spans = sim.take_spans()
    assert sim.take_spans() == []  # taken once
    by_key = {(s.trace_id, s.span_id): s for s in spans}
    assert len(by_key) == len(spans)
    children = defaultdict(list)
    for s in spans:
        children[s.parent_id].append(s)
    for event in events.values():
        producer = by_key[(event.trace_id, event.span_id)]  # the span traceparent names
        assert (producer.kind, producer.service) == (SpanKind.PRODUCER, event.source)
        route = TOPOLOGY.route(event.type)
        consumers = [s for s in children[producer.span_id] if s.kind is SpanKind.CONSUMER]
        assert sorted(s.service for s in consumers) == sorted(route.consumers)
        if event.causation_id is not None:
            cause = next(e for e in events.values() if e.id == event.causation_id)
            assert producer.parent_id == consumer_span_id(cause.span_id or "", event.source)


def test_the_trace_join_finds_the_known_consumers() -> None:
    sim = Simulation(definitions(), flows=300, seed=17, fault_rates=FAULTS, spans=True)
    events = _events(sim)
    join = join_spans(events, sim.take_spans())
    by_id = {e.identity: e for e in events}
    found: dict[str, set[str]] = defaultdict(set)
    for c in join.consumptions:
        found[by_id[c.event].type].add(c.service)
    assert {t: sorted(s) for t, s in found.items()} == {
        r.event_type: sorted(r.consumers) for r in TOPOLOGY.routes if r.consumers}
    assert not join.unpaired
