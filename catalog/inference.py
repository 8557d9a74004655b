"""Schema discovery: a JSON Schema inferred from sampled payloads, merged as more arrive.

Event types seen without a registered schema get a proposal the user can review and register
(``choreoscope schemas register``). Inference is genson's (a maintained inference library
whose builders merge schemas and samples); this module fixes the dialect (2020-12), names the
event type and records how many samples the proposal rests on (``x-samples``).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from typing import Any

from genson import SchemaBuilder

__all__ = ["DIALECT", "infer_schema", "propose_undocumented"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_OURS = ("$schema", "title", "description", "x-samples", "x-inferred")


def infer_schema(
    payloads: Iterable[Any],
    *,
    event_type: str | None = None,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A schema accepting every payload (and everything ``previous`` accepted).

    ``previous`` is an earlier proposal: passing it merges the new samples into it, so a
    proposal can grow as traffic arrives without keeping the payloads.
    """
    builder = SchemaBuilder(schema_uri=DIALECT)
    count = 0
    if previous is not None:
        builder.add_schema({k: v for k, v in previous.items() if k not in _OURS})
        count = int(previous.get("x-samples", 0))
    for payload in payloads:
        builder.add_object(payload)
        count += 1
    schema: dict[str, Any] = builder.to_schema()
    schema["$schema"] = DIALECT
    head: dict[str, Any] = {"$schema": DIALECT}
    if event_type is not None:
        head["title"] = event_type
        head["description"] = f"Inferred from {count} observed payloads of {event_type}; review."
    head["x-inferred"] = True
    head["x-samples"] = count
    return {**head, **{k: v for k, v in schema.items() if k not in head}}


def propose_undocumented(
    samples: Iterable[tuple[str, Any]],
    registered: Container[str],
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """A proposal per event type seen in ``samples`` ((type, payload) pairs) but not registered.

    ``previous`` holds earlier proposals by type; new samples are merged into them.
    """
    by_type: dict[str, list[Any]] = {}
    for event_type, payload in samples:
        if event_type not in registered:
            by_type.setdefault(event_type, []).append(payload)
    earlier = previous or {}
    return {t: infer_schema(p, event_type=t, previous=earlier.get(t))
            for t, p in sorted(by_type.items())}
