"""The simulator's output record, its JSON-lines form (``--out``) and its collector form.

``--out`` writes one JSON object per record, in delivery order::

    {"topic": "orders", "key": "<correlation id>", "value": "<the record's value>",
     "headers": [["traceparent", "00-…-01"], ["content-type", "application/cloudevents+json"]],
     "at": "2026-01-05T08:00:01.234567Z"}

``value`` is the record's bytes as a UTF-8 string when they decode (every event does); otherwise
(an ``undecodable`` record) it is their base64 and the object has ``"value_encoding":
"base64"``. ``key`` is a string or null; header values are UTF-8 strings. ``at`` is when the
record is delivered (RFC 3339, UTC, microseconds).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from collector.model import Location, Observation

__all__ = ["SOURCE", "SimRecord", "decode_json_line", "encode_json_line", "format_time",
           "to_observation"]

SOURCE = "simulator"
"""The `Location.source` of every record the simulator feeds the collector."""


@dataclass(frozen=True, slots=True)
class SimRecord:
    """One record as a Kafka producer would publish it, with the time it is delivered."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    at: datetime

    @property
    def timestamp(self) -> datetime:
        """The record's Kafka timestamp: its delivery time (the producer protocol's name)."""
        return self.at


def format_time(at: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-01-05T08:00:00.000000Z``."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def encode_json_line(record: SimRecord) -> bytes:
    """The ``--out`` line of a record, newline included."""
    encoding = None
    try:
        value = record.value.decode()
    except UnicodeDecodeError:
        value, encoding = base64.b64encode(record.value).decode(), "base64"
    line: dict[str, Any] = {
        "topic": record.topic,
        "key": None if record.key is None else record.key.decode(),
        "value": value,
        "headers": [[name, v.decode()] for name, v in record.headers],
        "at": format_time(record.at),
    }
    if encoding is not None:
        line["value_encoding"] = encoding
    return orjson.dumps(line) + b"\n"


def decode_json_line(line: bytes | str) -> SimRecord:
    """The record of one ``--out`` line (the inverse of `encode_json_line`)."""
    obj = orjson.loads(line)
    value = obj["value"]
    raw = base64.b64decode(value) if obj.get("value_encoding") == "base64" else value.encode()
    return SimRecord(
        topic=obj["topic"],
        key=None if obj["key"] is None else obj["key"].encode(),
        value=raw,
        headers=tuple((name, v.encode()) for name, v in obj["headers"]),
        at=datetime.fromisoformat(obj["at"]),
    )


def to_observation(record: SimRecord, seq: int) -> Observation:
    """How the in-process collector receives record number ``seq`` (its offset, partition 0)."""
    return Observation(
        location=Location(SOURCE, record.topic, 0, seq),
        received_at=record.at,
        value=record.value,
        key=record.key,
        headers=record.headers,
        timestamp=record.at,
    )
