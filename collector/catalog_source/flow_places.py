"""Where each event type sits in the declared flows, for the catalog's event pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from catalog.pages import FlowPlace
from collector.flows.definition import FlowDefinition, load_definitions
from collector.humanize import format_duration

__all__ = ["flow_places", "load_flow_places"]


def _places(d: FlowDefinition, name: str) -> list[str]:
    found = []
    if name in d.start:
        found.append("starts it")
    for t in d.transitions:
        if name in t.targets:
            found.append(f"after {t.source}, within {format_duration(t.deadline.total_seconds())}")
    if name in d.success:
        found.append("ends it (success)")
    if name in d.failure:
        found.append("ends it (failure)")
    if name in d.compensated:
        found.append("ends it (compensated)")
    for c in d.compensations:
        if name == c.expect:
            found.append(f"compensates {c.after} after {c.on}, within "
                         f"{format_duration(c.within.total_seconds())}")
    nxt = d.transition_from(name)
    if nxt is not None:
        found.append(f"then one of {', '.join(sorted(nxt.targets))} within "
                     f"{format_duration(nxt.deadline.total_seconds())}")
    return found or ["named in it"]


def flow_places(definitions: Iterable[FlowDefinition]) -> dict[str, list[FlowPlace]]:
    """Per event type, its place in each flow type that names it (newest definition wins)."""
    latest: dict[str, FlowDefinition] = {}
    for d in definitions:
        if d.flow_type not in latest or d.version > latest[d.flow_type].version:
            latest[d.flow_type] = d
    out: dict[str, list[FlowPlace]] = defaultdict(list)
    for flow_type in sorted(latest):
        d = latest[flow_type]
        for name in sorted(d.event_types):
            out[name].append(FlowPlace(flow_type, "; ".join(_places(d, name))))
    return dict(out)


def load_flow_places(schemas_dir: Path) -> dict[str, list[FlowPlace]]:
    folder = schemas_dir / "flows"
    return flow_places(load_definitions([folder])) if folder.is_dir() else {}
