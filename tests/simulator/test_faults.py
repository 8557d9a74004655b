"""Each fault produces the truth issue 2's table gives, checked from the records and truth alone.

Every faulted run is compared with the clean run of the same seed: flows do not depend on the
faults, so a flow a fault missed is identical, and a flow it hit differs only as the table says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jsonschema
import orjson
import pytest

from collector.simulator import TOPOLOGY, Fault
from collector.simulator.domain import EVENT_TYPES

from .conftest import Run, schema_path, simulate

RATE = 0.3
Row = dict[str, Any]


def _flow_part(row: Row) -> tuple[Any, ...]:
    return row["instance"], row["flow_type"], row["outcome"], row["sla_breached"], row["events"]


def _assert_missed_flows_unchanged(clean: Run, faulted: Run) -> None:
    assert clean.truth.keys() == faulted.truth.keys()
    for corr, row in faulted.truth.items():
        if not row["faults"]:
            assert _flow_part(row) == _flow_part(clean.truth[corr])


def _without(events: list[list[str]], extra: list[str] | None) -> list[list[str]]:
    return [e for e in events if e != extra]


def _assert_flow_unchanged(clean: Run, faulted: Run, name: str) -> int:
    """Rows hit by the fault have the clean outcome, SLA verdict and events (extras aside)."""
    hits = faulted.with_fault(name)
    assert hits, f"no flow got {name}"
    for row, fault in hits:
        before = clean.truth[row["correlation_id"]]
        assert row["outcome"] == before["outcome"]
        assert row["sla_breached"] == before["sla_breached"]
        extra = fault["event"] if name in ("unknown-type", "orphan") else None
        assert _without(row["events"], extra) == before["events"]
    _assert_missed_flows_unchanged(clean, faulted)
    return len(hits)


def _time(doc: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(doc["time"])


def test_clean_run_has_no_stuck_or_late_flow_and_every_outcome_kind() -> None:
    clean = simulate()
    outcomes = {row["outcome"] for row in clean.truth.values()}
    assert outcomes == {"completed", "failed", "compensated"}
    assert not any(row["sla_breached"] or row["faults"] for row in clean.truth.values())
    assert clean.expectations == ()
    assert all(len(v) == 1 for v in clean.by_identity().values())
    assert sum(len(r["events"]) for r in clean.truth.values()) == len(clean.records)


@pytest.mark.parametrize("fault", list(Fault))
def test_a_rate_of_one_gives_every_flow_its_fault_once(fault: Fault) -> None:
    run = simulate(60, 3, **{fault.value.replace("-", "_"): 1.0})
    for row in run.truth.values():
        assert [f["name"] for f in row["faults"]] == [fault.value]
    assert run.sim.stats.faults[fault.value] == 60


def test_lost_event_leaves_the_flow_stuck_at_that_step_and_nobody_reacts() -> None:
    clean, faulted = simulate(), simulate(lost=RATE)
    delivered = faulted.by_identity()
    clean_docs = clean.by_identity()
    hits = faulted.with_fault("lost")
    assert hits
    for row, fault in hits:
        lost = tuple(fault["event"])
        assert row["outcome"] == "stuck"
        assert row["sla_breached"] is True
        assert lost not in delivered
        assert lost != tuple(row["instance"]), "the start event is never lost"
        [(_, lost_doc)] = clean_docs[lost]  # it is on the path the flow would have taken
        definition = next(d for d in _defs() if d.flow_type == row["flow_type"])
        assert lost_doc["type"] in definition.event_types - definition.start
        assert not any(doc.get("causationid") == lost_doc["id"] for _, doc in faulted.docs())
        # stuck at that step: the last step delivered is the event the lost one followed
        steps = [delivered[tuple(e)][0][1] for e in row["events"]
                 if delivered[tuple(e)][0][1]["type"] in definition.event_types]
        last = max(steps, key=_time)
        assert last["id"] == lost_doc["causationid"]
        assert set(map(tuple, row["events"])) < set(map(tuple, clean.truth[
            row["correlation_id"]]["events"]))
    _assert_missed_flows_unchanged(clean, faulted)


def _defs() -> Any:
    from .conftest import definitions

    return definitions()


def test_slow_step_is_later_than_its_deadline_and_the_flow_ends_as_usual() -> None:
    clean, faulted = simulate(), simulate(slow=RATE)
    docs = faulted.by_identity()
    hits = faulted.with_fault("slow")
    assert hits
    for row, fault in hits:
        before = clean.truth[row["correlation_id"]]
        assert row["outcome"] == before["outcome"] != "stuck"
        assert row["sla_breached"] is True
        assert before["sla_breached"] is False
        assert sorted(row["events"]) == sorted(before["events"])  # the same events, later
        [(_, late)] = docs[tuple(fault["event"])]
        cause = next(doc for _, doc in faulted.docs() if doc["id"] == late["causationid"])
        assert cause["type"] == fault["step"]
        definition = next(d for d in _defs() if d.flow_type == row["flow_type"])
        deadline = definition.transition_from(cause["type"]).deadline
        assert _time(late) - _time(cause) > deadline
    _assert_missed_flows_unchanged(clean, faulted)


def test_duplicate_is_delivered_twice_with_the_same_identity_and_changes_nothing() -> None:
    clean, faulted = simulate(), simulate(duplicate=RATE)
    _assert_flow_unchanged(clean, faulted, "duplicate")
    seen = faulted.by_identity()
    twice = {k for k, v in seen.items() if len(v) == 2}
    assert twice == {tuple(f["event"]) for _, f in faulted.with_fault("duplicate")}
    assert all(len(v) <= 2 for v in seen.values())
    for identity in twice:
        (first, _), (second, _) = seen[identity]
        assert faulted.records[first].value == faulted.records[second].value
        assert faulted.records[first].at < faulted.records[second].at


def test_reorder_delivers_an_event_after_one_that_follows_it_and_changes_nothing() -> None:
    clean, faulted = simulate(), simulate(reorder=RATE)
    _assert_flow_unchanged(clean, faulted, "reorder")
    seen = faulted.by_identity()
    for _, fault in faulted.with_fault("reorder"):
        [(at, doc)] = seen[tuple(fault["event"])]
        [(after_at, after)] = seen[tuple(fault["delivered_after"])]
        assert after["causationid"] == doc["id"]
        assert _time(doc) < _time(after)
        assert at > after_at  # delivered after an event that follows it in time
    times = [r.at for r in faulted.records]
    assert times == sorted(times)  # records come in delivery order


def _validator(doc: dict[str, Any]) -> jsonschema.Draft202012Validator:
    event_type, version = doc["dataschema"].split("/")[-2:]
    schema = orjson.loads(schema_path(event_type, int(version[1:])).read_bytes())
    return jsonschema.Draft202012Validator(schema)


def test_bad_schema_payload_violates_its_schema_and_consumers_still_react() -> None:
    clean, faulted = simulate(), simulate(bad_schema=RATE)
    _assert_flow_unchanged(clean, faulted, "bad-schema")
    seen = faulted.by_identity()
    expected = {tuple(e["event"]): e for e in faulted.expectations if e["kind"] == "violation"}
    hits = faulted.with_fault("bad-schema")
    assert len(expected) == len(hits)
    for _, fault in hits:
        [(_, doc)] = seen[tuple(fault["event"])]
        errors = list(_validator(doc).iter_errors(doc["data"]))
        assert [(e.json_path, e.validator) for e in errors] == [
            ("$." + fault["pointer"][1:], "type")]
        assert expected[tuple(fault["event"])]["pointer"] == fault["pointer"]
        if doc["type"] not in _defs()[0].terminal | _defs()[1].terminal:
            assert any(d.get("causationid") == doc["id"] for _, d in faulted.docs())


def test_unknown_type_is_an_extra_event_of_the_flow_that_no_schema_or_flow_knows() -> None:
    clean, faulted = simulate(), simulate(unknown_type=RATE)
    _assert_flow_unchanged(clean, faulted, "unknown-type")
    seen = faulted.by_identity()
    known = set().union(*(d.event_types for d in _defs()))
    expected = {tuple(e["event"]) for e in faulted.expectations if e["kind"] == "undocumented"}
    for row, fault in faulted.with_fault("unknown-type"):
        [(_, doc)] = seen[tuple(fault["event"])]
        assert fault["event"] in row["events"]
        assert doc["correlationid"] == row["correlation_id"]
        assert doc["type"] not in known
        assert not schema_path(doc["type"], 1).parent.exists()
        assert "dataschema" not in doc
        assert tuple(fault["event"]) in expected


def test_orphan_is_a_documented_type_that_no_service_consumes() -> None:
    clean, faulted = simulate(), simulate(orphan=RATE)
    _assert_flow_unchanged(clean, faulted, "orphan")
    seen = faulted.by_identity()
    expected = {tuple(e["event"]) for e in faulted.expectations if e["kind"] == "orphan"}
    for row, fault in faulted.with_fault("orphan"):
        [(_, doc)] = seen[tuple(fault["event"])]
        assert doc["correlationid"] == row["correlation_id"]
        assert schema_path(doc["type"], 1).exists()
        assert TOPOLOGY.route(doc["type"]).consumers == ()
        assert not any(d.get("causationid") == doc["id"] for _, d in faulted.docs())
        assert tuple(fault["event"]) in expected


def _dead_letters(run: Run, reason: str | None = None) -> list[dict[str, Any]]:
    return [e for e in run.expectations if e["kind"] == "dead-letter"
            and (reason is None or e["reason"] == reason)]


def test_undecodable_record_is_not_json_and_belongs_to_no_flow() -> None:
    clean, faulted = simulate(), simulate(undecodable=RATE)
    _assert_flow_unchanged(clean, faulted, "undecodable")
    dead = _dead_letters(faulted)
    assert {d["reason"] for d in dead} == {"not-json", "not-utf8"}
    assert len(dead) == len(faulted.with_fault("undecodable"))
    for d in dead:
        record = faulted.records[d["offset"]]
        assert record.topic == d["topic"]
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(record.value)
        if d["reason"] == "not-utf8":
            with pytest.raises(UnicodeDecodeError):
                record.value.decode()
        else:
            record.value.decode()
    assert len(faulted.records) == len(clean.records) + len(dead)


def test_no_correlation_event_is_valid_but_uncorrelated_and_belongs_to_no_flow() -> None:
    clean, faulted = simulate(), simulate(no_correlation=RATE)
    _assert_flow_unchanged(clean, faulted, "no-correlation")
    dead = _dead_letters(faulted, "no-correlation")
    in_flows = {tuple(e) for row in faulted.truth.values() for e in row["events"]}
    assert len(dead) == len(faulted.with_fault("no-correlation"))
    for d in dead:
        record = faulted.records[d["offset"]]
        doc = orjson.loads(record.value)
        assert record.topic == d["topic"] == EVENT_TYPES[doc["type"]].topic
        assert doc["specversion"] == "1.0"
        assert "correlationid" not in doc
        assert "causationid" not in doc
        assert (doc["source"], doc["id"]) not in in_flows
        assert not list(_validator(doc).iter_errors(doc["data"]))
