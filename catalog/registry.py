"""The schema registry: subjects (one per event type) with ordered, immutable versions.

A `Registry` is a value: `Registry.with_version` checks a schema (meta-schema, then the subject's
compatibility mode and policy) and returns a new registry holding it; nothing is written here.
Loading from and saving to ``schemas/events/<EventType>/v<N>.json`` is `catalog.files`' job.

Each subject has a compatibility mode and a policy; a subject without its own uses the
registry's defaults (BACKWARD and STRICT unless configured). A topic-name view
(`Registry.by_topic`) lists the subjects whose latest version declares ``x-topic``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from catalog.changes import Mode, Policy
from catalog.compatibility import Report, check_history
from catalog.drafts import DEFAULT, with_draft
from catalog.exceptions import IncompatibleSchema, SchemaNotFound, VersionExists
from catalog.metaschema import check_schema
from catalog.references import resources_of

__all__ = ["Registry", "SchemaVersion", "Subject", "VersionReport"]


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One registered version of a subject's schema."""

    subject: str
    version: int
    schema: dict[str, Any]
    """The schema document; a private copy, never mutated."""
    source: str = "api"
    """Where it came from: a file path, or ``api`` for a version registered in-process."""

    def _meta(self, key: str) -> str | None:
        value = self.schema.get(key)
        return value if isinstance(value, str) else None

    @property
    def description(self) -> str | None:
        return self._meta("description")

    @property
    def owner(self) -> str | None:
        return self._meta("x-owner")

    @property
    def domain(self) -> str | None:
        return self._meta("x-domain")

    @property
    def topic(self) -> str | None:
        return self._meta("x-topic")


@dataclass(frozen=True, slots=True)
class Subject:
    """A subject's versions (ascending) and its own compatibility settings, if any."""

    name: str
    versions: tuple[SchemaVersion, ...] = ()
    mode: Mode | None = None
    policy: Policy | None = None

    @property
    def latest(self) -> SchemaVersion | None:
        return self.versions[-1] if self.versions else None

    def version(self, number: int) -> SchemaVersion:
        for v in self.versions:
            if v.version == number:
                return v
        raise SchemaNotFound(self.name, number)

    @property
    def next_version(self) -> int:
        return self.versions[-1].version + 1 if self.versions else 1


@dataclass(frozen=True, slots=True)
class VersionReport:
    """A version checked against the versions before it, under its subject's settings."""

    subject: str
    version: int
    report: Report


@dataclass(frozen=True, slots=True)
class Registry:
    """Subjects by name, with default compatibility settings. Immutable: ``with_*`` copies."""

    subjects: Mapping[str, Subject] = field(default_factory=lambda: MappingProxyType({}))
    mode: Mode = Mode.BACKWARD
    policy: Policy = Policy.STRICT
    default_draft: str = DEFAULT
    """The draft a schema without ``$schema`` is read as; stored versions carry it pinned."""
    aliases: tuple[tuple[str, str, int], ...] = ()
    """Named references (name, subject, version), as the Confluent REST API registers them: a
    ``$ref`` to the name leads to that version's schema, in comparisons and validation."""

    def __post_init__(self) -> None:
        if not isinstance(self.subjects, MappingProxyType):
            object.__setattr__(self, "subjects", MappingProxyType(dict(self.subjects)))

    def __contains__(self, name: object) -> bool:
        return name in self.subjects

    def __iter__(self) -> Iterator[Subject]:
        return iter(self.subjects[name] for name in sorted(self.subjects))

    def subject(self, name: str) -> Subject:
        try:
            return self.subjects[name]
        except KeyError:
            raise SchemaNotFound(name) from None

    def get(self, name: str, version: int | None = None) -> SchemaVersion:
        """A version of a subject; ``None`` for the latest."""
        subject = self.subject(name)
        if version is None:
            if subject.latest is None:
                raise SchemaNotFound(name)
            return subject.latest
        return subject.version(version)

    def settings(self, name: str) -> tuple[Mode, Policy]:
        """The subject's compatibility mode and policy (the registry's defaults if unset)."""
        subject = self.subjects.get(name)
        mode = subject.mode if subject and subject.mode else self.mode
        policy = subject.policy if subject and subject.policy else self.policy
        return mode, policy

    def check(self, name: str, schema: Any, *, source: str = "api") -> Report:
        """The compatibility report of ``schema`` as the next version of ``name``; its
        references may lead into the document and to registered schemas, nowhere else."""
        schema = with_draft(schema, self.default_draft)
        check_schema(schema, source, known=self.uris())
        mode, policy = self.settings(name)
        subject = self.subjects.get(name, Subject(name))
        history = [(v.version, v.schema) for v in subject.versions]
        return check_history(history, schema, mode, policy, others=self.schemas())

    def with_version(
        self, name: str, schema: Mapping[str, Any], *, source: str = "api"
    ) -> tuple[Registry, SchemaVersion]:
        """A registry with ``schema`` as the next version of ``name``.

        Raises `SchemaRejected` if the schema fails its meta-schema and `IncompatibleSchema`
        (carrying the report) if it breaks the subject's mode. A schema equal to the latest
        version is not added again: the registry and that version are returned.
        """
        schema = with_draft(schema, self.default_draft)
        latest = self.subjects[name].latest if name in self.subjects else None
        if latest is not None and latest.schema == schema:
            return self, latest  # the same schema again: its existing version, as registries do
        report = self.check(name, schema, source=source)
        if not report.compatible:
            raise IncompatibleSchema(name, report)
        return self._added(name, schema, source, None)

    def with_loaded(
        self, name: str, schema: Mapping[str, Any], *, source: str, version: int
    ) -> Registry:
        """A registry with a version read from storage (meta-schema checked, not compatibility:
        what is stored was accepted when it was registered, and `report` shows it)."""
        schema = with_draft(schema, self.default_draft)
        check_schema(schema, source, known=None)  # references: once all are loaded (files.py)
        return self._added(name, schema, source, version)[0]

    def with_settings(
        self, name: str, mode: Mode | None = None, policy: Policy | None = None
    ) -> Registry:
        """A registry where subject ``name`` has its own mode and/or policy."""
        subject = self.subjects.get(name, Subject(name))
        subject = replace(subject, mode=mode or subject.mode, policy=policy or subject.policy)
        return replace(self, subjects=MappingProxyType({**self.subjects, name: subject}))

    def without(self, name: str, version: int) -> Registry:
        """A registry where subject ``name`` no longer has ``version`` (a permanent delete)."""
        subject = self.subject(name)
        kept = tuple(v for v in subject.versions if v.version != version)
        subjects = {**self.subjects, name: replace(subject, versions=kept)}
        if not kept and subject.mode is None and subject.policy is None:
            del subjects[name]
        return replace(self, subjects=MappingProxyType(subjects))

    def schemas(self) -> list[dict[str, Any]]:
        """Every registered version's schema, the documents references may lead to; a named
        reference's target also under its name (as its ``$id``)."""
        named = []
        for name, subject, version in self.aliases:
            target = self.subjects.get(subject)
            if target is not None and any(v.version == version for v in target.versions):
                named.append({**target.version(version).schema, "$id": name})
        return [*(v.schema for s in self for v in s.versions), *named]

    def with_aliases(self, aliases: Iterable[tuple[str, str, int]]) -> Registry:
        """The registry where each (name, subject, version) resolves ``$ref: name``."""
        return replace(self, aliases=tuple(dict.fromkeys((*self.aliases, *aliases))))

    def uris(self) -> set[str]:
        """The URIs (resolved ``$id``) by which registered schemas can be referenced."""
        return set(resources_of(self.schemas()))

    def by_topic(self, topic: str) -> list[Subject]:
        """Subjects whose latest version declares ``x-topic: topic`` (topic-name strategy)."""
        return [s for s in self if s.latest is not None and s.latest.topic == topic]

    def report(self) -> list[VersionReport]:
        """Every version after the first, checked against the versions before it."""
        out = []
        for subject in self:
            mode, policy = self.settings(subject.name)
            for i, version in enumerate(subject.versions[1:], start=1):
                history = [(v.version, v.schema) for v in subject.versions[:i]]
                report = check_history(history, version.schema, mode, policy,
                                       others=self.schemas())
                out.append(VersionReport(subject.name, version.version, report))
        return out

    def _added(
        self, name: str, schema: Mapping[str, Any], source: str, version: int | None
    ) -> tuple[Registry, SchemaVersion]:
        subject = self.subjects.get(name, Subject(name))
        number = subject.next_version if version is None else version
        if any(v.version == number for v in subject.versions):
            raise VersionExists(name, number)
        added = SchemaVersion(name, number, copy.deepcopy(dict(schema)), source)
        versions = tuple(sorted((*subject.versions, added), key=lambda v: v.version))
        subjects = {**self.subjects, name: replace(subject, versions=versions)}
        return replace(self, subjects=MappingProxyType(subjects)), added
