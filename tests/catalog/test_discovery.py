"""Discovery and drift: inferred proposals that merge, drift per producer, traffic backtests."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.backtest import Sample, backtest, fold_indices
from catalog.changes import Policy
from catalog.compatibility import check
from catalog.drift import DriftItem, drift
from catalog.exceptions import SchemaRejected
from catalog.metaschema import iter_problems
from catalog.registry import Registry
from catalog.validation import Validator

SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"type": "number"},
        "lines": {"type": "array", "items": {"type": "object", "properties": {
            "sku": {"type": "string"}}}},
        "meta": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["order_id"],
}


def test_inferred_schema_accepts_every_sample_and_is_registrable() -> None:
    from catalog.inference import infer_schema

    payloads = [{"order_id": "o-1", "amount": 3, "tags": ["a"]},
                {"order_id": "o-2", "amount": 2.5, "customer": {"id": 7}}]
    schema = infer_schema(payloads, event_type="OrderPlaced")
    assert (schema["title"], schema["x-samples"], schema["x-inferred"]) == ("OrderPlaced", 2, True)
    assert list(iter_problems(schema)) == []
    registry, _ = Registry().with_version("OrderPlaced", schema)
    assert all(Validator(registry).validate("OrderPlaced", None, p) == [] for p in payloads)
    assert schema["required"] == ["amount", "order_id"]


def test_a_proposal_merges_new_samples_and_only_widens() -> None:
    from catalog.inference import infer_schema

    first = infer_schema([{"order_id": "o-1", "amount": 3}], event_type="OrderPlaced")
    merged = infer_schema([{"order_id": 5, "note": "x"}], event_type="OrderPlaced",
                          previous=first)
    assert merged["x-samples"] == 2
    assert merged["properties"]["order_id"]["type"] == ["integer", "string"]
    assert "amount" not in merged.get("required", [])
    assert check(first, merged, policy=Policy.LENIENT).compatible  # a merge only widens


def test_drift_per_producer() -> None:
    samples = [
        Sample("shop", {"order_id": "o-1", "amount": 1, "lines": [{"sku": "a"}]}),
        Sample("legacy", {"order_id": 42, "amount": 1, "coupon": "X",
                          "lines": [{"sku": "a", "colour": "red"}, {"sku": 3}],
                          "meta": {"anything": "goes"}}),
        Sample("legacy", {"order_id": "o-3", "coupon": "Y"}),
    ]
    shop, legacy = sorted(drift(SCHEMA, samples), key=lambda p: p.producer != "shop")
    assert (shop.producer, shop.samples, shop.items) == ("shop", 1, ())
    assert legacy.samples == 2
    assert set(legacy.items) == {
        DriftItem("type", "/order_id", "string", "integer", 1),
        DriftItem("undeclared", "/coupon", None, "string", 2),
        DriftItem("undeclared", "/lines/*/colour", None, "string", 1),
        DriftItem("type", "/lines/*/sku", "string", "integer", 1),
    }


def test_drift_follows_refs_and_combinators() -> None:
    schema = {"$defs": {"base": {"properties": {"id": {"type": "string"}}}},
              "allOf": [{"$ref": "#/$defs/base"}],
              "anyOf": [{"properties": {"a": {"type": "integer"}}},
                        {"properties": {"b": {"type": "integer"}}}]}
    [result] = drift(schema, [Sample("p", {"id": "x", "a": 1, "b": 2, "c": 3})])
    assert result.items == (DriftItem("undeclared", "/c", None, "integer", 1),)


def test_backtest_counts_rejections_per_producer_with_paths_and_examples() -> None:
    samples = [Sample("shop", {"order_id": "o-1", "lines": [{"sku": "a"}]}, "t1", "e1")]
    samples += [Sample("legacy", {"order_id": "o", "lines": [{"sku": i}]}, f"t{i}", f"l{i}")
                for i in range(5)]
    result = backtest(SCHEMA, samples, examples=2)
    assert (result.checked, result.rejected) == (6, 5)
    legacy, shop = result.producers
    assert (legacy.producer, legacy.checked, legacy.rejected) == ("legacy", 5, 5)
    assert dict(legacy.paths) == {("/lines/*/sku", "type"): 5}
    assert [e.event_id for e in legacy.examples] == ["l0", "l1"]
    assert legacy.examples[0].findings[0].pointer == "/lines/0/sku"
    assert (shop.rejected, shop.examples) == (0, [])


def test_backtest_refuses_an_invalid_schema() -> None:
    with pytest.raises(SchemaRejected, match=r"new\.json"):
        backtest({"type": "strin"}, [], source="new.json")


@pytest.mark.parametrize(("pointer", "folded"), [("/a/3/b", "/a/*/b"), ("/a/10", "/a/*"),
                                                 ("/a3/b", "/a3/b"), ("", "")])
def test_fold_indices(pointer: str, folded: Any) -> None:
    assert fold_indices(pointer) == folded


def test_proposals_only_for_unregistered_types_and_merged_with_earlier_ones() -> None:
    from catalog.inference import propose_undocumented

    samples = [("OrderPlaced", {"order_id": "o"}), ("CouponApplied", {"code": "A"}),
               ("CouponApplied", {"code": "B", "percent": 10})]
    first = propose_undocumented(samples, {"OrderPlaced"})
    assert list(first) == ["CouponApplied"]
    assert first["CouponApplied"]["x-samples"] == 2
    later = propose_undocumented([("CouponApplied", {"code": 7})], {"OrderPlaced"}, first)
    assert later["CouponApplied"]["x-samples"] == 3
    assert later["CouponApplied"]["properties"]["code"]["type"] == ["integer", "string"]
