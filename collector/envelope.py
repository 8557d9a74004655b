"""Where a raw record becomes a domain event: envelope decoding, pure.

`decode(observation, rules)` turns one `Observation` into an `Event`, or into a `DeadLetter` that
says why not. It reads, in this order:

- the Confluent wire format (magic byte 0 and a 4-byte schema id): the JSON after it is decoded
  and the schema id reported as ``dataschema`` (``confluent:<id>``); anything else is dead;
- CloudEvents binary mode (``ce_*`` headers, the value is the data, read by its
  ``content-type``: JSON content is its JSON value, ``text/*`` its text, anything else bytes);
  a ``ce_specversion`` header beside a ``content-type: application/cloudevents+json`` is
  structured mode (the content type decides);
- the team's own JSON shape, for topics whose rules say where type, id, time and source are;
- CloudEvents structured mode (a JSON object with ``specversion``; ``data_base64`` is decoded
  by ``datacontenttype`` as binary mode's value is);
- the AWS EventBridge shape (``detail-type``, ``source``, ``detail``, ``id``, ``time``).

JSON Pointers (correlation, business keys, redaction, field rules) address the event as a
document: the record's JSON as published, or for binary mode the CloudEvents JSON form
(attributes and ``data``). Redaction runs first, so a redacted value reaches nothing that is
stored (the event, its business keys, a dead letter's bytes).

`Limits` bound what one record may hold (size, nesting, time range); past them the record is
a dead letter. Integers beyond 64 bits are read exactly (`collector._json`). A time finer than
microseconds (Go and Java producers send nanoseconds) is kept as sent in ``Event.time_text``
beside the microsecond datetime. A header value that is not UTF-8 is no identifier: the
correlation rule that finds it is skipped for the next one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from collector import _json
from collector._envelope_fast import FastPath
from collector._envelope_rules import (
    CaptureRules,
    EnvelopeRules,
    Limits,
    Locator,
    TopicRules,
    build_rules,
)
from collector._envelope_values import parse_traceparent
from collector._envelope_values import text_of as _text
from collector._jsonpointer import MISSING as _MISSING
from collector._jsonpointer import REDACTED
from collector._jsonpointer import redact_all as _redact_all
from collector._jsonpointer import resolve as _resolve
from collector._payload import (
    TooDeep,
    content_data,
    header_text,
    is_binary,
    loads_within,
    precise_text,
)
from collector.model import DeadLetter, DeadLetterReason, Event, Observation

__all__ = [
    "REDACTED",
    "CaptureRules",
    "Decoder",
    "EnvelopeRules",
    "Limits",
    "Locator",
    "TopicRules",
    "build_rules",
    "dead_letter",
    "decode",
    "fault",
    "parse_traceparent",
]


# -- values ---------------------------------------------------------------------------------------


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
    doc: dict[str, Any] = {}
    for k, v in headers.items():
        if k.startswith("ce_"):
            try:
                doc[k[3:]] = v.decode("utf-8")
            except UnicodeDecodeError:
                raise _Rejected(DeadLetterReason.INVALID_ENVELOPE,
                                f"CloudEvents binary: header {k} is not UTF-8") from None
    content_type = header_text(headers.get("content-type"))
    if content_type is not None:
        doc.setdefault("datacontenttype", content_type)
    doc["data"] = data
    return doc


def _required(value: str | None, what: str, where: str) -> str:
    if value is None:
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE, f"{where}: no {what}")
    return value


def _time_of(raw: Any, obs: Observation, where: str, limits: Limits) -> datetime:
    if raw is _MISSING or raw is None:
        at = obs.timestamp or obs.received_at
    else:
        parsed = _parse_time(raw)
        if parsed is None:
            raise _Rejected(DeadLetterReason.INVALID_ENVELOPE, f"{where}: time is not RFC 3339")
        at = parsed
    if not limits.min_time <= at <= limits.max_time:
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE,
                        f"{where}: time {at.isoformat()} outside limits.min_time .. "
                        f"limits.max_time ({limits.min_time.isoformat()} .. "
                        f"{limits.max_time.isoformat()})")
    return at


class Decoder:
    """`decode` bound to its rules: the callable the pipeline takes."""

    __slots__ = ("_fast", "rules")

    def __init__(self, rules: EnvelopeRules) -> None:
        self.rules = rules
        fast = FastPath(rules)
        self._fast = fast if fast.usable else None

    def __call__(self, observation: Observation) -> Event | DeadLetter:
        """`decode`; a plain structured CloudEvent through its fast path
        (`collector._envelope_fast`), which gives the same event."""
        fast = self._fast
        if fast is not None and (event := fast(observation)) is not None:
            return event
        return decode(observation, self.rules)

    def fault(self, observation: Observation, exc: BaseException, step: str) -> DeadLetter:
        """The dead letter of a record whose ``step`` raised ``exc`` (see `fault`)."""
        return fault(observation, self.rules, exc, step)


def decode(observation: Observation, rules: EnvelopeRules) -> Event | DeadLetter:
    """The event in a record, or a dead letter with the reason it is not one."""
    capture = rules.capture
    if capture.redact_headers or capture.redact_key:
        observation = _redact_record(observation, capture)
    value, limits = observation.value, rules.limits
    if len(value) > limits.max_record_bytes:
        raw, parsed = _redacted_raw(value, rules.capture)
        return _dead(observation, DeadLetterReason.TOO_LARGE,
                     f"{len(value)} bytes, over limits.max_record_bytes = "
                     f"{limits.max_record_bytes}", raw, rules.capture, parsed=parsed)
    schema_id: int | None = None
    body = value
    if value[:1] == b"\x00" and len(value) >= 5:
        schema_id = int.from_bytes(value[1:5], "big")
        body = value[5:]
    headers = _header_map(observation.headers)
    binary = is_binary(headers)
    try:
        if binary:
            data = content_data(body, header_text(headers.get("content-type")),
                                 limits) if body else None
        else:
            data = loads_within(body, limits)
    except orjson.JSONDecodeError:
        return _undecodable(observation, rules, body, schema_id)
    except TooDeep as deep:  # no pointer is followed into it
        return dead_letter(observation, DeadLetterReason.TOO_DEEP, str(deep), rules.capture)
    doc, redacted = data, False
    try:
        if binary:
            doc = _binary_doc(headers, data)
        redact = rules.capture.redact_tokens
        redacted = _redact_all(doc, redact) if redact else False
        return _decode_doc(observation, rules, doc, headers, binary, schema_id)
    except _Rejected as rejected:
        raw = None
        if rules.capture.policy == "full":
            raw = value if not redacted else (
                value[: len(value) - len(body)]
                + _json.dumps(_data_of(doc) if binary else doc).encode())
        return _dead(observation, rejected.reason, rejected.detail, raw, rules.capture)


_REDACTED_BYTES = REDACTED.encode()


def _redact_record(obs: Observation, capture: CaptureRules) -> Observation:
    """The record with its configured headers (``header:NAME``) and key (``key``) redacted,
    before anything reads them: nothing stored (an event, a dead letter) sees the values."""
    names = capture.redact_headers
    headers = tuple((k, _REDACTED_BYTES if k.lower() in names else v) for k, v in obs.headers)
    key = _REDACTED_BYTES if capture.redact_key and obs.key is not None else obs.key
    return replace(obs, headers=headers, key=key)


def _stored_headers(headers: tuple[tuple[str, bytes], ...],
                    attributes: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """Headers as an event stores them: text, and a CloudEvents attribute header (``ce_x``)
    whose attribute a pointer redacted is redacted too (``attributes`` None: no pointer
    redacts anything, so each value is its text)."""
    if attributes is None:
        return tuple([(name, value.decode("utf-8", "backslashreplace"))
                      for name, value in headers])
    out = []
    for name, value in headers:
        low = name.lower()
        if low.startswith("ce_") and attributes.get(low[3:]) == REDACTED:
            out.append((name, REDACTED))
        else:
            out.append((name, value.decode("utf-8", "backslashreplace")))
    return tuple(out)


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
    get = rec.doc.get
    time = get("time", _MISSING)
    data = get("data")
    if data is None and "data_base64" in rec.doc:
        data = _base64_data(rec, rules.limits, where)
    return _event(
        obs, rules, topic, rec,
        _required(_text(get("id")), "id", where),
        _required(_text(get("type")), "type", where),
        _required(_text(get("source")), "source", where),
        _time_of(time, obs, where, rules.limits),
        data,
        _text(get("causationid")),
        _text(get("subject")),
        _text(get("dataschema")) or _confluent(schema_id),
        precise_text(time),
    )


def _base64_data(rec: _Record, limits: Limits, where: str) -> Any:
    """A structured event's ``data_base64``, read by its ``datacontenttype`` (or, as the
    CloudEvents SDK's Kafka binding sends it, the ``content-type`` header): JSON content is
    its JSON value, other content its text or bytes, exactly as in binary mode."""
    encoded = rec.doc["data_base64"]
    if type(encoded) is not str:
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE, f"{where}: data_base64 is not a string")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE,
                        f"{where}: data_base64 is not base64") from None
    content_type = _text(rec.doc.get("datacontenttype"))
    if content_type is None:
        header = header_text(rec.headers.get("content-type"))
        if header is not None and not header.lstrip().lower().startswith("application/cloudevents"):
            content_type = header
    if content_type is None:
        return raw  # bytes of no stated type: kept as they are
    try:
        return content_data(raw, content_type, limits)
    except TooDeep as deep:
        raise _Rejected(DeadLetterReason.TOO_DEEP, f"{where}: data_base64 {deep}") from None
    except orjson.JSONDecodeError:
        raise _Rejected(DeadLetterReason.INVALID_ENVELOPE,
                        f"{where}: data_base64 is not the {content_type} it says") from None


def _eventbridge(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record,
                 schema_id: int | None) -> Event:
    doc, where = rec.doc, "EventBridge"
    return _event(
        obs, rules, topic, rec,
        _required(_text(doc.get("id")), "id", where),
        _required(_text(doc.get("detail-type")), "detail-type", where),
        _required(_text(doc.get("source")), "source", where),
        _time_of(doc.get("time", _MISSING), obs, where, rules.limits),
        doc.get("detail"),
        rec.text(topic.causation),
        None,
        _confluent(schema_id),
        precise_text(doc.get("time")),
    )


def _plain(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record,
           schema_id: int | None) -> Event:
    where = f"topic {obs.location.topic!r}"
    if topic.type is None or topic.id is None:
        raise _Rejected(DeadLetterReason.UNKNOWN_ENVELOPE,
                        f"{where} is plain JSON but has no type and id rules")
    data = rec.doc if topic.data is None else rec.find(topic.data)
    time = _MISSING if topic.time is None else rec.find(topic.time)
    return _event(
        obs, rules, topic, rec,
        _required(rec.text(topic.id), f"id at {topic.id}", where),
        _required(rec.text(topic.type), f"type at {topic.type}", where),
        rec.text(topic.source) or obs.location.topic or obs.location.source,
        _time_of(time, obs, where, rules.limits),
        None if data is _MISSING else data,
        rec.text(topic.causation),
        None,
        _confluent(schema_id),
        precise_text(time),
    )


def _confluent(schema_id: int | None) -> str | None:
    return None if schema_id is None else f"confluent:{schema_id}"


def _event(obs: Observation, rules: EnvelopeRules, topic: TopicRules, rec: _Record,
           event_id: str, event_type: str, source: str, at: datetime, data: Any,
           causation: str | None, subject: str | None, dataschema: str | None,
           time_text: str | None) -> Event:
    """The event (positional arguments and fields: this runs once per record)."""
    correlation = _correlate(rec, topic.correlation or rules.correlation)
    trace = parse_traceparent(rec.traceparent())
    capture = rules.capture
    if capture.policy != "full" and not capture.keeps(event_id):
        data = None
    keys = rules.business_keys
    return Event(
        event_id, event_type, source, at, correlation, data, obs.location, obs.received_at,
        causation, subject, dataschema,
        None if trace is None else trace[0], None if trace is None else trace[1], None,
        _business_keys(rec, keys, event_type) if keys else (),
        None if obs.key is None else obs.key.decode("utf-8", "backslashreplace"),
        _stored_headers(obs.headers, rec.ext if capture.redact_tokens else None)
        if obs.headers else (), time_text,
    )


def _correlate(rec: _Record, locators: tuple[Locator, ...]) -> str:
    find = rec.find
    for loc in locators:
        value = find(loc)
        if value is not _MISSING:
            found = _text(value)
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


WITHHELD_REDACTION = ("redaction rules apply and the record could not be parsed to redact it "
                      "(capture.dead_letter_raw = true keeps such bytes)")
"""Why an unparsable record's bytes are not stored, as its dead letter says."""


def _undecodable(obs: Observation, rules: EnvelopeRules, body: bytes,
                 schema_id: int | None) -> DeadLetter:
    raw = obs.value if rules.capture.policy == "full" else None  # not JSON: nothing to redact
    prefix = "" if schema_id is None else (
        f"Confluent wire format, schema id {schema_id}: the payload after the header is ")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if schema_id is None:
            return _dead(obs, DeadLetterReason.NOT_UTF8, f"not UTF-8 (byte {exc.start})", raw,
                         rules.capture, parsed=False)
        return _dead(obs, DeadLetterReason.NOT_JSON,
                     f"{prefix}binary (Avro or Protobuf?), not JSON", raw, rules.capture,
                     parsed=False)
    return _dead(obs, DeadLetterReason.NOT_JSON, f"{prefix}not JSON", raw, rules.capture,
                 parsed=False)


def _dead(obs: Observation, reason: DeadLetterReason, detail: str, raw: bytes | None,
          capture: CaptureRules, *, parsed: bool = True) -> DeadLetter:
    """A dead letter under the capture rules: bytes redaction could not see into (``parsed``
    False) are withheld when redaction rules apply. (`decode` redacted headers and key.)"""
    withheld = None
    if not parsed and raw is not None and capture.withholds_raw:
        raw, withheld = None, WITHHELD_REDACTION
    return DeadLetter(reason=reason, detail=detail, location=obs.location,
                      received_at=obs.received_at, raw=raw, key=obs.key,
                      headers=obs.headers,
                      raw_withheld=withheld)


def dead_letter(obs: Observation, reason: DeadLetterReason, detail: str,
                capture: CaptureRules) -> DeadLetter:
    """A dead letter for a record whose bytes were not redacted (e.g. one that failed after
    decoding, or that was never parsed): its bytes are kept only under ``full``, and only
    when no redaction rule applies or ``capture.dead_letter_raw`` says so. ``detail`` must
    not quote payload values."""
    if capture.redact_headers or capture.redact_key:
        obs = _redact_record(obs, capture)
    raw = obs.value if capture.policy == "full" else None
    return _dead(obs, reason, detail, raw, capture, parsed=False)


def _redacted_raw(value: bytes, capture: CaptureRules) -> tuple[bytes | None, bool]:
    """Bytes not decoded yet, as a dead letter keeps them (only under ``full``, redacted),
    and whether they could be parsed for redaction."""
    if capture.policy != "full":
        return None, True
    if not capture.redact_tokens:
        return value, True
    try:
        doc = _json.loads(value)
    except ValueError:
        return value, False  # not JSON: no pointer can address anything in it
    if not _redact_all(doc, capture.redact_tokens):
        return value, True
    try:
        return _json.dumps(doc).encode(), True
    except (TypeError, ValueError, RecursionError):
        return None, True  # redacted but not writable again: no bytes rather than the values


def fault(observation: Observation, rules: EnvelopeRules, exc: BaseException,
          step: str) -> DeadLetter:
    """The dead letter of a record whose ``step`` raised ``exc`` (the pipeline's fault
    boundary): reason ``unstorable``, the exception's type only in the detail (its message
    may quote payload values), raw bytes as for a record never parsed (`dead_letter`)."""
    return dead_letter(observation, DeadLetterReason.UNSTORABLE,
                       f"unstorable: {type(exc).__name__} while {step}", rules.capture)
