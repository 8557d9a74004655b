"""Live validation: compiled findings, versions from dataschema, agreement with the reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.exceptions import SchemaNotFound
from catalog.registry import Registry
from catalog.validation import (
    Finding,
    ReferenceValidator,
    Validator,
    parse_dataschema,
    tally,
)

V1 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": "^o-[0-9]+$"},
        "amount": {"type": "number", "minimum": 0},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}},
    },
    "required": ["order_id", "amount"],
    "$defs": {"line": {"type": "object", "properties": {"sku": {"type": "string"},
                                                         "qty": {"type": "integer"}},
                       "required": ["sku"], "additionalProperties": False}},
}
V2 = {**V1, "required": ["order_id"]}


@pytest.fixture(scope="module")
def registry() -> Registry:
    reg, _ = Registry().with_version("OrderPlaced", V1)
    reg, _ = reg.with_version("OrderPlaced", V2)
    return reg


def test_valid_payload_has_no_findings(registry: Registry) -> None:
    data = {"order_id": "o-1", "amount": 3.5, "lines": [{"sku": "a", "qty": 1}]}
    assert Validator(registry).validate("OrderPlaced", 1, data) == []


def test_findings_name_pointer_keyword_and_message(registry: Registry) -> None:
    data = {"order_id": "x", "amount": -1, "lines": [{"sku": "a"}, {"qty": "2", "extra": 1}]}
    found = Validator(registry).validate("OrderPlaced", 1, data)
    assert {(f.pointer, f.keyword) for f in found} == {
        ("/order_id", "pattern"), ("/amount", "minimum"), ("/lines/1", "required"),
        ("/lines/1", "additionalProperties"), ("/lines/1/qty", "type")}
    assert all(f.message for f in found)


def test_version_none_is_the_latest(registry: Registry) -> None:
    validator = Validator(registry)
    assert validator.validate("OrderPlaced", None, {"order_id": "o-1"}) == []
    assert [f.keyword for f in validator.validate("OrderPlaced", 1, {"order_id": "o-1"})] == [
        "required"]


def test_unknown_type_or_version(registry: Registry) -> None:
    validator = Validator(registry)
    assert validator.knows("OrderPlaced")
    assert not validator.knows("Nope")
    with pytest.raises(SchemaNotFound):
        validator.validate("Nope", None, {})
    with pytest.raises(SchemaNotFound):
        validator.validate("OrderPlaced", 9, {})


def test_compiled_once_per_type_and_version(registry: Registry) -> None:
    validator = Validator(registry)
    assert validator.compiled("OrderPlaced", 1) is validator.compiled("OrderPlaced", 1)
    assert validator.compiled("OrderPlaced", 1) is not validator.compiled("OrderPlaced", 2)


@pytest.mark.parametrize(
    ("dataschema", "expected"),
    [
        ("https://schemas.example.com/events/OrderPlaced/v1", ("OrderPlaced", 1)),
        ("urn:choreoscope:OrderPlaced/v12.json", ("OrderPlaced", 12)),
        ("/schemas/events/PaymentTaken/v3/", ("PaymentTaken", 3)),
        ("OrderPlaced/v2", ("OrderPlaced", 2)),
        ("https://example.com/OrderPlaced", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_dataschema(dataschema: str | None, expected: tuple[Any, Any]) -> None:
    assert parse_dataschema(dataschema) == expected


def test_tally_counts_per_producer_type_and_version() -> None:
    bad = [Finding("/a", "type", "m"), Finding("/b", "required", "m")]
    counts = tally([("shop", "OrderPlaced", 1, []), ("shop", "OrderPlaced", 1, bad),
                    ("legacy", "OrderPlaced", None, bad[:1])])
    shop = counts[("shop", "OrderPlaced", 1)]
    assert (shop.checked, shop.invalid, dict(shop.keywords)) == (2, 1, {"type": 1, "required": 1})
    assert counts[("legacy", "OrderPlaced", None)].invalid == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["order_id", "amount", "lines", "sku", "qty", "x"]), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_compiled_and_reference_agree_on_validity_and_places(data: Any) -> None:
    reg, _ = Registry().with_version("OrderPlaced", V1)
    compiled = Validator(reg).validate("OrderPlaced", 1, data)
    reference = ReferenceValidator(reg).validate("OrderPlaced", 1, data)
    assert bool(compiled) == bool(reference)
    assert {f.pointer for f in compiled} == {f.pointer for f in reference}


def test_validate_event_uses_the_named_version_else_the_latest(registry: Registry) -> None:
    validator = Validator(registry)
    data = {"order_id": "o-1"}
    assert validator.validate_event("OrderPlaced", "https://x/OrderPlaced/v1", data)[0] == 1
    assert validator.validate_event("OrderPlaced", "https://x/OrderPlaced/v1", data)[1] != []
    assert validator.validate_event("OrderPlaced", None, data) == (2, [])
    assert validator.validate_event("OrderPlaced", "https://x/OrderPlaced/v9", data) == (2, [])
    assert validator.validate_event("OrderPlaced", "https://x/Other/v1", data) == (2, [])
    with pytest.raises(SchemaNotFound):
        validator.validate_event("Nope", None, data)


@pytest.mark.parametrize("dialect", ["http://json-schema.org/draft-07/schema#",
                                     "https://json-schema.org/draft/2020-12/schema"])
def test_formats_are_annotations_in_both_validators(dialect: str) -> None:
    reg, _ = Registry().with_version("T", {"$schema": dialect, "type": "string",
                                           "format": "date-time"})
    assert Validator(reg).validate("T", None, "not a time") == []
    assert ReferenceValidator(reg).validate("T", None, "not a time") == []
