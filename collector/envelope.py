"""Where a raw record becomes a domain event: envelope decoding, pure.

`decode(observation, rules)` turns one `Observation` into an `Event`, or into a `DeadLetter` that
says why not. It reads, in this order:

- the Confluent wire format (magic byte 0 and a 4-byte schema id): the JSON after it is decoded
  and the schema id reported as ``dataschema`` (``confluent:<id>``); anything else is dead;
- CloudEvents binary mode (``ce_*`` headers, the value is the data);
- the team's own JSON shape, for topics whose rules say where type, id, time and source are;
- CloudEvents structured mode (a JSON object with ``specversion``);
- the AWS EventBridge shape (``detail-type``, ``source``, ``detail``, ``id``, ``time``).

JSON Pointers (correlation, business keys, redaction, field rules) address the event as a
document: the record's JSON as published, or for binary mode the CloudEvents JSON form
(attributes and ``data``). Redaction runs first, so a redacted value reaches nothing that is
stored (the event, its business keys, a dead letter's bytes).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson

from collector.model import DeadLetter, DeadLetterReason, Event, Observation

if TYPE_CHECKING:
    from collector.settings import Settings, TopicEnvelopeSettings

__all__ = [
    "REDACTED",
    "CaptureRules",
    "Decoder",
    "EnvelopeRules",
    "Locator",
    "TopicRules",
    "build_rules",
    "decode",
    "parse_traceparent",
]

REDACTED = "[redacted]"
_MISSING: Any = object()
_ALL = "*"  # the pointer token that matches every member or item (an extension of RFC 6901)

LocatorKind = Literal["pointer", "header", "key", "extension", "traceparent"]
_KINDS: tuple[str, ...] = ("pointer", "header", "key", "extension", "traceparent")


def _pointer_tokens(text: str) -> tuple[str, ...]:
    """RFC 6901 tokens of a JSON Pointer; ``*`` (an extension) matches every member or item."""
    if text == "":
        return ()
    if not text.startswith("/"):
        raise ValueError(f"JSON Pointer {text!r} must start with '/'")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/"))


@dataclass(frozen=True, slots=True)
class Locator:
    """Where a value is found in a record.

    Written ``/json/pointer`` (or ``pointer:/json/pointer``), ``header:NAME``, ``key``,
    ``extension:NAME`` (a CloudEvents extension attribute) or ``traceparent`` (its trace id).
    """

    kind: LocatorKind
    arg: str = ""
    tokens: tuple[str, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown locator kind {self.kind!r}: one of {', '.join(_KINDS)}")
        if self.kind == "pointer":
            object.__setattr__(self, "tokens", _pointer_tokens(self.arg))
        elif self.kind in ("header", "extension"):
            if not self.arg:
                raise ValueError(f"{self.kind} locator needs a name ({self.kind}:NAME)")
            object.__setattr__(self, "arg", self.arg.lower())

    @classmethod
    def parse(cls, text: str) -> Locator:
        if text.startswith("/") or text == "":
            return cls("pointer", text)
        kind, sep, arg = text.partition(":")
        if kind in ("key", "traceparent") and not sep:
            return cls(kind)  # type: ignore[arg-type]
        if kind in ("pointer", "header", "extension") and sep:
            return cls(kind, arg)  # type: ignore[arg-type]
        raise ValueError(
            f"{text!r} is not a locator: expected /json/pointer, header:NAME, key, "
            "extension:NAME or traceparent")

    def __str__(self) -> str:
        if self.kind == "pointer":
            return self.arg
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


DEFAULT_CORRELATION = (Locator("header", "x-correlation-id"), Locator("extension", "correlationid"))


@dataclass(frozen=True, slots=True)
class TopicRules:
    """How one topic's records are read. Unset fields fall back to the defaults of the shape."""

    envelope: Literal["auto", "cloudevents", "eventbridge", "plain"] = "auto"
    type: Locator | None = None
    id: Locator | None = None
    time: Locator | None = None
    source: Locator | None = None
    """The producing service; a plain record without one gets the topic name."""
    causation: Locator | None = None
    data: Locator | None = None
    """The payload inside a plain record (default: the whole record)."""
    correlation: tuple[Locator, ...] | None = None
    """Replaces the global correlation rules on this topic."""

    @property
    def plain(self) -> bool:
        return self.envelope == "plain" or (
            self.envelope == "auto" and self.type is not None and self.id is not None)


@dataclass(frozen=True, slots=True)
class CaptureRules:
    """What of a payload is stored: ``none``, one in ``sample_every`` events, or ``full``."""

    policy: Literal["none", "sampled", "full"] = "full"
    sample_every: int = 100
    redact: tuple[str, ...] = ()
    """JSON Pointers whose values become ``"[redacted]"`` before anything is stored."""
    redact_tokens: tuple[tuple[str, ...], ...] = field(
        default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sample_every < 1:
            raise ValueError("sample_every must be at least 1")
        object.__setattr__(self, "redact_tokens", tuple(_pointer_tokens(p) for p in self.redact))

    def keeps(self, event_id: str) -> bool:
        """Whether the payload of this event is stored (the same answer on every delivery)."""
        if self.policy == "full":
            return True
        if self.policy == "none":
            return False
        return zlib.crc32(event_id.encode()) % self.sample_every == 0


_PLAIN_DEFAULT = TopicRules()


@dataclass(frozen=True, slots=True)
class EnvelopeRules:
    """Everything the decoder is told: correlation rules, per-topic rules, business keys,
    capture and size limit."""

    correlation: tuple[Locator, ...] = DEFAULT_CORRELATION
    topics: Mapping[str, TopicRules] = field(default_factory=dict)
    """By topic name; ``"*"`` applies to topics without their own entry."""
    business_keys: Mapping[str, tuple[tuple[str, Locator], ...]] = field(default_factory=dict)
    """By event type (``"*"``: every type): names and pointers, e.g. ``order_id``."""
    capture: CaptureRules = CaptureRules()
    max_record_bytes: int = 1_048_576

    def for_topic(self, topic: str | None) -> TopicRules:
        topics = self.topics
        if not topics:
            return _PLAIN_DEFAULT
        return topics.get(topic or "") or topics.get("*") or _PLAIN_DEFAULT

    def with_correlation(self, *rules: Locator) -> EnvelopeRules:
        """The same rules with correlation locators appended (e.g. after a dead letter)."""
        return replace(self, correlation=(*self.correlation, *rules))


def _opt(text: str | None) -> Locator | None:
    return None if text is None else Locator.parse(text)


def _topic_rules(t: TopicEnvelopeSettings) -> TopicRules:
    return TopicRules(
        envelope=t.envelope, type=_opt(t.type), id=_opt(t.id), time=_opt(t.time),
        source=_opt(t.source), causation=_opt(t.causation), data=_opt(t.data),
        correlation=None if t.correlation is None else tuple(
            Locator.parse(c) for c in t.correlation),
    )


def build_rules(settings: Settings) -> EnvelopeRules:
    """The decoder's rules from the configuration (already validated)."""
    env, cap = settings.envelope, settings.capture
    return EnvelopeRules(
        correlation=tuple(Locator.parse(c) for c in env.correlation),
        topics={name: _topic_rules(t) for name, t in env.topics.items()},
        business_keys={
            etype: tuple((name, Locator.parse(ptr)) for name, ptr in keys.items())
            for etype, keys in env.business_keys.items()},
        capture=CaptureRules(policy=cap.policy, sample_every=cap.sample_every,
                             redact=tuple(cap.redact)),
        max_record_bytes=settings.max_record_bytes,
    )


# -- JSON Pointer ---------------------------------------------------------------------------------


def _resolve(doc: Any, tokens: tuple[str, ...]) -> Any:
    for token in tokens:
        if type(doc) is dict:
            doc = doc.get(token, _MISSING)
            if doc is _MISSING:
                return _MISSING
        elif type(doc) is list and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return _MISSING
    return doc


def _children(node: Any, token: str) -> list[Any]:
    if type(node) is dict:
        if token == _ALL:
            return list(node.values())
        return [node[token]] if token in node else []
    if type(node) is list:
        if token == _ALL:
            return list(node)
        if token.isdigit() and int(token) < len(node):
            return [node[int(token)]]
    return []


def _redact(doc: Any, tokens: tuple[str, ...]) -> bool:
    """Replace the values at a pointer (in place); whether anything was replaced."""
    if not tokens:
        return False
    nodes = [doc]
    for token in tokens[:-1]:
        nodes = [child for node in nodes for child in _children(node, token)]
    last, hit = tokens[-1], False
    for node in nodes:
        if type(node) is dict:
            keys = list(node) if last == _ALL else [last] if last in node else []
            for k in keys:
                node[k] = REDACTED
                hit = True
        elif type(node) is list:
            idx = range(len(node)) if last == _ALL else (
                [int(last)] if last.isdigit() and int(last) < len(node) else [])
            for i in idx:
                node[i] = REDACTED
                hit = True
    return hit


def _redact_all(doc: Any, pointers: tuple[tuple[str, ...], ...]) -> bool:
    hit = False
    for tokens in pointers:
        hit = _redact(doc, tokens) or hit
    return hit


# -- values ---------------------------------------------------------------------------------------


def parse_traceparent(value: str | bytes | None) -> tuple[str, str] | None:
    """The (trace id, span id) of a W3C ``traceparent``, or None if it is not one."""
    if value is None:
        return None
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) < 4 or len(parts[0]) != 2 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    trace, span = parts[1].lower(), parts[2].lower()
    if trace == "0" * 32 or span == "0" * 16:
        return None
    try:
        int(trace, 16)
        int(span, 16)
    except ValueError:
        return None
    return trace, span


def _text(value: Any) -> str | None:
    """A scalar as an identifier string (None for missing, empty, objects and arrays)."""
    if type(value) is str:
        return value or None
    if type(value) is bytes:
        return value.decode("utf-8", "replace") or None
    if type(value) in (int, float):
        return str(value)
    return None


def _parse_time(value: Any) -> datetime | None:
    if type(value) is str:
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            try:
                at = datetime.fromisoformat(value.upper())
            except ValueError:
                return None
        return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    if type(value) in (int, float):
        seconds = value / 1000 if value > 100_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if type(value) is bytes:
        return _parse_time(value.decode("utf-8", "replace"))
    return None


# -- decoding -------------------------------------------------------------------------------------


class _Rejected(Exception):
    """Internal control flow: why a document is not an event (becomes a dead letter)."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


@dataclass(slots=True)
class _Record:
    """One record being decoded: its document and where to look things up."""

    doc: Any
    headers: dict[str, bytes]
    key: bytes | None
    ext: Mapping[str, Any]
    """CloudEvents attributes (structured: the document; binary: the ce_ headers)."""

    def find(self, loc: Locator) -> Any:
        kind = loc.kind
        if kind == "pointer":
            return _resolve(self.doc, loc.tokens)
        if kind == "header":
            return self.headers.get(loc.arg, _MISSING)
        if kind == "extension":
            return self.ext.get(loc.arg, _MISSING)
        if kind == "key":
            return _MISSING if self.key is None else self.key
        trace = parse_traceparent(self.traceparent())
        return _MISSING if trace is None else trace[0]

    def text(self, loc: Locator | None) -> str | None:
        if loc is None:
            return None
        value = self.find(loc)
        return None if value is _MISSING else _text(value)

    def traceparent(self) -> Any:
        value = self.headers.get("traceparent")
        return value if value is not None else self.ext.get("traceparent")


def _header_map(headers: tuple[tuple[str, bytes], ...]) -> dict[str, bytes]:
    return {k.lower(): v for k, v in headers} if headers else {}


def _binary_doc(headers: dict[str, bytes], data: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        k[3:]: v.decode("utf-8", "replace") for k, v in headers.items() if k.startswith("ce_")}
    doc["data"] = data
    return doc


def _required(value: str | None, what: str, where: str) -> str:
    if value is None:
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE, f"{where}: no {what}")
    return value


def _time_of(raw: Any, obs: Observation, where: str) -> datetime:
    if raw is _MISSING or raw is None:
        return obs.timestamp or obs.received_at
    at = _parse_time(raw)
    if at is None:
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE, f"{where}: time is not RFC 3339")
    return at


class Decoder:
    """`decode` bound to its rules: the callable the pipeline takes."""

    __slots__ = ("rules",)

    def __init__(self, rules: EnvelopeRules) -> None:
        self.rules = rules

    def __call__(self, observation: Observation) -> Event | DeadLetter:
        return decode(observation, self.rules)


def decode(observation: Observation, rules: EnvelopeRules) -> Event | DeadLetter:
    """The event in a record, or a dead letter with the reason it is not one."""
    value = observation.value
    if len(value) > rules.max_record_bytes:
        return _dead(observation, DeadLetterReason.TOO_LARGE,
                     f"{len(value)} bytes, over the limit of {rules.max_record_bytes}",
                     _redacted_raw(value, rules.capture))
    schema_id: int | None = None
    body = value
    if value[:1] == b"\x00" and len(value) >= 5:
        schema_id = int.from_bytes(value[1:5], "big")
        body = value[5:]
    headers = _header_map(observation.headers)
    binary = "ce_specversion" in headers
    try:
        data = orjson.loads(body) if body or not binary else None
    except orjson.JSONDecodeError:
        return _undecodable(observation, rules, body, schema_id)
    doc = _binary_doc(headers, data) if binary else data
    redacted = _redact_all(doc, rules.capture.redact_tokens)
    try:
        return _decode_doc(observation, rules, doc, headers, binary, schema_id)
    except _Rejected as rejected:
        raw = None
        if rules.capture.policy == "full":
            raw = value if not redacted else (
                value[: len(value) - len(body)] + orjson.dumps(_data_of(doc) if binary else doc))
        return _dead(observation, rejected.reason, rejected.detail, raw)


def _data_of(doc: Any) -> Any:
    return doc.get("data") if type(doc) is dict else None


def _decode_doc(obs: Observation, rules: EnvelopeRules, doc: Any, headers: dict[str, bytes],
                binary: bool, schema_id: int | None) -> Event:
    topic_rules = rules.for_topic(obs.location.topic)
    if binary:
        record = _Record(doc, headers, obs.key, doc)
        return _cloudevent(obs, rules, topic_rules, record, schema_id, "CloudEvents binary")
    if topic_rules.plain:
        return _plain(obs, rules, topic_rules, _Record(doc, headers, obs.key, {}), schema_id)
    if type(doc) is dict:
        if "specversion" in doc:
            record = _Record(doc, headers, obs.key, doc)
            return _cloudevent(obs, rules, topic_rules, record, schema_id, "CloudEvents")
        if "detail-type" in doc and "detail" in doc:
            return _eventbridge(obs, rules, topic_rules, _Record(doc, headers, obs.key, {}),
                                schema_id)
    raise _Rejected(DeadLetterReason.UNKNOWN_ENVELOPE,
                    "neither CloudEvents, EventBridge nor a configured plain shape "
                    f"(topic {obs.location.topic!r} has no type/id rules)")


def _cloudevent(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record,
                schema_id: int | None, where: str) -> Event:
    doc = rec.doc
    event_id = _required(_text(doc.get("id")), "id", where)
    return _event(
        obs, rules, topic, rec, event_id=event_id,
        event_type=_required(_text(doc.get("type")), "type", where),
        source=_required(_text(doc.get("source")), "source", where),
        at=_time_of(doc.get("time", _MISSING), obs, where),
        data=doc.get("data"),
        causation=_text(doc.get("causationid")),
        subject=_text(doc.get("subject")),
        dataschema=_text(doc.get("dataschema")) or _confluent(schema_id),
    )


def _eventbridge(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record,
                 schema_id: int | None) -> Event:
    doc, where = rec.doc, "EventBridge"
    return _event(
        obs, rules, topic, rec,
        event_id=_required(_text(doc.get("id")), "id", where),
        event_type=_required(_text(doc.get("detail-type")), "detail-type", where),
        source=_required(_text(doc.get("source")), "source", where),
        at=_time_of(doc.get("time", _MISSING), obs, where),
        data=doc.get("detail"),
        causation=rec.text(topic.causation),
        subject=None,
        dataschema=_confluent(schema_id),
    )


def _plain(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record,
           schema_id: int | None) -> Event:
    where = f"topic {obs.location.topic!r}"
    if topic.type is None or topic.id is None:
        raise _Rejected(DeadLetterReason.UNKNOWN_ENVELOPE,
                        f"{where} is plain JSON but has no type and id rules")
    data = rec.doc if topic.data is None else rec.find(topic.data)
    return _event(
        obs, rules, topic, rec,
        event_id=_required(rec.text(topic.id), f"id at {topic.id}", where),
        event_type=_required(rec.text(topic.type), f"type at {topic.type}", where),
        source=rec.text(topic.source) or obs.location.topic or obs.location.source,
        at=_time_of(_MISSING if topic.time is None else rec.find(topic.time), obs, where),
        data=None if data is _MISSING else data,
        causation=rec.text(topic.causation),
        subject=None,
        dataschema=_confluent(schema_id),
    )


def _confluent(schema_id: int | None) -> str | None:
    return None if schema_id is None else f"confluent:{schema_id}"


def _event(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record, *,
           event_id: str, event_type: str, source: str, at: datetime, data: Any,
           causation: str | None, subject: str | None, dataschema: str | None) -> Event:
    correlation = _correlate(rec, topic.correlation or rules.correlation)
    trace = parse_traceparent(rec.traceparent())
    return Event(
        id=event_id, type=event_type, source=source, occurred_at=at,
        correlation_id=correlation, data=data if rules.capture.keeps(event_id) else None,
        location=obs.location, received_at=obs.received_at, causation_id=causation,
        subject=subject, dataschema=dataschema,
        trace_id=None if trace is None else trace[0],
        span_id=None if trace is None else trace[1],
        business_keys=_business_keys(rec, rules.business_keys, event_type),
    )


def _correlate(rec: _Record, locators: tuple[Locator, ...]) -> str:
    for loc in locators:
        found = rec.text(loc)
        if found is not None:
            return found
    tried = ", ".join(str(loc) for loc in locators) or "no rules configured"
    raise _Rejected(DeadLetterReason.NO_CORRELATION, f"no correlation id (tried {tried})")


def _business_keys(rec: _Record, keys: Mapping[str, tuple[tuple[str, Locator], ...]],
                   event_type: str) -> tuple[tuple[str, str], ...]:
    if not keys:
        return ()
    found = []
    for named in (keys.get(event_type, ()), keys.get("*", ())):
        for name, loc in named:
            value = rec.text(loc)
            if value is not None:
                found.append((name, value))
    return tuple(found)


# -- dead letters ---------------------------------------------------------------------------------


def _undecodable(obs: Observation, rules: EnvelopeRules, body: bytes,
                 schema_id: int | None) -> DeadLetter:
    raw = obs.value if rules.capture.policy == "full" else None  # not JSON: nothing to redact
    prefix = "" if schema_id is None else (
        f"Confluent wire format, schema id {schema_id}: the payload after the header is ")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if schema_id is None:
            return _dead(obs, DeadLetterReason.NOT_UTF8, f"not UTF-8 (byte {exc.start})", raw)
        return _dead(obs, DeadLetterReason.NOT_JSON,
                     f"{prefix}binary (Avro or Protobuf?), not JSON", raw)
    return _dead(obs, DeadLetterReason.NOT_JSON, f"{prefix}not JSON", raw)


def _dead(obs: Observation, reason: DeadLetterReason, detail: str,
          raw: bytes | None) -> DeadLetter:
    return DeadLetter(reason=reason, detail=detail, location=obs.location,
                      received_at=obs.received_at, raw=raw, key=obs.key, headers=obs.headers)


def _redacted_raw(value: bytes, capture: CaptureRules) -> bytes | None:
    """Bytes not decoded yet, as a dead letter keeps them: only under ``full``, redacted."""
    if capture.policy != "full":
        return None
    if not capture.redact_tokens:
        return value
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value  # not JSON: no pointer can address anything in it
    return orjson.dumps(doc) if _redact_all(doc, capture.redact_tokens) else value
