"""A generated simulator domain: N event types, M services and K topics from a seed.

The event map must stay readable at real sizes; the demo's domain is small (17 types), so the
bench (``event_map_label_overlaps``, ``event_map_render_seconds``) and ``choreoscope simulate
--domain generated`` use this one (60 event types, 25 services, 15 topics by default). The same
seed gives the same topology and the same records.

Each event type has one producer, one topic (its domain) and up to three consumers; the types
are strung into causal chains (a type's next one is produced by one of its consumers), and a
flow instance plays one chain under one correlation id. No schema documents these types: the
collector sees them as undocumented, unless `write_schemas` wrote their contracts into the
schemas folder it reads (``choreoscope simulate --domain generated --write-schemas DIR``).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

from collector.model import Span
from collector.simulator._envelope import CONTENT_TYPE, encode_event, new_id, new_span, new_trace
from collector.simulator._spans import delivery_spans
from collector.simulator.engine import BUSINESS_DAY, EPOCH, SimStats
from collector.simulator.exceptions import SimulatorError
from collector.simulator.record import SimRecord, format_time
from collector.simulator.topology import Route, Topology
from collector.simulator.truth import TruthRow

__all__ = ["GeneratedDomain", "GeneratedSimulation", "generate_domain", "schema_of",
           "write_schemas"]

_DOMAINS = ("orders", "payments", "inventory", "shipping", "billing", "accounts", "customers",
            "pricing", "catalog", "returns", "loyalty", "fraud", "reviews", "search",
            "notifications", "warehouse", "invoices", "subscriptions", "promotions", "support")
_NOUNS = ("Order", "Payment", "Stock", "Shipment", "Bill", "Account", "Customer", "Price",
          "Product", "Return", "Reward", "Risk", "Review", "Query", "Message", "Pallet",
          "Invoice", "Subscription", "Coupon", "Ticket")
_VERBS = ("Created", "Updated", "Approved", "Rejected", "Scheduled", "Completed", "Cancelled",
          "Reserved", "Released", "Assigned", "Closed", "Opened", "Issued", "Refunded",
          "Verified", "Expired")
_SERVICES = ("order", "payment", "stock", "shipping", "billing", "account", "customer",
             "pricing", "catalog", "returns", "loyalty", "fraud", "review", "search", "notify",
             "warehouse", "invoice", "subscription", "promo", "support", "ledger", "tax",
             "email", "audit", "report", "courier", "partner", "mobile", "web", "analytics")
_STEP = timedelta(milliseconds=120)


@dataclass(frozen=True, slots=True)
class GeneratedDomain:
    topology: Topology
    chains: tuple[tuple[str, ...], ...]
    """Causal chains of event types: what one flow instance plays."""


def _names(rng: Random, n: int, make: Any) -> list[str]:
    seen: list[str] = []
    while len(seen) < n:
        name = make(rng)
        if name not in seen:
            seen.append(name)
    return seen


def _check(event_types: int, services: int, topics: int) -> None:
    if not 1 <= topics <= len(_DOMAINS):
        raise SimulatorError(f"a generated domain has 1 to {len(_DOMAINS)} topics, not {topics}")
    if not 2 <= services <= len(_SERVICES):
        raise SimulatorError(f"a generated domain has 2 to {len(_SERVICES)} services, "
                             f"not {services}")
    if not 1 <= event_types <= len(_NOUNS) * len(_VERBS):
        raise SimulatorError(f"a generated domain has 1 to {len(_NOUNS) * len(_VERBS)} event "
                             f"types, not {event_types}")


def generate_domain(*, event_types: int = 60, services: int = 25, topics: int = 15,
                    seed: int = 0) -> GeneratedDomain:
    """The seeded topology: every service and topic used, types chained 2 to 5 long."""
    _check(event_types, services, topics)
    rng = Random(f"choreoscope:generated:{seed}")
    domains = list(_DOMAINS[:topics])
    nouns = {d: _NOUNS[_DOMAINS.index(d)] for d in domains}
    svc_names = [f"{s}-service" for s in rng.sample(_SERVICES, services)]
    types: list[tuple[str, str]] = []  # (name, domain), every domain used first
    while len(types) < event_types:
        domain = domains[len(types)] if len(types) < len(domains) else rng.choice(domains)
        name = nouns[domain] + rng.choice(_VERBS)
        if all(name != t for t, _ in types):
            types.append((name, domain))
    producer: dict[str, str] = {}
    consumers: dict[str, list[str]] = {}
    chains: list[tuple[str, ...]] = []
    queue = [t for t, _ in types]
    unused = list(svc_names)
    while queue:
        chain = queue[:rng.randint(2, 5)]
        del queue[:len(chain)]
        for i, name in enumerate(chain):
            if i == 0:
                producer[name] = unused.pop() if unused else rng.choice(svc_names)
            picks = [s for s in svc_names if s != producer[name]]
            consumers[name] = sorted(rng.sample(picks, rng.randint(1, 3)))
            if unused:
                consumers[name] = sorted({*consumers[name], unused.pop()} - {producer[name]})
            if i + 1 < len(chain):
                producer[chain[i + 1]] = rng.choice(consumers[name])
        chains.append(tuple(chain))
    routes = tuple(Route(name, producer[name], domain, tuple(consumers[name]), ())
                   for name, domain in types)
    return GeneratedDomain(Topology(routes), tuple(chains))


def schema_of(route: Route) -> dict[str, Any]:
    """Version 1 of a generated type's contract: its payload, owner, domain and topic."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"schemas/events/{route.event_type}/v1",
        "title": route.event_type,
        "description": f"Generated: published by {route.producer} on {route.topic}.",
        "x-owner": f"team-{route.topic}", "x-domain": route.topic, "x-topic": route.topic,
        "type": "object",
        "properties": {"id": {"type": "string", "description": "The flow's correlation id."},
                       "step": {"type": "integer", "minimum": 0},
                       "amount": {"type": "number", "minimum": 0}},
        "required": ["id", "step", "amount"],
        "additionalProperties": False,
    }


def write_schemas(domain: GeneratedDomain, folder: Path) -> int:
    """A schemas folder for the generated domain (``events/<Type>/v1.json``, an empty
    ``flows/``), for ``CHOREOSCOPE_SCHEMAS_DIR``; the number of schemas written."""
    (folder / "flows").mkdir(parents=True, exist_ok=True)
    for route in domain.topology.routes:
        target = folder / "events" / route.event_type / "v1.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema_of(route), indent=2) + "\n", encoding="utf-8")
    return len(domain.topology.routes)


class GeneratedSimulation:
    """Plays flows over a `GeneratedDomain` the way `Simulation` plays the demo's: records in
    delivery order, spans for the in-process collector, the same shape ``choreoscope
    simulate`` sends anywhere. Unpaced only; no faults and no ground truth."""

    paced = False

    def __init__(self, domain: GeneratedDomain, *, flows: int, seed: int = 0,
                 spans: bool = False, epoch: datetime = EPOCH) -> None:
        if flows < 0:
            raise SimulatorError(f"a number of flows, 0 or more, not {flows}")
        self._domain = domain
        self._routes = {r.event_type: r for r in domain.topology.routes}
        self._flows = flows
        self._rng = Random(f"choreoscope:generated-run:{seed}")
        self._epoch = epoch
        self._spans: list[Span] | None = [] if spans else None
        self._last = epoch
        self.finished = False
        self.stats = SimStats()

    @property
    def flows_wanted(self) -> int | None:
        return self._flows

    @property
    def settle_time(self) -> datetime:
        return self._last + timedelta(minutes=5)

    def take_spans(self) -> list[Span]:
        spans, self._spans = (self._spans or []), ([] if self._spans is not None else None)
        return spans

    def truth(self) -> list[TruthRow]:
        raise SimulatorError("the generated domain keeps no ground truth (--truth)")

    def expectations(self) -> list[dict[str, Any]]:
        raise SimulatorError("the generated domain keeps no expectations (--expectations)")

    def _flow(self, n: int, start: datetime) -> Iterator[tuple[datetime, int, SimRecord]]:
        rng = self._rng
        chain = self._domain.chains[rng.randrange(len(self._domain.chains))]
        correlation, trace = new_id(rng), new_trace(rng)
        at, cause_span, cause_id = start, None, None
        for i, name in enumerate(chain):
            route = self._routes[name]
            event_id, span = new_id(rng), new_span(rng)
            value = encode_event(
                event_id=event_id, event_type=name, source=route.producer,
                time=format_time(at), subject=correlation, version=1, correlation=correlation,
                causation=cause_id, data={"id": correlation, "step": i,
                                          "amount": round(rng.random() * 500, 2)})
            headers = (("content-type", CONTENT_TYPE),
                       ("traceparent", f"00-{trace}-{span}-01".encode()))
            if self._spans is not None:
                self._spans.extend(delivery_spans(
                    trace=trace, span=span, cause_span=cause_span, source=route.producer,
                    event_id=event_id, topic=route.topic, consumers=route.consumers, when=at))
            yield at, n, SimRecord(route.topic, correlation.encode(), value, headers, at)
            cause_span, cause_id = span, event_id
            at += _STEP * (1 + rng.random() * 4)

    def records(self) -> Iterator[SimRecord]:
        """Every flow's records, merged in delivery order."""
        spacing = BUSINESS_DAY / max(self._flows, 1)
        starts = (self._epoch + spacing * n for n in range(self._flows))
        merged = heapq.merge(*(self._flow(n, s) for n, s in enumerate(starts)),
                             key=lambda item: (item[0], item[1]))
        seen = set()
        for at, n, record in merged:
            seen.add(n)
            self.stats.flows = len(seen)
            self.stats.events += 1
            self.stats.records += 1
            self._last = max(self._last, at)
            yield record
        self.finished = True
