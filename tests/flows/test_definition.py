"""Flow definitions: validated on load, errors naming file, flow and field; versions."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from collector.flows.definition import DefinitionError, load_definitions, parse_definition
from collector.flows.tracker import FlowTracker
from collector.model import FlowStatus

from .conftest import ROOT, at, ev

BASE = {
    "flow_type": "demo", "version": 1, "start": ["A"], "terminal": {"success": ["C"]},
    "transitions": [{"from": "A", "to": ["B"], "deadline": "PT10S"},
                    {"from": "B", "to": ["C"], "deadline": "PT10S"}],
    "sla": "PT30S",
}


def test_the_repository_definitions_load():
    found = load_definitions([ROOT / "schemas" / "flows"])
    assert {(d.flow_type, d.version) for d in found} >= {("order", 1), ("onboarding", 1)}
    order = next(d for d in found if d.flow_type == "order")
    assert order.longest_wait == timedelta(seconds=45)


@pytest.mark.parametrize(("change", "field", "problem"), [
    ({"version": 0}, "version", "greater than or equal to 1"),
    ({"flow_type": "Order"}, "flow_type", "pattern"),
    ({"start": []}, "start", "at least 1"),
    ({"sla": "PT0S"}, "sla", "must be positive"),
    ({"sla": "soon"}, "sla", ""),
    ({"transitions": [{"from": "A", "to": ["B"], "deadline": "-PT1S"}]},
     "transitions.0.deadline", "must be positive"),
    ({"transitions": [{"from": "C", "to": ["B"], "deadline": "PT1S"}]},
     "transitions.0.from", "terminal"),
    ({"transitions": [{"from": "A", "to": ["B"], "deadline": "PT1S"},
                      {"from": "A", "to": ["C"], "deadline": "PT1S"}]},
     "transitions", "more than one"),
    ({"effective_from": "2026-01-01T00:00:00"}, "effective_from", "UTC offset"),
    ({"surprise": 1}, "surprise", "Extra inputs"),
])
def test_errors_name_the_file_the_flow_and_the_field(tmp_path, change, field, problem):
    path = tmp_path / "demo.json"
    path.write_text(json.dumps({**BASE, **change}))
    with pytest.raises(DefinitionError) as caught:
        load_definitions([tmp_path])
    err = caught.value
    assert (err.path, err.field) == (str(path), field)
    assert err.flow in ("demo", "Order")
    assert problem in err.problem
    assert str(path) in str(err)
    assert field in str(err)


def test_unreadable_json_names_the_file(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(DefinitionError, match=r"bad\.json"):
        load_definitions([tmp_path])


def test_versions_side_by_side_and_conflicts(tmp_path):
    (tmp_path / "demo.json").write_text(json.dumps(BASE))
    (tmp_path / "demo.v2.json").write_text(json.dumps(
        {**BASE, "version": 2, "effective_from": "2026-06-01T00:00:00Z"}))
    found = load_definitions([tmp_path])
    assert [(d.flow_type, d.version) for d in found] == [("demo", 1), ("demo", 2)]
    (tmp_path / "again.json").write_text(json.dumps(BASE))
    with pytest.raises(DefinitionError, match=r"version.*version 1 is also defined in"):
        load_definitions([tmp_path])
    (tmp_path / "again.json").write_text(json.dumps({**BASE, "flow_type": "other"}))
    with pytest.raises(DefinitionError, match=r"demo.json: flow 'demo': field 'start': 'A' "
                                              r"already starts flow 'other'"):
        load_definitions([tmp_path])


def test_a_new_version_does_not_rewrite_verdicts_of_flows_started_before():
    v1 = parse_definition(BASE)
    # v2 is stricter and claims to be in force from before the flow started
    v2 = parse_definition({**BASE, "version": 2, "effective_from": "2000-01-01T00:00:00Z",
                           "sla": "PT5S"})
    tracker = FlowTracker([v1])
    first = tracker.on_events([ev("A", 0), ev("B", 8)])
    snap = first.flows[0]
    assert snap.definition_version == 1
    # restarted with both versions loaded: the flow stays on the version it started with
    restarted = FlowTracker([v1, v2])
    restarted.restore([(snap, [ev("A", 0), ev("B", 8)])])
    done = restarted.on_events([ev("C", 12)]).flows[0]
    assert (done.definition_version, done.status, done.sla_breached) == (
        1, FlowStatus.COMPLETED, False)
    # a flow starting now is judged by v2
    fresh = restarted.on_events([ev("A", 20, "new"), ev("B", 28, "new")]).flows
    assert {f.definition_version for f in fresh if f.correlation_id == "new"} == {2}
    assert restarted.on_tick(at(40)).flows[0].sla_breached
