"""Discovery: directly-follows graph, variants and deviations, checked on a real log."""

from __future__ import annotations

import gzip
import itertools
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector.flows.definition import DefinitionError, parse_definition
from collector.flows.discovery import Discovery, deviations, percentiles
from collector.xes import read_xes

from .conftest import ROOT, ev

HELPDESK = ROOT.parent / "shared" / "datasets" / "helpdesk.xes.gz"
NS = "{http://www.xes-standard.org/}"


def independent_df_counts(path: Path) -> Counter[tuple[str, str]]:
    """Straight from the log, another way: parse the whole tree, sort each trace by
    (timestamp, position), count consecutive pairs."""
    with gzip.open(path) as stream:
        tree = ET.parse(stream)
    counts: Counter[tuple[str, str]] = Counter()
    for trace in tree.getroot().iter(f"{NS}trace"):
        steps = []
        for position, event in enumerate(trace.iter(f"{NS}event")):
            attrs = {a.get("key"): a.get("value") for a in event}
            steps.append((datetime.fromisoformat(attrs["time:timestamp"]), position,
                          attrs["concept:name"]))
        steps.sort()
        counts.update((a[2], b[2]) for a, b in itertools.pairwise(steps))
    return counts


@pytest.fixture(scope="module")
def helpdesk_report():
    events = list(read_xes(HELPDESK, received_at=datetime(2026, 1, 1, tzinfo=UTC)))
    return events, Discovery().add(events).report()


def test_helpdesk_replay_directly_follows_counts_match_the_log(helpdesk_report):
    events, report = helpdesk_report
    assert len(events) == 21_348
    ours: Counter[tuple[str, str]] = Counter()
    for flow in report.values():
        ours.update({(e.source, e.target): e.count for e in flow.edges})
    expected = independent_df_counts(HELPDESK)
    assert sum(expected.values()) == 21_348 - 4_580
    assert ours == expected


def test_helpdesk_variants(helpdesk_report):
    _, report = helpdesk_report
    variants = [v for flow in report.values() for v in flow.variants]
    assert sum(v.count for v in variants) == 4_580
    assert len({v.path for v in variants}) == len(variants)
    top = max(variants, key=lambda v: v.count)
    assert top.count == max(flow.variants[0].count for flow in report.values())


def test_durations_and_percentiles():
    report = Discovery().add([
        ev("OrderPlaced", 0, "a"), ev("PaymentProcessed", 2, "a"),
        ev("OrderPlaced", 0, "b"), ev("PaymentProcessed", 4, "b"),
        ev("PaymentProcessed", 4, "b"),  # redelivered: counted once
        ev("OrderPlaced", 0, "c"), ev("PaymentFailed", 1, "c"),
    ]).report()
    order = report["OrderPlaced"]
    assert order.cases == 3
    edge = next(e for e in order.edges if e.target == "PaymentProcessed")
    assert (edge.count, edge.p50_s) == (2, 3.0)
    assert [(v.path, v.count) for v in order.variants] == [
        (("OrderPlaced", "PaymentProcessed"), 2), (("OrderPlaced", "PaymentFailed"), 1)]
    assert percentiles([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx((3.0, 4.8, 4.96))


@pytest.mark.parametrize("n", [2, 3, 7, 100, 101, 1234])
def test_percentiles_are_the_standard_librarys_inclusive_quantiles_exactly(n: int) -> None:
    import random
    import statistics

    rng = random.Random(n)
    values = [rng.expovariate(0.1) for _ in range(n)]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    assert percentiles(values) == (cuts[49], cuts[94], cuts[98])  # the same floats


def test_deviations_against_the_definition(definitions):
    order = next(d for d in definitions if d.flow_type == "order")
    happy = ["OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
             "OrderCompleted"]
    assert deviations(happy, order) == []
    found = deviations(["OrderPlaced", "CustomerNotified", "InventoryReserved",
                        "PaymentProcessed", "OrderCompleted", "ShippingScheduled"], order)
    assert [(d.kind, d.event_type) for d in found] == [
        ("skipped-step", "InventoryReserved"),
        ("wrong-order", "PaymentProcessed"),
        ("skipped-step", "OrderCompleted"),
        ("wrong-order", "ShippingScheduled"),
    ]


def test_types_outside_the_definition_are_no_deviation_and_no_variant(definitions):
    """Issue 16: notifications joined 794 of 876 demo order flows as "unexpected-event" and
    split the variants; docs/FLOWS.md says they join the instance without being steps."""
    order = next(d for d in definitions if d.flow_type == "order")
    happy = ["OrderPlaced", "PaymentProcessed", "InventoryReserved", "ShippingScheduled",
             "OrderCompleted"]
    assert deviations([*happy[:2], "CustomerNotified", *happy[2:], "OrderAudited"], order) == []
    events = [ev(k, i, "c1") for i, k in enumerate(happy)]
    events += [ev(k, i, "c2") for i, k in enumerate([*happy[:2], "CustomerNotified", *happy[2:]])]
    report = Discovery.for_definitions(definitions).add(events).report()["order"]
    assert [(v.path, v.count) for v in report.variants] == [(tuple(happy), 2)]
    assert all("CustomerNotified" not in (e.source, e.target) for e in report.edges)


def test_a_forbidden_type_is_a_deviation(definitions):
    from dataclasses import replace

    order = next(d for d in definitions if d.flow_type == "order")
    strict = replace(order, forbidden=frozenset({"OrderCancelled"}))
    found = deviations(["OrderPlaced", "OrderCancelled", "PaymentProcessed",
                        "CustomerNotified"], strict)
    assert [(d.kind, d.event_type, d.after) for d in found] == [
        ("forbidden-event", "OrderCancelled", "OrderPlaced")]
    report = Discovery.for_definitions([strict]).add(
        [ev(k, i) for i, k in enumerate(["OrderPlaced", "OrderCancelled", "CustomerNotified"])]
    ).report()["order"]
    assert [v.path for v in report.variants] == [("OrderPlaced", "OrderCancelled")]


def test_a_forbidden_type_that_is_a_step_is_refused():
    raw = json.loads((ROOT / "schemas" / "flows" / "order.json").read_text(encoding="utf-8"))
    with pytest.raises(DefinitionError, match=r"field 'forbidden.0': 'PaymentFailed' is a step"):
        parse_definition({**raw, "forbidden": ["PaymentFailed"]}, "order.json")


def test_helpdesk_imported_into_a_store_gives_the_same_graph(tmp_path, monkeypatch, capsys):
    import json

    from collector.cli import main

    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    url = f"sqlite:///{tmp_path / 'helpdesk.db'}"
    assert main(["flows", "import", str(HELPDESK), "--json", "--store", url]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert (imported["events"], imported["correlation_ids"]) == (21_348, 4_580)
    assert main(["flows", "variants", "--json", "--limit", "5", "--store", url]) == 0
    report = json.loads(capsys.readouterr().out)
    ours: Counter[tuple[str, str]] = Counter()
    for flow in report.values():
        ours.update({(e["from"], e["to"]): e["count"] for e in flow["edges"]})
    assert ours == independent_df_counts(HELPDESK)
    assert sum(flow["cases"] for flow in report.values()) == 4_580
