"""The demo domain's event schemas: well-formed, described, and what the simulator publishes."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest

from catalog.compatibility import check
from collector.simulator.domain import EVENT_TYPES, dataschema

from .conftest import SCHEMAS, definitions, schema_path, simulate

FILES = sorted((SCHEMAS / "events").glob("*/v*.json"))


def _load(event_type: str, version: int) -> dict[str, Any]:
    return orjson.loads(schema_path(event_type, version).read_bytes())  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_schema_is_draft_2020_12_with_its_metadata(path: Any) -> None:
    schema = orjson.loads(path.read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    event_type, version = path.parent.name, int(path.stem[1:])
    info = EVENT_TYPES[event_type]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == dataschema(event_type, version)
    assert schema["title"] == event_type
    assert len(schema["description"]) > 20
    assert (schema["x-owner"], schema["x-domain"], schema["x-topic"]) == (
        info.owner, info.domain, info.topic)
    assert schema["type"] == "object"
    assert set(schema["required"]) <= set(schema["properties"])
    assert version in info.versions


def test_every_event_type_of_the_flows_has_a_schema() -> None:
    names = set().union(*(d.event_types for d in definitions())) | {"CustomerNotified"}
    assert names <= {p.parent.name for p in FILES}


def test_every_published_event_validates_against_the_schema_it_names() -> None:
    run = simulate(1000, 21)
    validators: dict[str, jsonschema.Draft202012Validator] = {}
    versions = set()
    for _, doc in run.docs():
        ref = doc["dataschema"]
        if ref not in validators:
            event_type, v = ref.split("/")[-2:]
            validators[ref] = jsonschema.Draft202012Validator(_load(event_type, int(v[1:])))
        errors = [e.message for e in validators[ref].iter_errors(doc["data"])]
        assert errors == [], (ref, doc["data"])
        versions.add(ref)
    assert {dataschema("OrderPlaced", 1), dataschema("OrderPlaced", 2)} <= versions


def test_order_placed_v2_is_a_backward_compatible_evolution() -> None:
    v1, v2 = _load("OrderPlaced", 1), _load("OrderPlaced", 2)
    report = check(v1, v2)
    assert report.compatible
    assert [c.type.value for c in report.changes if c.path.startswith("#/properties")] == [
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"]
    new = jsonschema.Draft202012Validator(v2)
    old_data = [doc["data"] for _, doc in simulate(1000, 21).docs()
                if doc.get("dataschema") == dataschema("OrderPlaced", 1)]
    assert old_data
    assert all(new.is_valid(d) for d in old_data)  # v2 reads what v1 producers publish
