"""Compatibility rules for objects: properties under open, closed and partially open models.

A content model is **open** when any extra property is allowed, **closed** when none is
(``additionalProperties: false`` or ``unevaluatedProperties: false``), and **partially open**
when extra properties are allowed but constrained (an ``additionalProperties`` schema or
``patternProperties``). Whether a property added or removed is "covered" by a partially open
model is decided by comparing it with the schema the model gives that name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from catalog._diff import Differ, Node, RawChange, is_empty
from catalog._rules import limits
from catalog.changes import ChangeType as T

__all__ = [
    "dependencies",
    "extra_properties",
    "object_limits",
    "pattern_properties",
    "properties",
    "property_names",
    "required",
]

_OPEN, _CLOSED, _PARTIAL = "open", "closed", "partial"


def _openness(value: Any) -> str:
    if value is None or value is True or (isinstance(value, dict) and is_empty(value)):
        return _OPEN
    return _CLOSED if value is False else _PARTIAL


def _extra_keyword(node: Node) -> str:
    """The keyword that decides undeclared properties: ``additionalProperties``, or
    ``unevaluatedProperties`` when only it is given (it closes or constrains the same way)."""
    if not node.has("additionalProperties") and node.has("unevaluatedProperties"):
        return "unevaluatedProperties"
    return "additionalProperties"


def content_model(node: Node) -> str:
    if node.get("unevaluatedProperties") is False and node.get("additionalProperties") is None:
        return _PARTIAL if node.get("patternProperties") else _CLOSED
    extra = _openness(node.get(_extra_keyword(node)))
    return _PARTIAL if node.get("patternProperties") else extra


def _schema_for_name(node: Node, name: str) -> Node:
    """The schema a partially open model gives an undeclared property called ``name``."""
    for pattern in node.get("patternProperties") or {}:
        try:
            if re.search(pattern, name):
                return node.at("patternProperties", pattern)
        except re.error:
            continue
    kw = _extra_keyword(node)
    if node.has(kw):
        return node.at(kw)
    return Node(True, node.resolver)


def _has_default(d: Differ, node: Node, name: str) -> bool:
    props = node.get("properties") or {}
    if name not in props:
        return False
    target = d.deref(node.at("properties", name)).schema
    return isinstance(target, dict) and "default" in target


def _added(d: Differ, old: Node, new: Node, name: str) -> list[T]:
    """How a property new in ``new`` is classified; a partially open model gives two types,
    whether its old schema covers the property and whether it is required (as the reference)."""
    model = content_model(old)
    req = name in (new.get("required") or ())
    default = _has_default(d, new, name)
    if model == _OPEN:
        if req:  # deliberate: old documents may lack it, whatever its schema (docs/REGISTRY.md)
            return [T.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL if default
                    else T.REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL]
        if is_empty(d.deref(new.at("properties", name)).schema):
            return [T.PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL]
        return [T.OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL]
    out = []
    if model == _PARTIAL:
        covered = d.compatible(_schema_for_name(old, name), new.at("properties", name))
        out.append(T.PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL if covered
                   else T.PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL)
    if req:
        out.append(T.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL if default
                   else T.REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL)
    else:
        out.append(T.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL)
    return out


def _removed(d: Differ, old: Node, new: Node, name: str) -> T:
    model = content_model(new)
    if model == _OPEN:
        return T.PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    if model == _PARTIAL:
        covered = d.compatible(old.at("properties", name), _schema_for_name(new, name))
        return (T.PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL if covered
                else T.PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL)
    if d.deref(old.at("properties", name)).schema is False:
        return T.PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
    return T.PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL


def properties(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """Each property compared, added or removed, classified by the content model."""
    o, n = old.get("properties") or {}, new.get("properties") or {}
    for name in [*o, *(k for k in n if k not in o)]:
        path = ("properties", name)
        if name in o and name in n:
            yield from d.compare(old.at(*path), new.at(*path), path)
        elif name in n:
            for kind in _added(d, old, new, name):
                yield kind, path
        else:
            yield _removed(d, old, new, name), path


def required(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """A required name removed is compatible; added, only when the property has a default.

    Only properties that both versions declare count here, as in the reference registry: a
    property added or removed is judged by its content model (``REQUIRED_PROPERTY_ADDED_*``),
    and a name that ``properties`` does not define is not an added required property.
    """
    o, n = old.get("required") or [], new.get("required") or []
    declared_n = new.get("properties") or {}
    both = [name for name in old.get("properties") or {} if name in declared_n]
    for name in o:
        if name not in n:
            yield T.REQUIRED_ATTRIBUTE_REMOVED, ("required", name)
    for name in n:
        if name not in o and name in both:
            kind = (T.REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED if _has_default(d, new, name)
                    else T.REQUIRED_ATTRIBUTE_ADDED)
            yield kind, ("required", name)


def extra(d: Differ, old: Node, new: Node, kw: str, stem: str) -> Iterator[RawChange]:
    """additionalProperties-like keywords: allowed or not, then narrowed, extended or compared."""
    o, n = _openness(old.get(kw)), _openness(new.get(kw))
    if o == n == _OPEN:
        return
    if (o == _CLOSED) != (n == _CLOSED):
        yield T(f"{stem}_{'ADDED' if o == _CLOSED else 'REMOVED'}"), (kw,)
    elif o == _OPEN:
        yield T(f"{stem}_NARROWED"), (kw,)
    elif n == _OPEN:
        yield T(f"{stem}_EXTENDED"), (kw,)
    elif o == _PARTIAL:
        yield from d.compare(old.at(kw), new.at(kw), (kw,))


def extra_properties(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    yield from extra(d, old, new, "additionalProperties", "ADDITIONAL_PROPERTIES")
    yield from extra(d, old, new, "unevaluatedProperties", "UNEVALUATED_PROPERTIES")


def pattern_properties(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """A pattern added narrows an open model; it widens a closed one, and a partially open one
    whose old schema for such names covers the pattern's. Removed widens unless the model
    becomes closed for it."""
    o, n = old.get("patternProperties") or {}, new.get("patternProperties") or {}
    for pattern in [*o, *(p for p in n if p not in o)]:
        path = ("patternProperties", pattern)
        if pattern in o and pattern in n:
            yield from d.compare(old.at(*path), new.at(*path), path)
        elif pattern in n:
            yield _pattern_added(d, old, new.at(*path)), path
        elif new.get(_extra_keyword(new)) is False:
            yield T.PATTERN_PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL, path
        else:
            yield T.PATTERN_PROPERTY_REMOVED, path


def _pattern_added(d: Differ, old: Node, schema: Node) -> T:
    extra = old.get(_extra_keyword(old))
    if extra is False:
        return T.PATTERN_PROPERTY_ADDED_TO_CLOSED_CONTENT_MODEL
    if _openness(extra) == _PARTIAL and d.compatible(old.at(_extra_keyword(old)), schema):
        return T.PATTERN_PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    return T.PATTERN_PROPERTY_ADDED


def property_names(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    yield from d.sub(old, new, "propertyNames")


def _dependencies(node: Node) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """Array and schema dependencies, each name mapped to the path of its value."""
    arrays: dict[str, tuple[str, ...]] = {}
    schemas: dict[str, tuple[str, ...]] = {}
    for kw in ("dependencies", "dependentRequired", "dependentSchemas"):
        for name, value in (node.get(kw) or {}).items():
            (arrays if isinstance(value, list) else schemas)[name] = (kw, name)
    return arrays, schemas


def dependencies(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """Dependent-required arrays and dependent schemas (draft-07 and 2020-12 spellings)."""
    oa, os_ = _dependencies(old)
    na, ns = _dependencies(new)
    for name in [*oa, *(k for k in na if k not in oa)]:
        if name not in na:
            yield T.DEPENDENCY_ARRAY_REMOVED, oa[name]
        elif name not in oa:
            yield T.DEPENDENCY_ARRAY_ADDED, na[name]
        else:
            o, n = set(old.at(*oa[name]).schema), set(new.at(*na[name]).schema)
            if o != n:
                kind = (T.DEPENDENCY_ARRAY_NARROWED if n < o else
                        T.DEPENDENCY_ARRAY_EXTENDED if n > o else T.DEPENDENCY_ARRAY_CHANGED)
                yield kind, na[name]
    for name in [*os_, *(k for k in ns if k not in os_)]:
        if name not in ns:
            yield T.DEPENDENCY_SCHEMA_REMOVED, os_[name]
        elif name not in os_:
            yield T.DEPENDENCY_SCHEMA_ADDED, ns[name]
        else:
            yield from d.compare(old.at(*os_[name]), new.at(*ns[name]), ns[name])


def object_limits(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    yield from limits(old, new, (("maxProperties", "MAX_PROPERTIES"),
                                 ("minProperties", "MIN_PROPERTIES")))
