"""The envelope decoder's fast path: the shape nearly every record has, read in one function.

A structured CloudEvent (a JSON object with ``specversion``, no Confluent header, no
``ce_specversion`` header), on a topic without plain rules, under capture rules that redact
nothing: its attributes are dict lookups and its event is built here, with none of the general
path's per-field helper calls (about 40 per record: half the decoder's time on the Kafka bench).

Anything else (another shape, a value that is not a plain string where one is expected, a time
that is not RFC 3339 as `datetime.fromisoformat` reads it or lies outside the limits, no
correlation id, JSON that does not parse, an unusual locator kind) answers None, and the
general path (`collector.envelope.decode`) decides, dead letters included. So the fast path
gives the general path's event or nothing; tests/collector/test_envelope_fast.py holds it to
that over the simulator's records with every fault on and over several rule sets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from collector._envelope_rules import EnvelopeRules, Locator
from collector._envelope_values import parse_traceparent
from collector._envelope_values import text_of as _text
from collector._jsonpointer import MISSING as _MISSING
from collector._jsonpointer import resolve as _resolve
from collector._payload import loads_within, precise_text
from collector.model import Event, Observation

__all__ = ["FastPath"]

_Find = tuple[str, Any]
"""A locator as the fast path reads it: its kind and its header name, attribute name or
pointer tokens."""
_UNUSABLE: Any = object()
"""A topic or event type whose rules the fast path does not read (the general path does)."""
_UNSEEN: Any = object()
_READABLE = ("header", "extension", "pointer", "key")


def _finds(locators: tuple[Locator, ...]) -> tuple[_Find, ...] | Any:
    if any(loc.kind not in _READABLE for loc in locators):
        return _UNUSABLE
    return tuple((loc.kind, loc.tokens if loc.kind == "pointer" else loc.arg)
                 for loc in locators)


def _find(kind: str, arg: Any, doc: dict[str, Any], headers: dict[str, bytes],
          key: bytes | None) -> Any:
    """What `collector.envelope._Record.find` answers for a structured event."""
    if kind == "header":
        return headers.get(arg, _MISSING)
    if kind == "extension":
        return doc.get(arg, _MISSING)
    if kind == "pointer":
        return _resolve(doc, arg)
    return _MISSING if key is None else key


class FastPath:
    """`__call__(observation)`: the event of a plain structured CloudEvent, or None (the
    general path decides). Built once per `EnvelopeRules`; caches per topic and event type."""

    __slots__ = ("_correlation", "_hi", "_keys", "_limits", "_lo", "_rules", "_sampled",
                 "usable")

    def __init__(self, rules: EnvelopeRules) -> None:
        capture, limits = rules.capture, rules.limits
        self._rules = rules
        self.usable = not (capture.redact_tokens or capture.redact_headers or capture.redact_key)
        """False when redaction rules apply: every record then takes the general path."""
        self._sampled = capture if capture.policy != "full" else None
        self._limits = limits
        self._lo, self._hi = limits.min_time, limits.max_time
        self._correlation: dict[str | None, Any] = {}
        """By topic: the correlation finds, or `_UNUSABLE` (plain rules, unusual locators)."""
        self._keys: dict[str, Any] = {}
        """By event type: the business keys' (name, kind, arg), or `_UNUSABLE`."""

    def _topic(self, topic: str | None) -> Any:
        rules = self._rules.for_topic(topic)
        found = _UNUSABLE if rules.plain else _finds(rules.correlation or self._rules.correlation)
        self._correlation[topic] = found
        return found

    def _keys_of(self, event_type: str) -> Any:
        keys = self._rules.business_keys
        named = (*keys.get(event_type, ()), *keys.get("*", ())) if keys else ()
        finds = _finds(tuple(loc for _, loc in named))
        found = _UNUSABLE if finds is _UNUSABLE else tuple(
            (name, kind, arg) for (name, _), (kind, arg) in zip(named, finds, strict=True))
        self._keys[event_type] = found
        return found

    def __call__(self, obs: Observation) -> Event | None:
        value, limits = obs.value, self._limits
        if value[:1] != b"{" or len(value) > limits.max_record_bytes:
            return None
        raw_headers = obs.headers
        headers = {k.lower(): v for k, v in raw_headers} if raw_headers else {}
        if "ce_specversion" in headers:
            return None
        try:
            doc = loads_within(value, limits)
        except ValueError:  # not JSON (orjson.JSONDecodeError), too deep: a dead letter
            return None
        if type(doc) is not dict or "specversion" not in doc:
            return None
        topic = obs.location.topic
        correlation = self._correlation.get(topic, _UNSEEN)
        if correlation is _UNSEEN:
            correlation = self._topic(topic)
        if correlation is _UNUSABLE:
            return None
        get = doc.get
        event_id, event_type, source, time = get("id"), get("type"), get("source"), get("time")
        if (type(event_id) is not str or type(event_type) is not str or type(source) is not str
                or type(time) is not str or not (event_id and event_type and source)):
            return None
        try:
            at = datetime.fromisoformat(time)
        except ValueError:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        if not self._lo <= at <= self._hi:
            return None
        data = get("data")
        if data is None and "data_base64" in doc:
            return None
        key = obs.key
        for kind, arg in correlation:  # `_find`, inline: this runs once per record
            if kind == "extension":
                found = get(arg, _MISSING)
            elif kind == "header":
                found = headers.get(arg, _MISSING)
            else:
                found = _find(kind, arg, doc, headers, key)
            if found is not _MISSING and (
                    correlation_id := found if type(found) is str else _text(found)):
                break
        else:
            return None  # no correlation id: the general path's dead letter
        named = self._keys.get(event_type, _UNSEEN)
        if named is _UNSEEN:
            named = self._keys_of(event_type)
        if named is _UNUSABLE:
            return None
        business_keys: tuple[tuple[str, str], ...] = ()
        if named:
            keys = []
            for name, kind, arg in named:
                found = _resolve(doc, arg) if kind == "pointer" else _find(
                    kind, arg, doc, headers, key)
                if found is not _MISSING and (
                        text := found if type(found) is str else _text(found)):
                    keys.append((name, text))
            business_keys = tuple(keys)
        traceparent = headers.get("traceparent")
        trace = parse_traceparent(traceparent if traceparent is not None
                                  else get("traceparent"))
        sampled = self._sampled
        if sampled is not None and not sampled.keeps(event_id):
            data = None
        causation, subject, dataschema = get("causationid"), get("subject"), get("dataschema")
        return Event(
            event_id, event_type, source, at, correlation_id, data, obs.location,
            obs.received_at,
            None if causation is None else _text(causation),
            None if subject is None else _text(subject),
            None if dataschema is None else _text(dataschema),
            None if trace is None else trace[0], None if trace is None else trace[1], None,
            business_keys,
            None if key is None else key.decode("utf-8", "backslashreplace"),
            tuple([(name, v.decode("utf-8", "backslashreplace")) for name, v in raw_headers])
            if raw_headers else (),
            precise_text(time),
        )
