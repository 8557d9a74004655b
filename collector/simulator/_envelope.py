"""CloudEvents structured-mode records, ids drawn from a seeded random source, fault payloads.

Kept small and flat: this runs once per event (about 600,000 times for 100,000 flows).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random
from typing import Any

import orjson

from collector.simulator.domain import EVENT_TYPES, dataschema

__all__ = ["CONTENT_TYPE", "corrupt", "encode_event", "extra_data", "new_id", "new_span",
           "new_trace", "rfc3339"]

CONTENT_TYPE = b"application/cloudevents+json; charset=UTF-8"
_SCHEMAS = {(t, v): dataschema(t, v) for t, e in EVENT_TYPES.items() for v in e.versions}


def new_id(rng: Random) -> str:
    """A random (version 4 shaped) UUID from the seeded source."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def new_trace(rng: Random) -> str:
    return f"{rng.getrandbits(128) | 1:032x}"


def new_span(rng: Random) -> str:
    return f"{rng.getrandbits(64) | 1:016x}"


def rfc3339(base: datetime, micros: int) -> str:
    return (base + timedelta(microseconds=micros)).isoformat(timespec="microseconds")[:-6] + "Z"


def encode_event(*, event_id: str, event_type: str, source: str, time: str, subject: str,
                 version: int, correlation: str | None, causation: str | None,
                 data: Any) -> bytes:
    """The structured-mode CloudEvent; correlation and causation ids are extension attributes."""
    doc: dict[str, Any] = {
        "specversion": "1.0", "id": event_id, "source": source, "type": event_type,
        "time": time, "subject": subject}
    schema = _SCHEMAS.get((event_type, version))
    if schema is not None:
        doc["dataschema"] = schema
    doc["datacontenttype"] = "application/json"
    if correlation is not None:
        doc["correlationid"] = correlation
    if causation is not None:
        doc["causationid"] = causation
    doc["data"] = data
    return orjson.dumps(doc)


def corrupt(data: dict[str, Any], field: str) -> dict[str, Any]:
    """A copy of ``data`` with ``field`` of the wrong JSON type (the ``bad-schema`` fault)."""
    value = data[field]
    if isinstance(value, bool):
        wrong: Any = "yes" if value else "no"
    elif isinstance(value, int | float):
        wrong = str(value)  # e.g. the amount as a string
    elif isinstance(value, list):
        wrong = ",".join(map(str, value))
    else:
        wrong = len(str(value))
    return {**data, field: wrong}


def extra_data(event_type: str, start: dict[str, Any], rng: Random) -> dict[str, Any]:
    """The payload of an ``orphan`` or ``unknown-type`` event about the flow ``start`` began."""
    if event_type == "OrderFraudScored":
        return {"order_id": start["order_id"], "score": round(rng.random(), 3),
                "model": "fraud-v3"}
    if event_type == "CustomerSegmentAssigned":
        segment = ("young-professional", "family", "student", "retired")[int(rng.random() * 4)]
        return {"customer_id": start["customer_id"], "segment": segment}
    if event_type == "OrderAudited":
        return {"order_id": start["order_id"], "audit_id": f"AUD-{rng.getrandbits(40):010x}",
                "checks": ["address", "limits"]}
    if event_type == "CustomerAudited":
        return {"customer_id": start["customer_id"],
                "audit_id": f"AUD-{rng.getrandbits(40):010x}", "checks": ["sanctions-list"]}
    raise KeyError(event_type)
