"""A proposed schema checked against real traffic: which stored payloads it would reject.

A schema-to-schema check says what could break; this says what would have broken. The caller
reads recent payloads of an event type (the CLI reads the store) and passes them here as
`Sample` values; the answer counts rejections per producer, with the failing paths (array
indices folded to ``*``, so ``/lines/3/sku`` and ``/lines/0/sku`` count together) and a few
examples each.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from catalog.metaschema import check_schema
from catalog.validation import Finding, compile_schema, findings_of

__all__ = ["Backtest", "Example", "ProducerResult", "Sample", "backtest"]

_INDEX = re.compile(r"/\d+(?=/|$)")


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored payload: who produced it, when, and the payload itself."""

    producer: str
    data: Any
    occurred_at: str | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """A rejected payload: where it came from and why."""

    event_id: str | None
    occurred_at: str | None
    findings: tuple[Finding, ...]


@dataclass(slots=True)
class ProducerResult:
    """Rejections of one producer's payloads."""

    producer: str
    checked: int = 0
    rejected: int = 0
    paths: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(path with indices folded, keyword) -> how many payloads failed there."""
    examples: list[Example] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "producer": self.producer,
            "checked": self.checked,
            "rejected": self.rejected,
            "paths": [{"path": p, "keyword": k, "count": n}
                      for (p, k), n in self.paths.most_common()],
            "examples": [
                {"event_id": e.event_id, "occurred_at": e.occurred_at,
                 "findings": [{"pointer": f.pointer, "keyword": f.keyword, "message": f.message}
                              for f in e.findings]}
                for e in self.examples
            ],
        }


@dataclass(frozen=True, slots=True)
class Backtest:
    """The outcome over every sample: totals and one result per producer (most rejected first)."""

    checked: int
    rejected: int
    producers: tuple[ProducerResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "rejected": self.rejected,
                "producers": [p.to_json() for p in self.producers]}


def fold_indices(pointer: str) -> str:
    """``/lines/3/sku`` -> ``/lines/*/sku``."""
    return _INDEX.sub("/*", pointer)


def backtest(
    schema: Any, samples: Iterable[Sample], *, examples: int = 3, source: str = "<proposed>"
) -> Backtest:
    """Validate every sample against ``schema`` (meta-schema checked first)."""
    check_schema(schema, source)
    compiled = compile_schema(schema)
    results: dict[str, ProducerResult] = {}
    for sample in samples:
        result = results.setdefault(sample.producer, ProducerResult(sample.producer))
        result.checked += 1
        found = findings_of(compiled, sample.data)
        if not found:
            continue
        result.rejected += 1
        result.paths.update({(fold_indices(f.pointer), f.keyword) for f in found})
        if len(result.examples) < examples:
            result.examples.append(Example(sample.event_id, sample.occurred_at, tuple(found)))
    ordered = sorted(results.values(), key=lambda r: (-r.rejected, r.producer))
    return Backtest(sum(r.checked for r in ordered), sum(r.rejected for r in ordered),
                    tuple(ordered))
