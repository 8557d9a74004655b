"""Acceptance: with nothing declared, discovery alone finds the simulator's topology, and the
reports find the cases the simulator injects.

The simulator runs into the in-process collector (its real pipeline and SQLite store), with the
catalog's live validator (`catalog.validation.Validator` over the registry loaded from
``schemas/``) so that violations are stored, and with the spans its services export (a producer
span per event, a consumer span per subscriber, as an instrumented Kafka client makes them):
consumers are known from those consumer spans only. The map is built from the rollups only.
The known topology is the simulator's own `TOPOLOGY`; the injected cases are its
``expectations``. Nothing is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import pytest

from catalog.eventmap import EventMap
from catalog.exceptions import SchemaNotFound
from catalog.files import load_registry
from catalog.reports import run_reports
from catalog.validation import Validator, parse_dataschema
from collector.catalog_source import load_event_map, refresh_rollups, rollup_store
from collector.envelope import Decoder, build_rules
from collector.model import Event, Violation
from collector.pipeline import Pipeline
from collector.settings import load_settings
from collector.simulator import TOPOLOGY, Fault, Simulation
from collector.store import open_store
from tests.catalog_map.conftest import ROOT

FAULTS = {Fault("unknown-type"): 0.05, Fault("orphan"): 0.05, Fault("bad-schema"): 0.05,
          Fault("duplicate"): 0.05}


def validating(validator: Validator) -> Callable[[Event], Sequence[Violation]]:
    """The pipeline's validation step, as the collector wires the catalog's validator."""

    def validate(e: Event) -> list[Violation]:
        if not validator.knows(e.type):
            return []
        _, version = parse_dataschema(e.dataschema)
        try:
            findings = validator.validate(e.type, version, e.data)
        except SchemaNotFound:
            version = None
            findings = validator.validate(e.type, None, e.data)
        return [Violation(e.identity, e.type, e.source, version, f.pointer, f.keyword,
                          f.message, e.occurred_at) for f in findings]

    return validate


@cache
def discovered(tmp: Path) -> tuple[EventMap, tuple[dict[str, object], ...]]:
    from collector.commands.simulate import run_simulation
    from collector.flows.definition import load_definitions

    url = f"sqlite:///{tmp / 'sim.db'}"
    settings = load_settings(None, store=url, schemas_dir=str(ROOT / "schemas"))
    store = open_store(url)
    pipeline = Pipeline(store, Decoder(build_rules(settings)),
                        validate=validating(Validator(load_registry(ROOT / "schemas/events"))))
    sim = Simulation(load_definitions([ROOT / "schemas/flows"]), flows=600, seed=11,
                     fault_rates=FAULTS, spans=True)
    run_simulation(sim, store=pipeline)  # with spans=True it stores the services' spans too
    refresh_rollups(rollup_store(store))
    event_map = load_event_map(store, ROOT / "schemas").event_map
    store.close()
    return event_map, tuple(sim.expectations())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory
        ) -> tuple[EventMap, tuple[dict[str, object], ...]]:
    return discovered(tmp_path_factory.mktemp("discovery"))


def test_every_event_type_of_the_simulator_is_discovered(run: tuple[EventMap, tuple]) -> None:
    event_map, _ = run
    seen = {n for n in event_map.nodes("event") if event_map.producers(n, observed=True)}
    assert seen == {r.event_type for r in TOPOLOGY.routes}


@pytest.mark.parametrize("route", TOPOLOGY.routes, ids=lambda r: r.event_type)
def test_producers_and_topics_equal_the_known_ones(run: tuple[EventMap, tuple], route) -> None:
    event_map, _ = run
    assert event_map.producers(route.event_type, observed=True) == [route.producer]
    assert event_map.topics(route.event_type, observed=True) == [route.topic]


def test_consumers_equal_the_known_ones(run: tuple[EventMap, tuple]) -> None:
    event_map, _ = run
    found = {r.event_type: event_map.consumers(r.event_type, observed=True)
             for r in TOPOLOGY.routes}
    assert found == {r.event_type: sorted(r.consumers) for r in TOPOLOGY.routes}


def test_undocumented_report_finds_the_injected_unknown_types(
        run: tuple[EventMap, tuple]) -> None:
    event_map, expectations = run
    expected = {str(e["event_type"]) for e in expectations if e["kind"] == "undocumented"}
    assert expected  # the faults were injected
    found = {f.event_type for f in run_reports(event_map, ("undocumented",))}
    assert found == expected
    assert found == {r.event_type for r in TOPOLOGY.routes if not r.documented}


def test_violations_report_finds_the_services_emitting_bad_payloads(
        run: tuple[EventMap, tuple]) -> None:
    event_map, expectations = run
    expected: dict[tuple[str, str], int] = {}
    for e in expectations:
        if e["kind"] == "violation":
            source = e["event"][0]  # type: ignore[index]
            key = (str(source), str(e["event_type"]))
            expected[key] = expected.get(key, 0) + 1
    assert expected
    found = {(f.service, f.event_type): f.count
             for f in run_reports(event_map, ("violations",))}
    assert found == expected


def test_orphan_report_finds_the_injected_orphans(run: tuple[EventMap, tuple]) -> None:
    event_map, expectations = run
    injected = {str(e["event_type"]) for e in expectations if e["kind"] == "orphan"}
    assert injected
    found = {(f.report, f.event_type) for f in run_reports(event_map, ("orphans",))}
    # the injected orphans, and the unknown types (nobody consumes those either)
    assert {("orphan-produced", t) for t in injected} <= found
    assert found == {("orphan-produced", r.event_type) for r in TOPOLOGY.routes if r.orphan}
