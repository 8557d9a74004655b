"""The comparison engine: walks an old and a new schema together and runs the rules table.

Each side is a `Node`: the schema value at that point plus the ``referencing`` resolver of its
document, so local ``$ref`` (``#/$defs/...``, ``#/definitions/...``, ``#anchor``) resolves the way
the validators resolve it. Cost is bounded three ways: results are memoised per pair of schema
objects, a pair already being compared on the current path counts as compatible (recursive
``$ref``), and every comparison step is counted against a budget (`TooComplex` past it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import referencing
import referencing.exceptions
import referencing.jsonschema

from catalog.changes import ChangeType
from catalog.drafts import DEFAULT, DRAFT_07, uri_of
from catalog.exceptions import SchemaRejected, TooComplex
from catalog.references import BASE_URI, resolve, without_fragment

__all__ = [
    "ANNOTATIONS", "Differ", "Node", "Path", "Prelude", "RawChange", "Rule", "is_empty", "merge",
    "node_of",
]

Path = tuple[str | int, ...]
RawChange = tuple[ChangeType, Path]
"""A change type and the path (relative to the pair being compared) where it happened."""

ANNOTATIONS = frozenset(
    {
        "$schema", "$id", "id", "$anchor", "$comment", "$defs", "definitions", "title",
        "description", "default", "examples", "readOnly", "writeOnly", "deprecated",
        "$vocabulary", "$dynamicAnchor",
    }
)
"""Keywords that assert nothing about an instance (``x-*`` extensions are treated alike)."""

_MAX_REF_CHAIN = 64


@dataclass(frozen=True, slots=True)
class Node:
    """A schema value (dict or bool) and the resolver of the document it belongs to."""

    schema: Any
    resolver: Any
    """A ``referencing.Resolver`` for the document's ``$ref``s."""

    def at(self, *keys: str | int) -> Node:
        value: Any = self.schema
        for key in keys:
            value = value[key]
        return Node(value, self.resolver)

    def get(self, key: str) -> Any:
        return self.schema.get(key) if isinstance(self.schema, dict) else None

    def has(self, key: str) -> bool:
        return isinstance(self.schema, dict) and key in self.schema


Rule = Callable[["Differ", Node, Node], Iterator[RawChange]]
Prelude = Callable[["Differ", Node, Node], tuple[Node, Node, "list[RawChange] | None"]]
"""Reshapes a pair before the rules run; a list of changes instead settles the pair."""


def node_of(schema: Any, draft: str = DEFAULT, others: Iterable[Any] = ()) -> Node:
    """The root node of a schema document (its own ``$schema`` picks the draft, else ``draft``);
    its ``$ref`` resolve within it and to the ``others`` (registered schemas) by their ``$id``."""
    spec = (referencing.jsonschema.DRAFT7 if uri_of(draft) == DRAFT_07
            else referencing.jsonschema.DRAFT202012)
    resource = referencing.Resource.from_contents(schema, default_specification=spec)
    uri = resource.id() or ""
    registry: referencing.Registry[Any] = referencing.Registry()
    if others and _leaves_document(schema):  # indexing every registered schema costs ~4 ms
        registry = registry.with_resources(_by_id(others, spec))
    registry = registry.with_resource(uri, resource)
    return Node(schema, registry.resolver(base_uri=uri))


def _leaves_document(schema: Any, depth: int = 0) -> bool:
    """Whether any ``$ref``/``$dynamicRef`` in ``schema`` is not a ``#...`` fragment (a nested
    ``$id`` counts too: a fragment under it may name another document)."""
    if depth > 200:
        return True
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                if not value.startswith("#"):
                    return True
            elif (key == "$id" and depth > 0) or (
                    isinstance(value, (dict, list)) and _leaves_document(value, depth + 1)):
                return True
        return False
    if isinstance(schema, list):
        return any(_leaves_document(v, depth + 1) for v in schema)
    return False


def _by_id(schemas: Iterable[Any], spec: Any) -> Iterator[tuple[str, Any]]:
    """Each schema with an ``$id`` under every name ``referencing`` may look it up by: the id as
    written and resolved (`catalog.references`); for an id relative to no base, also as the
    relative path, since ``urljoin`` does not resolve against ``json-schema:///``."""
    for schema in schemas:
        given = schema.get("$id") if isinstance(schema, dict) else None
        if not isinstance(given, str) or given.startswith("#"):
            continue
        resource = referencing.Resource.from_contents(schema, default_specification=spec)
        full = without_fragment(resolve(BASE_URI, given))
        names = {without_fragment(given), full}
        if full.startswith(BASE_URI):
            names |= {full[len(BASE_URI):], "/" + full[len(BASE_URI):]}
        yield from ((name, resource) for name in names)


def is_empty(schema: Any) -> bool:
    """True for a schema that accepts everything: ``true`` or only annotations."""
    if schema is True:
        return True
    return isinstance(schema, dict) and all(
        k in ANNOTATIONS or k.startswith("x-") for k in schema
    )


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any] | None:
    """Conjoin two schema objects when no keyword clashes, else None."""
    out = dict(base)
    for key, value in extra.items():
        if key in ANNOTATIONS or key.startswith("x-"):
            out.setdefault(key, value)
        elif key not in out or out[key] == value:
            out[key] = value
        elif key == "required":
            out[key] = [*out[key], *(v for v in value if v not in out[key])]
        elif key == "properties" and all(
            out[key].get(k, v) == v for k, v in value.items()
        ):
            out[key] = {**out[key], **value}
        else:
            return None
    return out


class Differ:
    """One comparison: the accepted change types, the budget, the memo and the recursion guard."""

    def __init__(
        self,
        rules: Iterable[Rule],
        prelude: Prelude,
        accepted: frozenset[ChangeType],
        budget: int,
    ) -> None:
        self.rules = tuple(rules)
        self.prelude = prelude
        self.accepted = accepted
        self.budget = budget
        self.steps = 0
        self._memo: dict[tuple[int, int], tuple[Any, Any, list[RawChange]]] = {}
        self._active: set[tuple[int, int]] = set()
        self.cache: dict[tuple[str, int], tuple[Any, Any]] = {}
        """Per-schema-object results of helpers (kept with the object, so ids stay unique)."""

    def tick(self) -> None:
        """Count one step of work; past the budget, give up with `TooComplex`."""
        self.steps += 1
        if self.steps > self.budget:
            raise TooComplex(self.steps, "")

    def compare(self, old: Node, new: Node, at: Path = ()) -> Iterator[RawChange]:
        """Every change from ``old`` to ``new``, with paths prefixed by ``at``."""
        for kind, path in self._compare(self.deref(old), self.deref(new)):
            yield kind, at + path

    def compatible(self, old: Node, new: Node) -> bool:
        """Whether every change from ``old`` to ``new`` is accepted (backward direction)."""
        return all(kind in self.accepted for kind, _ in self.compare(old, new))

    def sub(self, old: Node, new: Node, key: str) -> Iterator[RawChange]:
        """Compare the sub-schemas under ``key``; one side missing is SCHEMA_ADDED/REMOVED."""
        if not old.has(key) and not new.has(key):
            return
        if not old.has(key):
            yield ChangeType.SCHEMA_ADDED, (key,)
        elif not new.has(key):
            yield ChangeType.SCHEMA_REMOVED, (key,)
        else:
            yield from self.compare(old.at(key), new.at(key), (key,))

    def deref(self, node: Node) -> Node:
        """Follow ``$ref`` (keeping sibling keywords) until a schema without one."""
        for _ in range(_MAX_REF_CHAIN):
            schema = node.schema
            if not isinstance(schema, dict) or not isinstance(schema.get("$ref"), str):
                return node
            try:
                resolved = node.resolver.lookup(schema["$ref"])
            except referencing.exceptions.Unresolvable as exc:
                raise SchemaRejected(
                    "<compare>", "$ref", "", f"cannot resolve {schema['$ref']!r}: only "
                    "references inside the schema document and to registered schemas are supported"
                ) from exc
            siblings = {k: v for k, v in schema.items()
                        if k != "$ref" and k not in ANNOTATIONS and not k.startswith("x-")}
            target = resolved.contents
            if siblings and isinstance(target, dict):
                target = merge(target, siblings) or target
            node = Node(target, resolved.resolver)
        raise TooComplex(self.steps, "$ref")

    def _compare(self, old: Node, new: Node) -> list[RawChange]:
        self.tick()
        key = (id(old.schema), id(new.schema))
        if key in self._memo:
            return self._memo[key][2]
        if key in self._active:
            return []  # a recursive $ref pair already being compared: assume compatible
        self._active.add(key)
        try:
            result = list(self._run(old, new))
        finally:
            self._active.discard(key)
        self._memo[key] = (old.schema, new.schema, result)
        return result

    def _run(self, old: Node, new: Node) -> Iterator[RawChange]:
        if old.schema == new.schema and not _has_ref(old.schema):
            return
        old, new = _as_object(old), _as_object(new)
        if old.schema == {"not": {}}:
            yield ChangeType.TYPE_EXTENDED, ()
            return
        if new.schema == {"not": {}}:
            yield ChangeType.TYPE_NARROWED, ()
            return
        old, new, settled = self.prelude(self, old, new)
        if settled is not None:
            yield from settled
            return
        for rule in self.rules:
            stop = False
            for change in rule(self, old, new):
                yield change
                stop = stop or (change[0] is ChangeType.TYPE_CHANGED and change[1] == ())
            if stop:
                return


def _as_object(node: Node) -> Node:
    if node.schema is True:
        return Node({}, node.resolver)
    if node.schema is False:
        return Node({"not": {}}, node.resolver)
    return node


def _has_ref(schema: Any, depth: int = 0) -> bool:
    if depth > 64:
        return True
    if isinstance(schema, dict):
        return "$ref" in schema or any(_has_ref(v, depth + 1) for v in schema.values())
    if isinstance(schema, list):
        return any(_has_ref(v, depth + 1) for v in schema)
    return False
