"""Issue 14, "CloudEvents as the official SDKs send them": the official CloudEvents Python SDK
(``cloudevents`` on PyPI) produces 2,000 events over the test broker, in binary and structured
mode, with both of its APIs (``cloudevents.v1`` and ``cloudevents.core``), carrying JSON, text,
bytes and JSON-as-bytes data. Every event is stored with the same attributes, time and data
whatever the mode: data given as bytes travels as ``data_base64`` in structured mode (stored as
NULL before the fix), non-JSON data in binary mode was a dead letter before the fix, and a
nanosecond time is kept as sent beside the microsecond time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import kafka as core_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as CoreEvent
from cloudevents.v1 import kafka as v1_kafka
from cloudevents.v1.http import CloudEvent as V1Event

from collector.kafka.producer import publish
from collector.store.base import open_store
from collector.store.sqlite import event_from_row
from tests.kafka._support import Rec, collect_until, make_collector

pytestmark = pytest.mark.kafka

EVENTS = 2000
KINDS = ("json", "text", "bytes", "json-bytes")
CONTENT_TYPES = {"json": "application/json", "text": "text/plain; charset=utf-8",
                 "bytes": "application/octet-stream", "json-bytes": "application/json"}


def payload(i: int) -> dict[str, Any]:
    return {"i": i, "big": 10**30 + i, "ratio": i / 7, "name": f"Zoë ✓ 😀 {i}",
            "nested": [{"a": [i, None, True]}, {"b": {"c": "x" * (i % 50)}}], "none": None}


def data_of(i: int, kind: str) -> tuple[Any, Any]:
    """(what the producer hands the SDK, what the store must give back)."""
    if kind == "json":
        return payload(i), payload(i)
    if kind == "text":
        return f"plain text {i} ✓", f"plain text {i} ✓"
    if kind == "bytes":
        raw = bytes([i % 256, 0, 255, (i * 7) % 256]) + b"\x80\xfe"
        return raw, raw
    return json.dumps(payload(i)).encode(), payload(i)


def message(i: int, topic: str) -> tuple[Rec, dict[str, Any]]:
    """The i-th event through one of the SDK's APIs and modes, and what must be stored."""
    api, mode, kind = ("v1", "core")[i % 2], ("binary", "structured")[i // 2 % 2], KINDS[i // 4 % 4]
    given, expected = data_of(i, kind)
    attrs: dict[str, Any] = {"id": f"sdk-{i}", "type": f"Sdk.{kind}", "source": f"/sdk/{api}",
                             "subject": f"s/{i}", "correlationid": f"c-{i // 10}",
                             "datacontenttype": CONTENT_TYPES[kind]}
    if api == "v1":
        time_text = f"2026-01-01T10:{i % 60:02d}:00.{i:09d}Z"  # nanoseconds, as Go sends them
        attrs["time"] = time_text
        event = V1Event(attrs, given)
        raw_marshaller = (lambda x: x) if kind != "json" else None
        msg = (v1_kafka.to_binary(event, data_marshaller=raw_marshaller) if mode == "binary"
               else v1_kafka.to_structured(event))
        at = datetime(2026, 1, 1, 10, i % 60, 0, i // 1000, tzinfo=UTC)
        kept: str | None = time_text
    else:
        at = datetime(2026, 1, 1, 10, 0, 0, i, tzinfo=UTC)
        attrs["time"] = at
        event = CoreEvent(attrs, given)
        msg = (core_kafka.to_binary(event, JSONFormat()) if mode == "binary"
               else core_kafka.to_structured(event, JSONFormat()))
        kept = None
    key = msg.key.encode() if isinstance(msg.key, str) else msg.key
    value = msg.value.encode() if isinstance(msg.value, str) else msg.value
    rec = Rec(topic, value, key, tuple(msg.headers.items()))
    return rec, {"id": f"sdk-{i}", "type": f"Sdk.{kind}", "source": f"/sdk/{api}",
                 "subject": f"s/{i}", "correlation_id": f"c-{i // 10}", "occurred_at": at,
                 "time_text": kept, "data": expected, "mode": mode}


def stored_view(row: dict[str, Any]) -> dict[str, Any]:
    e = event_from_row(row)
    return {"id": e.id, "type": e.type, "source": e.source, "subject": e.subject,
            "correlation_id": e.correlation_id, "occurred_at": e.occurred_at,
            "time_text": e.time_text, "data": e.data}


def test_events_from_the_official_sdk_are_stored_exactly_in_both_modes_and_apis(
        kafka: Any, topic: str, tmp_path: Path) -> None:
    records, expected = [], {}
    for i in range(EVENTS):
        rec, want = message(i, topic)
        records.append(rec)
        expected[want["id"]] = want
    publish(records, kafka.bootstrap)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}")
        collect_until(run, EVENTS)
        letters = store.query("SELECT reason, detail FROM dead_letters")
        rows = store.query("SELECT * FROM events")
    finally:
        store.close()
    assert letters == []
    got = {r["id"]: stored_view(r) for r in rows}
    assert set(got) == set(expected)
    wrong = [(i, got[i], want) for i, want in expected.items()
             if got[i] != {k: v for k, v in want.items() if k != "mode"}]
    assert wrong == [], f"{len(wrong)} events differ, e.g. {wrong[:2]}"
    # the same data whatever the mode: bytes stay bytes, JSON as bytes becomes its JSON value
    by_mode = {(w["type"], w["mode"]) for w in expected.values()}
    assert len(by_mode) == len(KINDS) * 2
