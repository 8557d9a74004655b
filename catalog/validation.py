"""Live validation of event payloads against the registry: the per-event hot path.

`Validator` compiles each (event type, version) once with jsonschema-rs (a compiled validator
for draft 2020-12 and draft-07) and answers with `Finding` values: the JSON Pointer in the
payload, the schema keyword that failed and its message. `ReferenceValidator` gives the same
answers with jsonschema, the reference implementation, for readable messages and for checking
the compiled one. Formats are annotations (not asserted), as both drafts' defaults say.

The version an event names comes from its ``dataschema`` (``.../OrderPlaced/v2``), see
`parse_dataschema`; without one the latest version is used. Counting findings per producer,
event type and version is the pipeline's job; `tally` is a pure helper for it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jsonschema
import jsonschema.validators
import jsonschema_rs
import referencing

from catalog.exceptions import SchemaNotFound
from catalog.metaschema import validator_class
from catalog.references import BASE_URI, refuse, resources_of
from catalog.registry import Registry

__all__ = [
    "STRATEGIES",
    "Finding",
    "ReferenceValidator",
    "Tally",
    "Validator",
    "compile_schema",
    "confluent_id",
    "findings_of",
    "parse_dataschema",
    "registered",
    "subject_name",
    "tally",
]

_DATASCHEMA = re.compile(
    r"(?:^|[/:])(?P<type>[^/:]+)/v(?P<version>\d+)(?:\.json)?/?(?:[?#].*)?$"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation: where in the payload, which keyword, and what it says."""

    pointer: str
    keyword: str
    message: str


def parse_dataschema(dataschema: str | None) -> tuple[str | None, int | None]:
    """``"https://x/schemas/OrderPlaced/v2"`` -> ``("OrderPlaced", 2)``; else ``(None, None)``."""
    if not dataschema:
        return None, None
    match = _DATASCHEMA.search(dataschema)
    if match is None:
        return None, None
    return match.group("type"), int(match.group("version"))


STRATEGIES = ("record", "topic", "topic_record")
"""The reference's subject-name strategies: RecordNameStrategy, TopicNameStrategy and
TopicRecordNameStrategy."""


def subject_name(strategy: str, topic: str | None, event_type: str) -> str:
    """The subject of a record: ``record`` -> ``OrderPlaced``, ``topic`` -> ``orders-value``,
    ``topic_record`` -> ``orders-OrderPlaced`` (record without a topic: the event type)."""
    if topic is None or strategy == "record":
        return event_type
    return f"{topic}-value" if strategy == "topic" else f"{topic}-{event_type}"


def confluent_id(dataschema: str | None) -> int | None:
    """``"confluent:42"`` (a record in the Confluent wire format, see `collector.envelope`) ->
    ``42``; None for anything else."""
    if dataschema is None or not dataschema.startswith("confluent:"):
        return None
    tail = dataschema[len("confluent:"):]
    return int(tail) if tail.isdigit() else None


def _pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _keyword(schema_path: Sequence[str | int]) -> str:
    for part in reversed(schema_path):
        if isinstance(part, str):
            return part
    return "false"


def compile_schema(schema: Any, resources: Any = None) -> Any:
    """The hot path's compiled validator; formats are annotations in every draft, as in the
    reference (jsonschema-rs would assert them for draft-07 by default). References resolve
    within the document and ``resources`` (`registered`), never over the network."""
    return jsonschema_rs.validator_for(schema, validate_formats=False, base_uri=BASE_URI,
                                       retriever=refuse, registry=resources)


def registered(registry: Registry) -> Any:
    """The registry's schemas by their ``$id``, for `compile_schema`; None when none has one."""
    found: Mapping[str, Any] = resources_of(registry.schemas())
    return jsonschema_rs.Registry(list(found.items()), retriever=refuse) if found else None


def findings_of(compiled: Any, data: Any) -> list[Finding]:
    """The findings of a compiled jsonschema-rs validator for ``data`` (empty when valid)."""
    if compiled.is_valid(data):
        return []
    return [
        Finding(_pointer(e.instance_path), _keyword(e.schema_path), e.message)
        for e in compiled.iter_errors(data)
    ]


class Validator:
    """Validates payloads against a registry; compiled validators are cached per version.

    The registry is a value, so the cache never goes stale: build a new `Validator` (or call
    `with_registry`) when a new registry is loaded.
    """

    def __init__(
        self,
        registry: Registry,
        ids: Mapping[int, Sequence[tuple[str, int]]] | None = None,
        strategies: Mapping[str, str] | None = None,
    ) -> None:
        self.registry = registry
        self.ids = ids or {}
        """Schema id -> the (subject, version)s registered with it (`catalog.schema_ids`)."""
        self.strategies = strategies or {}
        """Topic (``*``: any other) -> subject-name strategy, see `subject_name`."""
        self._compiled: dict[tuple[str, int | None], Any] = {}

    @cached_property
    def _resources(self) -> Any:
        return registered(self.registry)

    def with_registry(self, registry: Registry) -> Validator:
        return Validator(registry, self.ids, self.strategies)

    def knows(self, event_type: str) -> bool:
        return event_type in self.registry and self.registry.subject(event_type).latest is not None

    def resolve(
        self, event_type: str, dataschema: str | None, topic: str | None = None
    ) -> tuple[str, int] | None:
        """The (subject, version) an event is validated against; None for an unknown subject.

        A record in the Confluent wire format (``dataschema`` ``confluent:<id>``) resolves by its
        schema id whatever the subject-name strategy: exactly the version registered with that
        id (under the event type's own subject when the id is registered under several). Else
        the topic's subject-name strategy names the subject (`subject_name`); under the record
        strategy (the default) that is the event type, validated against the version
        ``dataschema`` names, or the latest.
        """
        schema_id = confluent_id(dataschema)
        if schema_id is not None:
            places = [p for p in self.ids.get(schema_id, ()) if p[0] in self.registry]
            if places:
                return next((p for p in places if p[0] == event_type), places[0])
        strategy = self.strategies.get(topic or "", self.strategies.get("*", "record"))
        name = subject_name(strategy, topic, event_type)
        if name != event_type:
            known = name in self.registry and self.registry.subject(name).latest is not None
            return (name, self.registry.get(name).version) if known else None
        if not self.knows(event_type):
            return None
        named_type, named = parse_dataschema(dataschema)
        subject = self.registry.subject(event_type)
        if named_type == event_type and any(v.version == named for v in subject.versions):
            return event_type, int(named) if named is not None else 0
        return event_type, self.registry.get(event_type).version

    def compiled(self, event_type: str, version: int | None) -> Any:
        """The compiled validator; raises `SchemaNotFound` for an unknown type or version."""
        key = (event_type, version)
        found = self._compiled.get(key)
        if found is None:
            schema = self.registry.get(event_type, version).schema
            found = self._compiled[key] = compile_schema(schema, self._resources)
        return found

    def validate(self, event_type: str, version: int | None, data: Any) -> list[Finding]:
        """Findings of ``data`` against the type's version (latest when None); [] when valid."""
        return findings_of(self.compiled(event_type, version), data)

    def validate_event(
        self, event_type: str, dataschema: str | None, data: Any
    ) -> tuple[int, list[Finding]]:
        """Validate against the version ``dataschema`` names, else the latest.

        Returns the version actually used (for per-version counters) and the findings; a
        ``dataschema`` naming another type or an unregistered version falls back to the latest.
        Raises `SchemaNotFound` only when the type has no schema at all.
        """
        target = self.resolve(event_type, dataschema)
        if target is None:
            raise SchemaNotFound(event_type)
        subject, version = target
        return version, self.validate(subject, version, data)

    def is_valid(self, event_type: str, version: int | None, data: Any) -> bool:
        return bool(self.compiled(event_type, version).is_valid(data))


class ReferenceValidator:
    """The same answers as `Validator`, computed by jsonschema (slower, reference messages)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._validators: dict[tuple[str, int | None], Any] = {}

    def validate(self, event_type: str, version: int | None, data: Any) -> list[Finding]:
        key = (event_type, version)
        validator = self._validators.get(key)
        if validator is None:
            schema = self.registry.get(event_type, version).schema
            cls = validator_class(schema) or jsonschema.Draft202012Validator
            validator = self._validators[key] = cls(schema, registry=_OFFLINE)
        return [
            Finding(_pointer(list(e.absolute_path)), str(e.validator), e.message)
            for e in validator.iter_errors(data)
        ]


_OFFLINE: referencing.Registry[Any] = referencing.Registry(  # type: ignore[call-arg]
    retrieve=refuse)  # an attrs alias mypy does not see
"""For the reference validator: references out of the document are unresolvable, not fetched."""


@dataclass(slots=True)
class Tally:
    """Counts for one (producer, event type, version)."""

    checked: int = 0
    invalid: int = 0
    keywords: Counter[str] = field(default_factory=Counter)


def tally(
    results: Iterable[tuple[str, str, int | None, Sequence[Finding]]],
) -> dict[tuple[str, str, int | None], Tally]:
    """Fold (producer, event type, version, findings) into counts per key."""
    out: dict[tuple[str, str, int | None], Tally] = {}
    for producer, event_type, version, findings in results:
        counts = out.setdefault((producer, event_type, version), Tally())
        counts.checked += 1
        if findings:
            counts.invalid += 1
            counts.keywords.update(f.keyword for f in findings)
    return out
