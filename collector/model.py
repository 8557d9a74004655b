"""Values that cross the collector's boundaries.

Frozen dataclasses with no library types: a tap turns whatever its library hands it into an
`Observation`; the envelope decoder turns an observation into an `Event` or a `DeadLetter`; the
flow engine and the store only ever see these values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from collector._frozen import quick_init

__all__ = [
    "Alert",
    "AlertKind",
    "DeadLetter",
    "DeadLetterReason",
    "Event",
    "EventIdentity",
    "FlowSnapshot",
    "FlowStatus",
    "Location",
    "Observation",
    "Span",
    "SpanKind",
    "SpanLink",
    "SpanStatus",
    "Violation",
]

JSON = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""


@quick_init
@dataclass(frozen=True, slots=True)
class Location:
    """Where an observation came from: the source kind and its position in that source.

    For Kafka: ``Location("kafka", topic, partition, offset)``. For the in-process simulator the
    position is the record's sequence number; for an imported log, the file and line.
    """

    source: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def __str__(self) -> str:
        if self.topic is None:
            return self.source if self.offset is None else f"{self.source}@{self.offset}"
        return f"{self.source}:{self.topic}[{self.partition}]@{self.offset}"


@quick_init
@dataclass(frozen=True, slots=True)
class Observation:
    """One raw record as a tap received it, before anything is decoded."""

    location: Location
    received_at: datetime
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: datetime | None = None
    """The transport's own timestamp (Kafka's record timestamp), if any."""


@quick_init
@dataclass(frozen=True, slots=True)
class EventIdentity:
    """An event's identity: the same pair wherever and however often the event is delivered."""

    source: str
    id: str


@quick_init
@dataclass(frozen=True, slots=True)
class Event:
    """A decoded business event (CloudEvents attributes plus correlation and causation ids)."""

    id: str
    type: str
    source: str
    occurred_at: datetime
    correlation_id: str
    data: JSON
    """The payload: a JSON value, or for non-JSON content (``text/*``, anything else) its text
    or its bytes."""
    location: Location
    received_at: datetime
    causation_id: str | None = None
    subject: str | None = None
    dataschema: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    sequence: int | None = None
    """A sequence the source provides (position in an imported log); orders ties in a flow."""
    business_keys: tuple[tuple[str, str], ...] = field(default=())
    """Named business identifiers extracted from the payload, e.g. (("order_id", "4711"),)."""
    key: str | None = None
    """The record's key as text (a Kafka key), after redaction; None when it had none."""
    headers: tuple[tuple[str, str], ...] = ()
    """The record's headers as text, in order, after redaction."""
    time_text: str | None = None
    """The event's time as sent, when it is finer than ``occurred_at`` keeps (microseconds):
    e.g. ``2024-05-01T12:00:00.123456789Z`` from a Go or Java producer."""

    @property
    def identity(self) -> EventIdentity:
        return EventIdentity(self.source, self.id)


class DeadLetterReason(StrEnum):
    """Why a record could not become an event."""

    NOT_UTF8 = "not-utf8"
    NOT_JSON = "not-json"
    TOO_LARGE = "too-large"
    TOO_DEEP = "too-deep"
    """Objects and arrays nested past ``limits.max_depth``."""
    NO_CORRELATION = "no-correlation"
    UNKNOWN_ENVELOPE = "unknown-envelope"
    INVALID_ENVELOPE = "invalid-envelope"
    NOT_OTLP = "not-otlp"
    """A record on a spans topic (``otlp_spans``) that is not an OTLP trace export."""
    UNSTORABLE = "unstorable"
    """Decoding, validating, tracking or preparing the store rows of the record raised (the
    pipeline's fault boundary); the detail names the exception's type and the step."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that could not become an event, with the reason and where it came from."""

    reason: DeadLetterReason
    detail: str
    location: Location
    received_at: datetime
    raw: bytes | None
    """The record's bytes, kept only where the capture policy allows it."""
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    raw_withheld: str | None = None
    """Why ``raw`` is None although the capture policy keeps bytes (e.g. redaction rules apply
    to a record that could not be parsed); the record is then re-read from its location."""


class FlowStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    COMPENSATED = "compensated"
    STUCK = "stuck"


@quick_init
@dataclass(frozen=True, slots=True)
class FlowSnapshot:
    """The state of one flow instance as the store keeps it (upserted by ``instance_id``)."""

    instance_id: str
    correlation_id: str
    flow_type: str
    definition_version: int
    status: FlowStatus
    started_at: datetime
    last_event_at: datetime
    last_event_type: str
    event_count: int
    ended_at: datetime | None = None
    next_deadline: datetime | None = None
    expected_next: tuple[str, ...] = ()
    stuck_step: str | None = None
    """The event type after which the flow waits past its deadline."""
    stuck_since: datetime | None = None
    sla_breached: bool = False
    sla_over: timedelta | None = None
    """By how much the worst step or the end-to-end SLA was exceeded."""
    recovered: bool = False


class AlertKind(StrEnum):
    FLOW_STUCK = "FlowStuck"
    SLA_BREACHED = "SlaBreached"
    FLOW_RECOVERED = "FlowRecovered"


@dataclass(frozen=True, slots=True)
class Alert:
    """A finding about a flow, written to the outbox with the state change that caused it."""

    alert_id: str
    """Stable: the same finding always gets the same id, so receivers can drop re-sends."""
    kind: AlertKind
    instance_id: str
    correlation_id: str
    flow_type: str
    step: str | None
    at: datetime
    details: JSON = None


@dataclass(frozen=True, slots=True)
class Violation:
    """An event whose payload violates its schema: where, which keyword, and what it says."""

    event: EventIdentity
    event_type: str
    producer: str
    schema_version: int | None
    pointer: str
    keyword: str
    message: str
    occurred_at: datetime


class SpanKind(StrEnum):
    """A span's role, as OTLP's ``Span.SpanKind`` names it."""

    UNSPECIFIED = "unspecified"
    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


class SpanStatus(StrEnum):
    UNSET = "unset"
    OK = "ok"
    ERROR = "error"


AttributeValue = Any
"""An attribute value: str, bool, int, float, a list of them, or a dict (OTLP kvlist)."""


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link from a span to another span (a batch consumer links to each message's producer)."""

    trace_id: str
    span_id: str
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Span:
    """One finished span, whichever way it arrived (OTLP/HTTP, OTLP/gRPC, a Kafka topic).

    Ids are lowercase hex (32 digits for a trace, 16 for a span), as in a W3C ``traceparent``,
    so they compare directly with `Event.trace_id` and `Event.span_id`. The natural key is
    ``(trace_id, span_id)``.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: SpanKind
    service: str
    """The resource's ``service.name``."""
    start: datetime
    end: datetime
    status: SpanStatus = SpanStatus.UNSET
    status_message: str = ""
    links: tuple[SpanLink, ...] = ()
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict, hash=False)
    scope: str = ""
    """The instrumentation scope's name (e.g. ``opentelemetry.instrumentation.kafka``)."""

    @property
    def duration(self) -> timedelta:
        return self.end - self.start
