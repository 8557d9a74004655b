"""Drift: payloads of registered types that stray from their schema, per producer.

Two kinds are reported: **undeclared** fields (present in payloads, declared nowhere in the
schema: not in ``properties`` of the object or of any branch, not matched by
``patternProperties``, not covered by an ``additionalProperties`` schema) and **type** drift (a
value whose JSON type the schema does not declare there). Paths fold array indices to ``*``.
This is about documentation, not validity: an open schema accepts undeclared fields, and the
validator already reports violations; drift says where the contract no longer describes traffic.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from catalog._diff import Node, node_of
from catalog._rules import type_set
from catalog.backtest import Sample, fold_indices

__all__ = ["DriftItem", "ProducerDrift", "drift", "json_type"]

_MAX_ITEMS = 50
_MAX_DEPTH = 32


@dataclass(frozen=True, slots=True)
class DriftItem:
    """One kind of drift at one path, with how many payloads showed it."""

    kind: str
    """``undeclared`` or ``type``."""
    path: str
    declared: str | None
    """The declared types (``"integer|null"``) for type drift; None for undeclared fields."""
    seen: str
    """The JSON type seen in the payloads."""
    count: int


@dataclass(frozen=True, slots=True)
class ProducerDrift:
    producer: str
    samples: int
    items: tuple[DriftItem, ...]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def drift(
    schema: Any, samples: Iterable[Sample], others: Sequence[Any] = ()
) -> list[ProducerDrift]:
    """Drift of each producer's payloads from ``schema`` (producers without drift included);
    its references resolve within it and to ``others`` (the registered schemas)."""
    root = node_of(schema, others=others)
    counts: dict[str, Counter[tuple[str, str, str | None, str]]] = {}
    totals: Counter[str] = Counter()
    for sample in samples:
        totals[sample.producer] += 1
        found = counts.setdefault(sample.producer, Counter())
        found.update(set(_walk(root, sample.data, "", 0)))
    return [
        ProducerDrift(producer, totals[producer], tuple(
            DriftItem(kind, path, declared, seen, n)
            for (kind, path, declared, seen), n in sorted(counts[producer].items())))
        for producer in sorted(totals)
    ]


def _deref(node: Node) -> Node:
    for _ in range(_MAX_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        resolved = node.resolver.lookup(ref)
        node = Node(resolved.contents, resolved.resolver)
    return node


def _parts(node: Node, depth: int = 0) -> list[Node]:
    """The node and every sub-schema that applies alongside it (allOf, anyOf, oneOf)."""
    node = _deref(node)
    out = [node]
    if depth < 4 and isinstance(node.schema, dict):
        for kw in ("allOf", "anyOf", "oneOf"):
            for i in range(len(node.get(kw) or ())):
                out.extend(_parts(node.at(kw, i), depth + 1))
    return out


def _declared_types(parts: list[Node]) -> frozenset[str] | None:
    found = [type_set(p.schema) for p in parts]
    known = [t for t in found if t is not None]
    return frozenset().union(*known) if known else None


def _walk(node: Node, value: Any, path: str, depth: int) -> Iterator[tuple[str, str, str | None,
                                                                         str]]:
    parts = [p for p in _parts(node) if isinstance(p.schema, dict)]
    if depth > _MAX_DEPTH or not parts:
        return
    declared = _declared_types(parts)
    seen = json_type(value)
    if declared is not None and seen not in declared and not (
        seen == "integer" and "number" in declared
    ):
        yield "type", fold_indices(path), "|".join(sorted(declared)), seen
        return
    if isinstance(value, dict):
        yield from _walk_object(parts, value, path, depth)
    elif isinstance(value, list):
        yield from _walk_array(parts, value, path, depth)


def _walk_object(parts: list[Node], value: dict[str, Any], path: str,
                 depth: int) -> Iterator[tuple[str, str, str | None, str]]:
    if not any(p.has("properties") or p.has("additionalProperties") for p in parts):
        return  # the schema says nothing about this object's fields
    for key, item in value.items():
        child = _child(parts, key)
        pointer = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
        if child is None:
            yield "undeclared", fold_indices(pointer), None, json_type(item)
        else:
            yield from _walk(child, item, pointer, depth + 1)


def _child(parts: list[Node], key: str) -> Node | None:
    for p in parts:
        if key in (p.get("properties") or {}):
            return p.at("properties", key)
    for p in parts:
        for pattern in p.get("patternProperties") or {}:
            if re.search(pattern, key):
                return p.at("patternProperties", pattern)
    for p in parts:
        extra = p.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return p.at("additionalProperties")
    return None


def _walk_array(parts: list[Node], value: list[Any], path: str,
                depth: int) -> Iterator[tuple[str, str, str | None, str]]:
    for p in parts:
        prefix = p.get("prefixItems") or (p.get("items") if isinstance(p.get("items"), list)
                                           else [])
        tuple_kw = "prefixItems" if p.has("prefixItems") else "items"
        for i, item in enumerate(value[:_MAX_ITEMS]):
            if i < len(prefix):
                yield from _walk(p.at(tuple_kw, i), item, f"{path}/{i}", depth + 1)
            elif isinstance(p.get("items"), dict):
                yield from _walk(p.at("items"), item, f"{path}/{i}", depth + 1)
