"""Live validation in the collector: the adapter from the catalog's validator to violations,
and the pipeline `build_pipeline` gives ``collect``, ``simulate --store`` and ``demo``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from catalog.registry import Registry
from catalog.validation import Validator
from collector.cli import main
from collector.commands.collect import build_pipeline
from collector.exceptions import ConfigError
from collector.model import Event, Location, Observation, Violation
from collector.settings import load_settings
from collector.store.base import open_store
from collector.validate import build_validator, load_validator

ROOT = Path(__file__).resolve().parents[2]


def violations_of(validator: Validator, event: Event) -> list[Violation]:
    """The reference answer, straight from the catalog's validator (no caching)."""
    if not validator.knows(event.type):
        return []
    version, findings = validator.validate_event(event.type, event.dataschema, event.data)
    return [Violation(event.identity, event.type, event.source, version, f.pointer, f.keyword,
                      f.message, event.occurred_at) for f in findings]
T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AT = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)

V1 = {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}
V2 = {"type": "object", "properties": {"amount": {"type": "number"},
                                       "currency": {"type": "string"}}, "required": ["amount"]}


def registry() -> Registry:
    reg = Registry().with_loaded("Paid", V1, source="v1", version=1)
    return reg.with_loaded("Paid", V2, source="v2", version=2)


def event(data: Any, *, etype: str = "Paid", dataschema: str | None = None) -> Event:
    return Event(id="e1", type=etype, source="pay-service", occurred_at=T, correlation_id="c1",
                 data=data, location=Location("test"), received_at=AT, dataschema=dataschema)


@pytest.mark.parametrize(("data", "dataschema", "version", "found"), [
    ({"amount": 3}, None, 2, []),
    ({"amount": "3"}, None, 2, [("/amount", "type")]),
    ({"amount": 3, "currency": 7}, None, 2, [("/currency", "type")]),
    ({"amount": 3, "currency": 7}, "https://x/schemas/Paid/v1", 1, []),  # v1 has no currency
    ({}, "https://x/schemas/Paid/v1", 1, [("", "required")]),
    ({"amount": 3, "currency": 7}, "https://x/schemas/Paid/v9", 2, [("/currency", "type")]),
    ({"amount": 3, "currency": 7}, "https://x/schemas/Other/v1", 2, [("/currency", "type")]),
])
def test_the_version_named_by_dataschema_else_the_latest(
        data: Any, dataschema: str | None, version: int, found: list[tuple[str, str]]) -> None:
    got = violations_of(Validator(registry()), event(data, dataschema=dataschema))
    assert [(v.pointer, v.keyword) for v in got] == found
    for v in got:
        assert v.schema_version == version
        assert v.event == event(data).identity
        assert v.event_type == "Paid"
        assert v.producer == "pay-service"
        assert v.occurred_at == T  # the event's own time, not its arrival
        assert v.message


def test_an_unknown_type_is_not_a_violation() -> None:
    validate = build_validator(registry())
    assert list(validate(event({"anything": 1}, etype="Unheard"))) == []
    assert [v.pointer for v in validate(event({"amount": None}))] == ["/amount"]


CASES = [
    ({"amount": 3}, None), ({"amount": "3"}, None), ({"amount": 3, "currency": 7}, None),
    ({"amount": 3, "currency": 7}, "https://x/schemas/Paid/v1"),
    ({}, "https://x/schemas/Paid/v1"), ({"amount": 3}, "https://x/schemas/Paid/v1"),
    ({"amount": 3, "currency": 7}, "https://x/schemas/Paid/v9"),
    ({"amount": "x"}, "https://x/schemas/Other/v1"),
]


def test_the_pipeline_validator_answers_as_the_catalog_on_every_later_event_too() -> None:
    """`build_validator` resolves a (type, dataschema) once and caches it: the first event of a
    pair and every later one (valid or not, of a known or unknown type) get the answers the
    catalog's own path gives."""
    validate, reference = build_validator(registry()), Validator(registry())
    events = [event(data, dataschema=ds) for data, ds in CASES]
    events += [event({"amount": "3"}, etype="Unheard")]
    for _ in range(3):
        for e in events:
            assert list(validate(e)) == violations_of(reference, e)
    assert sum(bool(violations_of(reference, e)) for e in events) == 5


def _settings(tmp_path: Path, schemas: dict[str, dict[int, Any]]) -> Any:
    for name, versions in schemas.items():
        folder = tmp_path / "schemas" / "events" / name
        folder.mkdir(parents=True)
        for number, schema in versions.items():
            (folder / f"v{number}.json").write_text(json.dumps(schema))
    (tmp_path / "schemas").mkdir(parents=True, exist_ok=True)
    return load_settings(None, store=f"sqlite:///{tmp_path / 'v.db'}",
                         schemas_dir=str(tmp_path / "schemas"))


def test_no_schemas_no_validator_and_a_bad_schema_file_is_named(tmp_path: Path) -> None:
    assert load_validator(_settings(tmp_path / "a", {})) is None
    with pytest.raises(ConfigError, match="Broken"):
        load_validator(_settings(tmp_path / "b", {"Broken": {1: {"type": 12}}}))


def test_build_pipeline_stores_a_violation_with_the_failing_field(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {"Paid": {1: V1, 2: V2}})
    store = open_store(settings.store)
    try:
        pipeline = build_pipeline(settings, store)
        doc = {"specversion": "1.0", "id": "e7", "type": "Paid", "source": "pay-service",
               "time": "2026-03-01T12:00:00Z", "correlationid": "c7",
               "dataschema": "https://x/schemas/Paid/v2",
               "data": {"amount": 5, "currency": ["EUR"]}}
        good = {**doc, "id": "e8", "data": {"amount": 5}}
        pipeline.process([Observation(Location("test", "t", 0, i), AT, orjson.dumps(d))
                          for i, d in enumerate((doc, good))])
        rows = store.query("SELECT * FROM violations")
    finally:
        store.close()
    assert len(rows) == 1
    row = rows[0]
    assert (row["source"], row["id"], row["pointer"], row["keyword"]) == (
        "pay-service", "e7", "/currency", "type")
    assert (row["event_type"], row["producer"], row["schema_version"]) == ("Paid", "pay-service", 2)
    assert row["occurred_at"].startswith("2026-03-01T12:00:00")


def test_simulate_store_records_the_bad_schema_faults(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``simulate --store`` (and ``demo``) run `build_pipeline`: each injected bad field is a
    stored violation at its pointer, and nothing else is."""
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    url = f"sqlite:///{tmp_path / 'sim.db'}"
    expect = tmp_path / "expect.jsonl"
    assert main(["simulate", "--flows", "300", "--seed", "5", "--store", url,
                 "--expectations", str(expect), "--fault-rate", "bad-schema=0.2",
                 "--fault-rate", "unknown-type=0.05"]) == 0
    wanted = {(e["event"][0], e["event"][1], e["pointer"], e["event_type"], e["version"])
              for e in map(json.loads, expect.read_text().splitlines())
              if e["kind"] == "violation"}
    assert len(wanted) > 20
    store = open_store(url, read_only=True)
    try:
        rows = store.query("SELECT source, id, pointer, keyword, event_type, schema_version "
                           "FROM violations")
    finally:
        store.close()
    assert {(r["source"], r["id"], r["pointer"], r["event_type"], r["schema_version"])
            for r in rows} == wanted
    assert {r["keyword"] for r in rows} == {"type"}
