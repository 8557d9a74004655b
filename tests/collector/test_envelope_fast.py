"""The decoder's fast path (`collector._envelope_fast`) gives exactly what the general path
(`collector.envelope.decode`) gives, or stands aside: over the simulator's records with every
fault on, under several rule sets, and over records crafted to sit on each of its edges."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collector import _json
from collector._envelope_fast import FastPath
from collector.envelope import (
    CaptureRules,
    EnvelopeRules,
    Limits,
    Locator,
    TopicRules,
    build_rules,
    decode,
)
from collector.envelope import Decoder as EnvelopeDecoder
from collector.flows.definition import load_definitions
from collector.model import Location, Observation
from collector.settings import load_settings
from collector.simulator import Fault, Simulation, to_observation

ROOT = Path(__file__).resolve().parents[2]
_DEFAULT = build_rules(load_settings(store="sqlite:///unused.db"))
_KEYS = {"*": (("order_id", Locator.parse("/data/order_id")),
               ("by_header", Locator.parse("header:x-tenant")),
               ("by_key", Locator("key")),
               ("by_extension", Locator.parse("extension:subject"))),
         "OrderPlaced": (("customer", Locator.parse("/data/customer_id")),)}
RULES = {
    "configured": _DEFAULT,
    "no rules": EnvelopeRules(),
    "sampled capture": replace(_DEFAULT, capture=CaptureRules(policy="sampled", sample_every=3)),
    "no capture": replace(_DEFAULT, capture=CaptureRules(policy="none")),
    "business keys of every kind": replace(_DEFAULT, business_keys=_KEYS),
    "topic correlation by pointer then key": replace(_DEFAULT, topics={"*": TopicRules(
        correlation=(Locator.parse("/data/order_id"), Locator("key")))}),
    "traceparent correlation (general path only)": replace(
        _DEFAULT, correlation=(Locator("traceparent"),)),
    "plain topic (general path only)": replace(_DEFAULT, topics={"*": TopicRules(
        type=Locator.parse("/type"), id=Locator.parse("/id"))}),
    "redaction (general path only)": replace(
        _DEFAULT, capture=CaptureRules(redact=("/data/order_id",))),
    "narrow limits": replace(_DEFAULT, limits=Limits(
        max_record_bytes=400, max_depth=3, min_time=datetime(2026, 1, 5, 8, 30, tzinfo=UTC))),
}


def _simulated() -> list[Observation]:
    sim = Simulation(load_definitions([ROOT / "schemas" / "flows"]), flows=400, seed=11,
                     fault_rates=dict.fromkeys(Fault, 0.1))
    return [to_observation(r, seq) for seq, r in enumerate(sim.records())]


SIMULATED = _simulated()


def _observation(value: bytes, headers: tuple[tuple[str, bytes], ...] = (),
                 key: bytes | None = b"k-1", topic: str = "orders") -> Observation:
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    return Observation(Location("kafka", topic, 0, 7), at, value, key, headers, at)


def _event(**changes: object) -> bytes:
    doc: dict[str, object] = {
        "specversion": "1.0", "id": "e-1", "type": "OrderPlaced", "source": "shop",
        "time": "2026-01-05T08:00:00.123456Z", "correlationid": "c-1",
        "data": {"order_id": "o-1", "customer_id": 7}}
    doc.update(changes)
    return _json.dumps({k: v for k, v in doc.items() if v is not _DROP}).encode()


_DROP = object()
_TRACE = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
CRAFTED = {
    "plain": _observation(_event()),
    "traceparent header": _observation(_event(), (("traceparent", _TRACE),)),
    "traceparent attribute": _observation(_event(traceparent=_TRACE.decode())),
    "odd traceparent": _observation(_event(), (("TraceParent", b" " + _TRACE.upper() + b" "),)),
    "zero traceparent": _observation(_event(), (
        ("traceparent", b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01"),)),
    "correlation header": _observation(_event(), (("X-Correlation-Id", b"from-header"),)),
    "correlation header not utf-8": _observation(_event(), (("x-correlation-id", b"\xff\xfe"),)),
    "correlation empty header": _observation(_event(), (("x-correlation-id", b""),)),
    "numeric correlation": _observation(_event(correlationid=42)),
    "float correlation": _observation(_event(correlationid=4.5)),
    "object correlation": _observation(_event(correlationid={"a": 1})),
    "no correlation": _observation(_event(correlationid=_DROP)),
    "empty id": _observation(_event(id="")),
    "numeric id": _observation(_event(id=12)),
    "no source": _observation(_event(source=_DROP)),
    "null type": _observation(_event(type=None)),
    "no time": _observation(_event(time=_DROP)),
    "null time": _observation(_event(time=None)),
    "epoch time": _observation(_event(time=1767600000)),
    "lower-case time": _observation(_event(time="2026-01-05t08:00:00z")),
    "naive time": _observation(_event(time="2026-01-05T08:00:00")),
    "offset time": _observation(_event(time="2026-01-05T09:00:00+01:00")),
    "nanosecond time": _observation(_event(time="2026-01-05T08:00:00.123456789Z")),
    "not a time": _observation(_event(time="yesterday")),
    "time out of limits": _observation(_event(time="1066-10-14T09:00:00Z")),
    "data_base64": _observation(_event(data=_DROP, data_base64="eyJhIjogMX0=",
                                       datacontenttype="application/json")),
    "null data": _observation(_event(data=None)),
    "text data": _observation(_event(data="hello")),
    "optional attributes": _observation(_event(causationid="c-0", subject="s", dataschema="d/1")),
    "numeric optional attributes": _observation(_event(causationid=3, subject=4.5,
                                                       dataschema="")),
    "object subject": _observation(_event(subject={"x": 1})),
    "no key": _observation(_event(), key=None),
    "key not utf-8": _observation(_event(), key=b"\xff"),
    "headers not utf-8": _observation(_event(), (("x-tenant", b"\xff"), ("empty", b""))),
    "tenant header": _observation(_event(), (("x-tenant", b"t-9"),)),
    "binary mode": _observation(b'{"a": 1}', (("ce_specversion", b"1.0"), ("ce_id", b"1"))),
    "stray ce_specversion": _observation(_event(), (
        ("ce_specversion", b"1.0"), ("content-type", b"application/cloudevents+json"))),
    "confluent": _observation(b"\x00\x00\x00\x00\x07" + _event()),
    "leading space": _observation(b" " + _event()),
    "not json": _observation(b"{not json"),
    "array": _observation(b'[{"specversion": "1.0"}]'),
    "eventbridge": _observation(_json.dumps({
        "detail-type": "OrderPlaced", "source": "shop", "id": "e-1", "detail": {"x": 1},
        "time": "2026-01-05T08:00:00Z"}).encode()),
    "no specversion": _observation(_event(specversion=_DROP)),
    "long integer": _observation(_event(data={"n": 10**30})),
    "deep": _observation(_event(data={"a": {"b": {"c": {"d": 1}}}})),
    "big": _observation(_event(data="x" * 500)),
    "other topic": _observation(_event(), topic="payments"),
    "empty value": _observation(b""),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_fast_path_gives_the_general_paths_answer_on_simulated_records(name: str) -> None:
    rules = RULES[name]
    decoder = EnvelopeDecoder(rules)
    for obs in SIMULATED:
        assert decoder(obs) == decode(obs, rules), obs


@pytest.mark.parametrize("name", sorted(RULES))
def test_the_fast_path_gives_the_general_paths_answer_on_crafted_records(name: str) -> None:
    rules = RULES[name]
    decoder, fast = EnvelopeDecoder(rules), FastPath(rules)
    for label, obs in CRAFTED.items():
        expected = decode(obs, rules)
        assert decoder(obs) == expected, label
        if fast.usable:
            taken = fast(obs)
            assert taken is None or taken == expected, label


def test_the_fast_path_takes_nearly_every_simulated_record() -> None:
    fast = FastPath(_DEFAULT)
    taken = sum(fast(obs) is not None for obs in SIMULATED)
    assert taken >= 0.8 * len(SIMULATED)


@pytest.mark.parametrize("name", ["traceparent correlation (general path only)",
                                  "redaction (general path only)"])
def test_rules_the_fast_path_does_not_read_leave_every_record_to_the_general_path(
        name: str) -> None:
    fast = FastPath(RULES[name])
    assert not fast.usable or all(fast(obs) is None for obs in SIMULATED)
