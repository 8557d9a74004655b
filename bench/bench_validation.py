"""Validation benchmark: events/s of the live hot path against jsonschema, same events, same run.

``validation_hot_path_vs_jsonschema``: `catalog.validation.Validator.validate` (jsonschema-rs,
compiled once per type and version) against `catalog.validation.ReferenceValidator.validate`
(jsonschema), both producing findings for the same stream of events. The schemas are the demo
domain's (``schemas/events``); payloads are each schema's ``examples`` or instances built from
the schema, kept only when the reference accepts them, with 5% made invalid (a wrong type in a
required field) as live traffic has some. Without demo schemas, a built-in order/payment
domain stands in (reported in ``schemas``). Target: at least 100,000 events/s.
"""

from __future__ import annotations

import copy
import functools
import random
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from catalog.files import load_registry
from catalog.registry import Registry
from catalog.validation import ReferenceValidator, Validator

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "schemas" / "events"
HOT_EVENTS = 200_000
BASELINE_SECONDS = 3.0
INVALID_EVERY = 20

_FORMATS = {"date-time": "2026-01-05T08:00:00Z", "date": "2026-01-05", "email": "a@example.com",
            "uri": "https://example.com/x", "uuid": "0b6c3a4e-8f0e-4b8a-9d1e-2f3a4b5c6d7e"}


def _instance(schema: Any, root: dict[str, Any], rng: random.Random, depth: int = 0) -> Any:
    """A plausible instance of ``schema`` (the reference decides whether it is kept)."""
    if not isinstance(schema, dict) or depth > 12:
        return None
    if "$ref" in schema and schema["$ref"].startswith("#/"):
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        return _instance({**target, **{k: v for k, v in schema.items() if k != "$ref"}},
                         root, rng, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if schema.get("examples"):
        return copy.deepcopy(rng.choice(schema["examples"]))
    for kw in ("oneOf", "anyOf"):
        if kw in schema:
            return _instance({**schema[kw][0], **{k: v for k, v in schema.items() if k != kw}},
                             root, rng, depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((t for t in kind if t != "null"), "null")
    return _of_type(kind, schema, root, rng, depth)


def _of_type(kind: str, schema: dict[str, Any], root: dict[str, Any], rng: random.Random,
             depth: int) -> Any:
    if kind == "object":
        props = {}
        for part in [schema, *schema.get("allOf", [])]:
            props.update(part.get("properties", {}))
        return {k: _instance(v, root, rng, depth + 1) for k, v in props.items()}
    if kind == "array":
        return [_instance(schema.get("items", {}), root, rng, depth + 1)
                for _ in range(max(schema.get("minItems", 0), rng.randint(1, 4)))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 1000))
        value = rng.randint(int(low) + 1, max(int(low) + 1, int(high) - 1))
        return value if kind == "integer" else value + 0.5
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if "format" in schema and schema["format"] in _FORMATS:
        return _FORMATS[schema["format"]]
    if "pattern" in schema:
        return rng.choice(_matching(schema["pattern"]))
    text = uuid.UUID(int=rng.getrandbits(128)).hex
    return text[: max(schema.get("minLength", 8), min(schema.get("maxLength", 12), 32))]


@functools.cache
def _matching(pattern: str) -> list[str]:
    """Strings matching ``pattern``, drawn by hypothesis (a dev dependency) once per pattern."""
    from hypothesis import strategies as st

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        strategy = st.from_regex(pattern, fullmatch=True, alphabet=st.characters(
            codec="ascii", categories=("L", "N", "Pd")))
        return [strategy.example() for _ in range(20)]


def _builtin() -> Registry:
    money = {"type": "object", "required": ["amount", "currency"], "additionalProperties": False,
             "properties": {"amount": {"type": "number", "minimum": 0},
                            "currency": {"enum": ["EUR", "USD", "GBP"]}}}
    order = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "OrderPlaced",
        "type": "object", "required": ["order_id", "customer", "lines", "total", "placed_at"],
        "$defs": {"money": money},
        "properties": {
            "order_id": {"type": "string", "format": "uuid"},
            "customer": {"type": "object", "required": ["id", "email"], "properties": {
                "id": {"type": "string", "minLength": 8}, "email": {"type": "string",
                                                                   "format": "email"},
                "tier": {"enum": ["standard", "gold", "platinum"]}}},
            "lines": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["sku", "quantity", "price"], "properties": {
                    "sku": {"type": "string", "minLength": 8, "maxLength": 12},
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 99},
                    "price": {"$ref": "#/$defs/money"}}}},
            "total": {"$ref": "#/$defs/money"},
            "placed_at": {"type": "string", "format": "date-time"},
            "channel": {"type": ["string", "null"]}},
    }
    payment = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "PaymentProcessed",
        "type": "object", "required": ["payment_id", "order_id", "amount", "method", "status"],
        "properties": {"payment_id": {"type": "string"}, "order_id": {"type": "string"},
                       "amount": {"type": "number", "minimum": 0},
                       "method": {"enum": ["card", "paypal", "invoice"]},
                       "status": {"enum": ["authorized", "captured", "declined"]},
                       "attempt": {"type": "integer", "minimum": 1}}}
    registry, _ = Registry().with_version("OrderPlaced", order)
    registry, _ = registry.with_version("PaymentProcessed", payment)
    return registry


def _break(payload: Any, schema: Any) -> Any:
    """A copy with one required field given a value of the wrong type."""
    if isinstance(payload, dict) and payload:
        broken = dict(payload)
        key = next(iter(schema.get("required", []) or payload))
        broken[key] = [] if not isinstance(payload.get(key), list) else "x"
        return broken
    return {"unexpected": True}


def _stream(registry: Registry, rng: random.Random) -> tuple[list[tuple[str, Any]], list[str]]:
    reference = ReferenceValidator(registry)
    pools: dict[str, list[Any]] = {}
    for subject in registry:
        schema = registry.get(subject.name).schema
        candidates = [_instance(schema, schema, rng) for _ in range(50)]
        valid = [p for p in candidates if not reference.validate(subject.name, None, p)]
        if valid:
            pools[subject.name] = valid
    names = sorted(pools)
    stream: list[tuple[str, Any]] = []
    if not names:
        return stream, names
    for i in range(2_000):
        name = names[i % len(names)]
        payload = rng.choice(pools[name])
        if i % INVALID_EVERY == INVALID_EVERY - 1:
            payload = _break(payload, registry.get(name).schema)
        stream.append((name, payload))
    return stream, names


def _rate(validate: Any, stream: list[tuple[str, Any]], events: int | None,
          seconds: float | None) -> float:
    done, start = 0, time.perf_counter()
    while True:
        for name, payload in stream:
            validate(name, None, payload)
        done += len(stream)
        elapsed = time.perf_counter() - start
        if (events is not None and done >= events) or (seconds is not None and
                                                       elapsed >= seconds):
            return done / elapsed


def validation_hot_path_vs_jsonschema() -> dict[str, Any]:
    rng = random.Random(7)
    demo = load_registry(EVENTS) if EVENTS.is_dir() else Registry()
    stream, names = _stream(demo, rng) if list(demo) else ([], [])
    source = "schemas/events"
    if not stream:
        demo, source = _builtin(), "built-in order/payment schemas"
        stream, names = _stream(demo, rng)
    hot = Validator(demo)
    reference = ReferenceValidator(demo)
    invalid = sum(bool(hot.validate(n, None, p)) for n, p in stream)
    value = _rate(hot.validate, stream, HOT_EVENTS, None)
    baseline = _rate(reference.validate, stream, None, BASELINE_SECONDS)
    return {"bench": "validation_hot_path_vs_jsonschema", "value": round(value),
            "unit": "events/s", "baseline": round(baseline), "ratio": round(value / baseline, 1),
            "target": 100_000, "schemas": source, "event_types": len(names),
            "invalid_share": round(invalid / len(stream), 3)}


BENCHES = {"validation_hot_path_vs_jsonschema": validation_hot_path_vs_jsonschema}
