"""The envelope decoder's rules as values: locators, per-topic rules, capture, and the whole set.

Built from the settings by `build_rules`; `collector.envelope` re-exports everything here.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from collector._jsonpointer import pointer_tokens

if TYPE_CHECKING:
    from collector.settings import Settings, TopicEnvelopeSettings

__all__ = ["CaptureRules", "EnvelopeRules", "Limits", "Locator", "TopicRules", "build_rules"]

LocatorKind = Literal["pointer", "header", "key", "extension", "traceparent"]
_KINDS: tuple[str, ...] = ("pointer", "header", "key", "extension", "traceparent")


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
            object.__setattr__(self, "tokens", pointer_tokens(self.arg))
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
    """What becomes ``"[redacted]"`` before anything is stored: JSON Pointers into the event
    (``/data/card``), record headers (``header:NAME``) and the record key (``key``)."""
    dead_letter_raw: bool = False
    """Keep the raw bytes of unparsable records although redaction rules apply."""
    redact_tokens: tuple[tuple[str, ...], ...] = field(
        default=(), init=False, repr=False, compare=False)
    redact_headers: frozenset[str] = field(
        default=frozenset(), init=False, repr=False, compare=False)
    """Lower-cased header names whose values are redacted: the ``header:NAME`` entries, and
    ``ce_NAME`` for each top-level pointer ``/NAME`` (a binary-mode CloudEvents attribute)."""
    redact_key: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sample_every < 1:
            raise ValueError("sample_every must be at least 1")
        found = [Locator.parse(p) for p in self.redact]
        wrong = [str(loc) for loc in found if loc.kind not in ("pointer", "header", "key")]
        if wrong:
            raise ValueError(f"cannot redact {wrong[0]!r}: redact a /json/pointer, "
                             "header:NAME or key")
        tokens = tuple(loc.tokens for loc in found if loc.kind == "pointer")
        object.__setattr__(self, "redact_tokens", tokens)
        object.__setattr__(self, "redact_headers", frozenset(
            {loc.arg for loc in found if loc.kind == "header"}
            | {f"ce_{t[0].lower()}" for t in tokens if len(t) == 1}))
        object.__setattr__(self, "redact_key", any(loc.kind == "key" for loc in found))

    @property
    def withholds_raw(self) -> bool:
        """Whether bytes that cannot be parsed (so not redacted) are kept out of the store:
        pointer redaction rules apply and ``dead_letter_raw`` does not say otherwise."""
        return bool(self.redact_tokens) and not self.dead_letter_raw

    def keeps(self, event_id: str) -> bool:
        """Whether the payload of this event is stored (the same answer on every delivery)."""
        if self.policy == "full":
            return True
        if self.policy == "none":
            return False
        return zlib.crc32(event_id.encode()) % self.sample_every == 0


_PLAIN_DEFAULT = TopicRules()

ORJSON_MAX_DEPTH = 254
"""The deepest nesting orjson writes: a payload deeper than this could never be stored."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one record may hold and still become an event (past them: a dead letter)."""

    max_record_bytes: int = 1_048_576
    """Record size (reason ``too-large``)."""
    max_depth: int = 200
    """Nesting of the record's JSON, objects and arrays (reason ``too-deep``); at most 254."""
    min_time: datetime = datetime(1900, 1, 1, tzinfo=UTC)
    max_time: datetime = datetime(2200, 1, 1, tzinfo=UTC)
    """An event's time must lie in [min_time, max_time] (reason ``invalid-envelope``)."""

    def __post_init__(self) -> None:
        if self.max_record_bytes < 1:
            raise ValueError("max_record_bytes must be at least 1")
        if not 1 <= self.max_depth <= ORJSON_MAX_DEPTH:
            raise ValueError(f"max_depth must be between 1 and {ORJSON_MAX_DEPTH}")
        if self.min_time.tzinfo is None or self.max_time.tzinfo is None:
            raise ValueError("min_time and max_time must carry a time zone")
        if self.min_time >= self.max_time:
            raise ValueError("min_time must be before max_time")


@dataclass(frozen=True, slots=True)
class EnvelopeRules:
    """Everything the decoder is told: correlation rules, per-topic rules, business keys,
    capture and limits."""

    correlation: tuple[Locator, ...] = DEFAULT_CORRELATION
    topics: Mapping[str, TopicRules] = field(default_factory=dict)
    """By topic name; ``"*"`` applies to topics without their own entry."""
    business_keys: Mapping[str, tuple[tuple[str, Locator], ...]] = field(default_factory=dict)
    """By event type (``"*"``: every type): names and pointers, e.g. ``order_id``."""
    capture: CaptureRules = CaptureRules()
    limits: Limits = Limits()

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
    """The decoder's rules from the configuration (already validated), with the business keys
    shipped in ``schemas_dir/business_keys.json`` (`collector.business_keys`)."""
    from collector.business_keys import load_business_keys, merge_business_keys

    env, cap, lim = settings.envelope, settings.capture, settings.limits
    keys = merge_business_keys(load_business_keys(settings.schemas_dir), env.business_keys)
    return EnvelopeRules(
        correlation=tuple(Locator.parse(c) for c in env.correlation),
        topics={name: _topic_rules(t) for name, t in env.topics.items()},
        business_keys={
            etype: tuple((name, Locator.parse(ptr)) for name, ptr in named.items())
            for etype, named in keys.items()},
        capture=CaptureRules(policy=cap.policy, sample_every=cap.sample_every,
                             redact=tuple(cap.redact), dead_letter_raw=cap.dead_letter_raw),
        limits=Limits(max_record_bytes=lim.max_record_bytes, max_depth=lim.max_depth,
                      min_time=lim.min_time, max_time=lim.max_time),
    )
