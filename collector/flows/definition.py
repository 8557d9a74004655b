"""Flow definitions: the declarative shape of a business flow, loaded and validated from JSON.

A definition names its start events, its terminal events (success, failure, compensated), the
expected transitions with a deadline each, compensation pairs and an end-to-end SLA. Files live
in ``schemas/flows/*.json``; the format is documented in ``docs/FLOWS.md``. Loading validates the
file with pydantic and reports errors naming the file, the flow and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pydantic

from collector.flows.exceptions import FlowError

__all__ = [
    "Compensation",
    "DefinitionError",
    "FlowDefinition",
    "Transition",
    "load_definitions",
    "parse_definition",
]


class DefinitionError(FlowError):
    """A flow definition file is invalid: names the file, the flow and the field."""

    def __init__(self, path: str, flow: str | None, field: str, problem: str) -> None:
        where = f"{path}: flow {flow!r}" if flow else path
        super().__init__(f"{where}: field {field!r}: {problem}")
        self.path, self.flow, self.field, self.problem = path, flow, field, problem


@dataclass(frozen=True, slots=True)
class Transition:
    """After ``source``, one of ``targets`` is expected within ``deadline``."""

    source: str
    targets: frozenset[str]
    deadline: timedelta


@dataclass(frozen=True, slots=True)
class Compensation:
    """After ``after`` then ``on``, ``expect`` must follow within ``within``."""

    after: str
    on: str
    expect: str
    within: timedelta


@dataclass(frozen=True, slots=True)
class FlowDefinition:
    flow_type: str
    version: int
    start: frozenset[str]
    success: frozenset[str]
    failure: frozenset[str]
    compensated: frozenset[str]
    transitions: tuple[Transition, ...]
    compensations: tuple[Compensation, ...]
    sla: timedelta
    description: str = ""
    owner: str = ""
    effective_from: datetime | None = None
    """Flows started at or after this time are judged by this version (None: from the start)."""
    forbidden: frozenset[str] = frozenset()
    """Event types that must not occur in this flow: each one is a deviation. Other types the
    definition does not name (a notification, an audit) join the instance without being steps."""

    @property
    def terminal(self) -> frozenset[str]:
        return self.success | self.failure | self.compensated

    @property
    def event_types(self) -> frozenset[str]:
        """Every event type the definition names."""
        names = set(self.start) | self.terminal
        for t in self.transitions:
            names.add(t.source)
            names |= t.targets
        return frozenset(names)

    def transition_from(self, event_type: str) -> Transition | None:
        for t in self.transitions:
            if t.source == event_type:
                return t
        return None

    @property
    def longest_wait(self) -> timedelta:
        """The longest step deadline or SLA: how long after the last event a flow can still move."""
        return max([self.sla, *(t.deadline for t in self.transitions),
                    *(c.within for c in self.compensations)])


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Terminal(_Strict):
    success: list[str] = pydantic.Field(min_length=1)
    failure: list[str] = []
    compensated: list[str] = []


class _Transition(_Strict):
    source: str = pydantic.Field(alias="from", min_length=1)
    to: list[str] = pydantic.Field(min_length=1)
    deadline: timedelta


class _Compensation(_Strict):
    after: str
    on: str
    expect: str
    within: timedelta


class _Definition(_Strict):
    flow_type: str = pydantic.Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = pydantic.Field(ge=1)
    description: str = ""
    owner: str = ""
    start: list[str] = pydantic.Field(min_length=1)
    terminal: _Terminal
    transitions: list[_Transition]
    compensations: list[_Compensation] = []
    sla: timedelta
    effective_from: datetime | None = None
    forbidden: list[str] = []


def _check_semantics(d: _Definition) -> list[tuple[str, str]]:
    """Cross-field checks pydantic cannot express; returns (field, problem) pairs."""
    problems: list[tuple[str, str]] = []
    sources = [t.source for t in d.transitions]
    for name in sorted({s for s in sources if sources.count(s) > 1}):
        problems.append(("transitions", f"{name!r} has more than one transition"))
    terminal = {*d.terminal.success, *d.terminal.failure, *d.terminal.compensated}
    for i, t in enumerate(d.transitions):
        if t.deadline <= timedelta(0):
            problems.append((f"transitions.{i}.deadline", "must be positive"))
        if t.source in terminal:
            problems.append((f"transitions.{i}.from", f"{t.source!r} is a terminal event"))
    if d.sla <= timedelta(0):
        problems.append(("sla", "must be positive"))
    if d.effective_from is not None and d.effective_from.tzinfo is None:
        problems.append(("effective_from", "must carry a UTC offset, e.g. 2026-01-01T00:00:00Z"))
    for i, c in enumerate(d.compensations):
        if c.within <= timedelta(0):
            problems.append((f"compensations.{i}.within", "must be positive"))
    named = {*d.start, *terminal, *sources, *(n for t in d.transitions for n in t.to)}
    for i, name in enumerate(d.forbidden):
        if name in named:
            problems.append((f"forbidden.{i}", f"{name!r} is a step of the flow"))
    return problems


def parse_definition(raw: object, path: str = "<definition>") -> FlowDefinition:
    """Validate one parsed definition; raise `DefinitionError` on the first problem."""
    flow = raw.get("flow_type") if isinstance(raw, Mapping) else None
    try:
        d = _Definition.model_validate(raw)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "<root>"
        raise DefinitionError(path, str(flow) if flow else None, field, err["msg"]) from exc
    for field, problem in _check_semantics(d):
        raise DefinitionError(path, d.flow_type, field, problem)
    return FlowDefinition(
        flow_type=d.flow_type,
        version=d.version,
        description=d.description,
        owner=d.owner,
        start=frozenset(d.start),
        success=frozenset(d.terminal.success),
        failure=frozenset(d.terminal.failure),
        compensated=frozenset(d.terminal.compensated),
        transitions=tuple(Transition(t.source, frozenset(t.to), t.deadline) for t in d.transitions),
        compensations=tuple(Compensation(c.after, c.on, c.expect, c.within)
                            for c in d.compensations),
        sla=d.sla,
        effective_from=d.effective_from,
        forbidden=frozenset(d.forbidden),
    )


def load_definitions(paths: Iterable[Path]) -> tuple[FlowDefinition, ...]:
    """Load every ``*.json`` definition under the given files or folders, sorted by flow type."""
    import json

    found: list[tuple[str, FlowDefinition]] = []
    for root in paths:
        files = sorted(root.glob("*.json")) if root.is_dir() else [root]
        for f in files:
            try:
                raw = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DefinitionError(str(f), None, "<file>", f"cannot read JSON: {exc}") from exc
            found.append((str(f), parse_definition(raw, str(f))))
    _check_versions(found)
    return tuple(sorted((d for _, d in found), key=lambda d: (d.flow_type, d.version)))


def _check_versions(found: list[tuple[str, FlowDefinition]]) -> None:
    """A (flow type, version) pair is defined once; a start event names one flow type."""
    seen: dict[tuple[str, int], str] = {}
    starts: dict[str, tuple[str, str]] = {}
    for path, d in found:
        other_file = seen.setdefault((d.flow_type, d.version), path)
        if other_file != path:
            raise DefinitionError(path, d.flow_type, "version",
                                  f"version {d.version} is also defined in {other_file}")
        for name in sorted(d.start):
            flow, where = starts.setdefault(name, (d.flow_type, path))
            if flow != d.flow_type:
                raise DefinitionError(path, d.flow_type, "start",
                                      f"{name!r} already starts flow {flow!r} ({where})")
