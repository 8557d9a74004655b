"""The registry: loading the schemas/events layout, meta-schema refusals, immutable versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog.changes import ChangeType, Mode, Policy
from catalog.exceptions import IncompatibleSchema, SchemaNotFound, SchemaRejected
from catalog.files import load_registry, write_settings, write_version
from catalog.registry import Registry

D7 = "http://json-schema.org/draft-07/schema#"
D2020 = "https://json-schema.org/draft/2020-12/schema"


def _order(**extra: Any) -> dict[str, Any]:
    return {
        "$schema": D2020,
        "title": "OrderPlaced",
        "description": "An order was placed.",
        "x-owner": "orders-team",
        "x-domain": "sales",
        "x-topic": "orders",
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
        "required": ["order_id"],
        **extra,
    }


def _write(root: Path, subject: str, version: int, schema: Any) -> Path:
    path = root / subject / f"v{version}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))
    return path


def test_loads_subjects_with_versions_in_numeric_order(tmp_path: Path) -> None:
    _write(tmp_path, "OrderPlaced", 10, _order(description="ten"))
    _write(tmp_path, "OrderPlaced", 2, _order(description="two"))
    _write(tmp_path, "PaymentTaken", 1, {"$schema": D7, "type": "object"})
    registry = load_registry(tmp_path)
    assert [s.name for s in registry] == ["OrderPlaced", "PaymentTaken"]
    assert [v.version for v in registry.subject("OrderPlaced").versions] == [2, 10]
    latest = registry.get("OrderPlaced")
    assert (latest.version, latest.description, latest.owner, latest.domain, latest.topic) == (
        10, "ten", "orders-team", "sales", "orders")
    assert [s.name for s in registry.by_topic("orders")] == ["OrderPlaced"]


@pytest.mark.parametrize(
    ("schema", "keyword", "pointer"),
    [
        ({"type": "strin"}, "type", "/type"),
        ({"properties": {"amount": {"minimum": "ten"}}}, "minimum", "/properties/amount/minimum"),
        ({"$schema": D7, "required": "order_id"}, "required", "/required"),
        ({"pattern": "[a-"}, "pattern", "/pattern"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "$schema", "/$schema"),
    ],
)
def test_a_refusal_names_the_file_and_the_keyword(
    tmp_path: Path, schema: Any, keyword: str, pointer: str
) -> None:
    path = _write(tmp_path, "Bad", 1, schema)
    with pytest.raises(SchemaRejected) as info:
        load_registry(tmp_path)
    assert (info.value.source, info.value.keyword, info.value.pointer) == (str(path), keyword,
                                                                           pointer)
    assert str(path) in str(info.value)
    assert repr(keyword) in str(info.value)


def test_unreadable_json_is_refused_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Broken" / "v1.json"
    path.parent.mkdir()
    path.write_text("{not json")
    with pytest.raises(SchemaRejected, match=r"Broken/v1\.json.*not valid JSON"):
        load_registry(tmp_path)


def test_with_version_returns_a_new_registry_and_leaves_the_old_one() -> None:
    empty = Registry()
    one, v1 = empty.with_version("OrderPlaced", _order())
    assert "OrderPlaced" not in empty
    assert v1.version == 1
    two, v2 = one.with_version("OrderPlaced", _order(required=[]))
    assert v2.version == 2
    assert [v.version for v in one.subject("OrderPlaced").versions] == [1]
    assert [v.version for v in two.subject("OrderPlaced").versions] == [1, 2]


def test_defaults_are_backward_and_strict_and_an_incompatible_version_is_refused() -> None:
    registry, _ = Registry().with_version("OrderPlaced", _order())
    assert registry.settings("OrderPlaced") == (Mode.BACKWARD, Policy.STRICT)
    narrower = _order(required=["order_id", "amount"])
    with pytest.raises(IncompatibleSchema) as info:
        registry.with_version("OrderPlaced", narrower)
    report = info.value.report
    assert [(c.type, c.path) for c in report.changes] == [  # type: ignore[attr-defined]
        (ChangeType.REQUIRED_ATTRIBUTE_ADDED, "#/required/amount")]


def test_subject_settings_decide_the_verdict() -> None:
    registry, _ = Registry().with_version("OrderPlaced", _order())
    with_field = _order(properties={"order_id": {"type": "string"}, "amount": {"type": "number"},
                                    "note": {"type": "string"}})
    with pytest.raises(IncompatibleSchema):
        registry.with_version("OrderPlaced", with_field)  # strict: a new optional field
    lenient = registry.with_settings("OrderPlaced", policy=Policy.LENIENT)
    _, version = lenient.with_version("OrderPlaced", with_field)
    assert version.version == 2
    none = registry.with_settings("OrderPlaced", mode=Mode.NONE)
    assert none.check("OrderPlaced", {"type": "string"}).compatible


def test_transitive_mode_checks_every_earlier_version() -> None:
    registry = Registry(mode=Mode.BACKWARD_TRANSITIVE)
    registry, _ = registry.with_version("T", {"type": "integer", "maximum": 10})
    registry, _ = registry.with_version("T", {"type": "integer"})
    third = {"type": "integer", "maximum": 20}
    report = registry.check("T", third)
    assert not report.compatible  # narrower than v2
    assert report.verdicts[Mode.BACKWARD] is False
    assert report.verdicts[Mode.FORWARD] is True
    assert [cmp.against for cmp in report.comparisons] == [1, 2]


def test_unknown_subject_and_version() -> None:
    registry, _ = Registry().with_version("OrderPlaced", _order())
    with pytest.raises(SchemaNotFound, match="'Nope'"):
        registry.get("Nope")
    with pytest.raises(SchemaNotFound, match="version 7"):
        registry.get("OrderPlaced", 7)


def test_written_versions_and_settings_load_back(tmp_path: Path) -> None:
    _registry, v1 = Registry().with_version("OrderPlaced", _order())
    write_version(tmp_path, v1)
    write_settings(tmp_path, "OrderPlaced", Mode.FULL, None)
    loaded = load_registry(tmp_path)
    assert loaded.get("OrderPlaced").schema == _order()
    assert loaded.settings("OrderPlaced") == (Mode.FULL, Policy.STRICT)
    with pytest.raises(FileExistsError):
        write_version(tmp_path, v1)


def test_report_lists_each_version_against_the_ones_before(tmp_path: Path) -> None:
    _write(tmp_path, "OrderPlaced", 1, _order())
    _write(tmp_path, "OrderPlaced", 2, _order(required=[]))
    _write(tmp_path, "OrderPlaced", 3, _order(required=["order_id", "amount"]))
    reports = load_registry(tmp_path).report()
    assert [(r.version, r.report.compatible) for r in reports] == [(2, True), (3, False)]
