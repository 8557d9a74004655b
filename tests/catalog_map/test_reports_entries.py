"""Reports and catalog entries, read off small maps whose answers are known."""

from __future__ import annotations

from datetime import timedelta

from catalog.entries import build_entries, entry_to_json
from catalog.eventmap import build_event_map
from catalog.metadata import Declaration, DeclaredRole, SamplePayload
from catalog.reports import has_consumer_evidence, run_reports
from tests.catalog_map.conftest import T0
from tests.catalog_map.test_eventmap import FLOWS, SCHEMAS, WINDOW, consume, produce, small_map


def by_report(findings: list) -> dict[str, list[tuple[str | None, str | None, str | None]]]:
    out: dict[str, list[tuple[str | None, str | None, str | None]]] = {}
    for f in findings:
        out.setdefault(f.report, []).append((f.event_type, f.service, f.topic))
    return out


def test_every_report_on_a_map_with_one_case_each() -> None:
    m = small_map()
    found = by_report(run_reports(m))
    assert found["undocumented"] == [("AuditTrail", None, None)]
    # AuditTrail is produced and nobody consumes it; CustomerRegistered is never seen at all
    assert found["orphan-produced"] == [("AuditTrail", None, None)]
    assert found["violations"] == [("OrderPlaced", "order-service", None)]
    assert found["shared-topic"] == [(None, None, "payments")]
    assert "declared-unseen" not in found
    assert "orphan-consumed" not in found


def test_consumed_but_never_produced() -> None:
    m = build_event_map([consume("reader", "Ghost", "t", {1: 3}),
                         produce("w", "Real", "t", 1), consume("reader", "Real", "t", {1: 1})])
    found = by_report(run_reports(m, ("orphans",)))
    assert found == {"orphan-consumed": [("Ghost", None, None)]}


def test_produced_never_consumed_is_not_judged_without_consumer_evidence() -> None:
    m = build_event_map([produce("a", "X", "t", 5)])
    assert not has_consumer_evidence(m)
    assert run_reports(m, ("orphans",)) == []


def test_declared_producers_and_consumers_never_seen() -> None:
    decls = [Declaration("order-service", DeclaredRole.PRODUCER, "OrderPlaced", "orders", "f"),
             Declaration("billing", DeclaredRole.CONSUMER, "OrderPlaced", "orders", "f"),
             Declaration("legacy", DeclaredRole.PRODUCER, "OrderPlaced", "orders", "f")]
    m = build_event_map([produce("order-service", "OrderPlaced", "orders", 1)],
                        declarations=decls)
    found = run_reports(m, ("declared-unseen",))
    assert sorted((f.service, f.event_type) for f in found) == [("billing", "OrderPlaced"),
                                                                ("legacy", "OrderPlaced")]
    assert all("declared in f" in f.message for f in found)


def test_entries_gather_what_the_catalog_knows_of_a_type() -> None:
    samples = [SamplePayload("OrderPlaced", "order-service", f"e{i}", T0, {"n": i})
               for i in range(5)]
    decls = [Declaration("billing", DeclaredRole.CONSUMER, "OrderPlaced", "orders", "f")]
    traffic = [produce("order-service", "OrderPlaced", "orders", 100),
               produce("order-service", "OrderPlaced", "orders", 20, minute=7),
               consume("payment-service", "OrderPlaced", "orders", {5: 10})]
    m = build_event_map(traffic, window=WINDOW, schemas=SCHEMAS, flows=FLOWS,
                        declarations=decls)
    entries = {e.event_type: e for e in build_entries(m, samples, samples_per_type=2)}
    e = entries["OrderPlaced"]
    assert (e.documented, e.owner, e.domain, e.versions) == (True, "checkout", "orders", (1, 2))
    assert e.description == "An order was placed (v2)"
    assert (e.producers, e.consumers, e.topics) == (("order-service",), ("payment-service",),
                                                    ("orders",))
    assert e.declared_consumers == ("billing",)
    assert e.count == 120
    assert (e.first_seen, e.last_seen) == (T0, T0 + timedelta(minutes=7, seconds=30))
    assert e.flows == ("order",)
    assert [s.event_id for s in e.samples] == ["e0", "e1"]
    unseen = entries["PaymentProcessed"]
    assert (unseen.count, unseen.first_seen, unseen.producers) == (0, None, ())
    doc = entry_to_json(e)
    assert doc["first_seen"] == T0.isoformat()
    assert doc["samples"][0]["data"] == {"n": 0}
