"""Compatibility rules for annotations, types, enums, strings, numbers, ``not`` and conditions.

Each rule is a small generator ``rule(differ, old, new)`` yielding ``(ChangeType, path)``; the
table that runs them is `catalog.compatibility.RULES`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from catalog._diff import Differ, Node, RawChange
from catalog.changes import ChangeType as T

__all__ = [
    "conditional",
    "enum",
    "meta",
    "multiple_of",
    "negation",
    "number_bounds",
    "string",
    "types",
]

def meta(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """``$id``, title, description and default: reported, never breaking."""
    for keys, kind in (
        (("$id", "id"), T.ID_CHANGED),
        (("title",), T.TITLE_CHANGED),
        (("description",), T.DESCRIPTION_CHANGED),
        (("default",), T.DEFAULT_CHANGED),
    ):
        o = [old.get(k) for k in keys if old.has(k)]
        n = [new.get(k) for k in keys if new.has(k)]
        if o != n:
            yield kind, (keys[0],)


def type_set(schema: Any) -> frozenset[str] | None:
    """The declared ``type`` as a set, or None when any type is allowed."""
    declared = schema.get("type") if isinstance(schema, dict) else None
    if declared is None:
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


def _covers(types: frozenset[str], name: str) -> bool:
    return name in types or (name == "integer" and "number" in types)


def types(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """``type`` widened, narrowed or changed; integer to number is a widening."""
    o, n = effective_types(d, old), effective_types(d, new)
    if o == n:
        return
    if n is None or (o is not None and all(_covers(n, t) for t in o)):
        yield T.TYPE_EXTENDED, ("type",)
    elif o is None or all(_covers(o, t) for t in n):
        yield T.TYPE_NARROWED, ("type",)
    elif any(_covers(n, t) for t in o) or any(_covers(o, t) for t in n):
        yield T.TYPE_CHANGED, ("type",)
    else:
        yield T.TYPE_CHANGED, ()  # disjoint: nothing else of the two is comparable


def effective_types(d: Differ, node: Node, depth: int = 0) -> frozenset[str] | None:
    """``type``, or for a schema without one, the union of its ``anyOf``/``oneOf`` branches."""
    declared = type_set(node.schema)
    if declared is not None or depth > 8 or not isinstance(node.schema, dict):
        return declared
    key = ("types", id(node.schema))
    if key in d.cache:
        return d.cache[key][1]  # type: ignore[no-any-return]
    d.tick()
    found: frozenset[str] | None = None
    for kw in ("anyOf", "oneOf"):
        branches = node.get(kw)
        if isinstance(branches, list) and branches:
            parts = [effective_types(d, d.deref(node.at(kw, i)), depth + 1)
                     for i in range(len(branches))]
            if all(t is not None for t in parts):
                found = frozenset().union(*(t for t in parts if t is not None))
                break
    d.cache[key] = (node.schema, found)
    return found


def _canonical(value: Any) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True)


def _enum_values(node: Node) -> frozenset[str] | None:
    if node.has("const"):
        return frozenset([_canonical(node.get("const"))])
    if isinstance(node.get("enum"), list):
        return frozenset(_canonical(v) for v in node.get("enum"))
    return None


def enum(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """``enum`` and ``const`` (a one-value enum) extended, narrowed or changed."""
    o, n = _enum_values(old), _enum_values(new)
    path = ("const",) if new.has("const") or (n is None and old.has("const")) else ("enum",)
    if o == n:
        return
    if n is None or (o is not None and o < n):
        yield T.ENUM_ARRAY_EXTENDED, path
    elif o is None or n < o:
        yield T.ENUM_ARRAY_NARROWED, path
    else:
        yield T.ENUM_ARRAY_CHANGED, path


def limits(old: Node, new: Node, spec: tuple[tuple[str, str], ...]) -> Iterator[RawChange]:
    """Numeric limits such as maxLength, given as (keyword, change-type stem)."""
    for kw, stem in spec:
        o, n = old.get(kw), new.get(kw)
        if o == n:
            continue
        if o is None or n is None:
            yield T(f"{stem}_{'ADDED' if o is None else 'REMOVED'}"), (kw,)
        else:
            yield T(f"{stem}_{'INCREASED' if n > o else 'DECREASED'}"), (kw,)


def _marker(old: Node, new: Node, kw: str, stem: str) -> Iterator[RawChange]:
    o, n = old.get(kw), new.get(kw)
    if o == n:
        return
    suffix = "ADDED" if o is None else "REMOVED" if n is None else "CHANGED"
    yield T(f"{stem}_{suffix}"), (kw,)


def string(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """maxLength, minLength, pattern, format, contentEncoding, contentMediaType."""
    yield from limits(old, new, (("maxLength", "MAX_LENGTH"), ("minLength", "MIN_LENGTH")))
    yield from _marker(old, new, "pattern", "PATTERN")
    yield from _marker(old, new, "format", "FORMAT")
    yield from _marker(old, new, "contentEncoding", "CONTENT_ENCODING")
    yield from _marker(old, new, "contentMediaType", "CONTENT_MEDIA_TYPE")


def _bound(node: Node, kw: str, exclusive_kw: str, lower: bool) -> tuple[Any, bool, str] | None:
    """The tightest bound of one side: (value, exclusive, keyword); draft-04 booleans included."""
    found: list[tuple[Any, bool, str]] = []
    value, excl = node.get(kw), node.get(exclusive_kw)
    if isinstance(value, int | float) and not isinstance(value, bool):
        found.append((value, excl is True, kw))
    if isinstance(excl, int | float) and not isinstance(excl, bool):
        found.append((excl, True, exclusive_kw))
    if not found:
        return None
    sign = 1 if lower else -1
    return max(found, key=lambda b: (sign * b[0], b[1]))


def number_bounds(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """minimum/exclusiveMinimum and maximum/exclusiveMaximum, compared as effective bounds."""
    for kw, ex, lower in (("minimum", "exclusiveMinimum", True),
                          ("maximum", "exclusiveMaximum", False)):
        o, n = _bound(old, kw, ex, lower), _bound(new, kw, ex, lower)
        if (o is None and n is None) or (o and n and o[:2] == n[:2]):
            continue
        if o is None:
            assert n is not None
            yield T(f"{_stem(n[2])}_ADDED"), (n[2],)
        elif n is None:
            yield T(f"{_stem(o[2])}_REMOVED"), (o[2],)
        else:
            looser = n[0] < o[0] or (n[0] == o[0] and o[1] and not n[1])
            if not lower:
                looser = n[0] > o[0] or (n[0] == o[0] and o[1] and not n[1])
            widen, narrow = ("DECREASED", "INCREASED") if lower else ("INCREASED", "DECREASED")
            yield T(f"{_stem(n[2])}_{widen if looser else narrow}"), (n[2],)


def _stem(keyword: str) -> str:
    return {"minimum": "MINIMUM", "maximum": "MAXIMUM", "exclusiveMinimum": "EXCLUSIVE_MINIMUM",
            "exclusiveMaximum": "EXCLUSIVE_MAXIMUM"}[keyword]


def multiple_of(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """multipleOf: a divisor of the old value is looser (REDUCED), a multiple narrower."""
    o, n = old.get("multipleOf"), new.get("multipleOf")
    if o == n:
        return
    if o is None or n is None:
        yield (T.MULTIPLE_OF_ADDED if o is None else T.MULTIPLE_OF_REMOVED), ("multipleOf",)
        return
    fo, fn = Fraction(str(o)), Fraction(str(n))
    if (fo / fn).denominator == 1:
        yield T.MULTIPLE_OF_REDUCED, ("multipleOf",)
    elif (fn / fo).denominator == 1:
        yield T.MULTIPLE_OF_EXPANDED, ("multipleOf",)
    else:
        yield T.MULTIPLE_OF_CHANGED, ("multipleOf",)


def negation(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """``not``: the excluded set shrinking is a widening (compared in reverse)."""
    if not old.has("not") and not new.has("not"):
        return
    if not new.has("not"):
        yield T.NOT_TYPE_NARROWED, ("not",)
    elif not old.has("not"):
        yield T.NOT_TYPE_EXTENDED, ("not",)
    else:
        reverse = list(d.compare(new.at("not"), old.at("not")))
        if reverse:
            ok = all(kind in d.accepted for kind, _ in reverse)
            yield (T.NOT_TYPE_NARROWED if ok else T.NOT_TYPE_EXTENDED), ("not",)


def conditional(d: Differ, old: Node, new: Node) -> Iterator[RawChange]:
    """``if`` must stay the same; ``then`` and ``else`` are compared as sub-schemas."""
    if not old.has("if") and not new.has("if"):
        return
    if _canonical(old.get("if")) != _canonical(new.get("if")):
        yield T.CONDITION_CHANGED, ("if",)
        return
    yield from d.sub(old, new, "then")
    yield from d.sub(old, new, "else")
