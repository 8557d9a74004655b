"""A schema as a table of fields: one row per JSON Pointer the schema describes.

`schema_fields` walks one JSON Schema document (``properties``, array ``items`` as ``/*``,
``allOf``/``anyOf``/``oneOf`` branches and local ``$ref``s into ``$defs``) and gives each field
its pointer, type, whether it is required, its format and constraints, and its description.
`field_history` does it for every version of a subject and says in which version each field
first appeared (and the versions that carry it), which is what the catalog's event page shows
and what the catalog search's "which events carry ``customer_id``" reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Field", "FieldHistory", "field_history", "schema_fields"]

CONSTRAINTS = (
    "enum", "const", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
    "uniqueItems", "minProperties", "maxProperties", "additionalProperties",
)
MAX_DEPTH = 32
"""Nesting followed at most (a recursive ``$ref`` stops here rather than looping)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of one schema version."""

    pointer: str
    """``/order/items/*/sku``: ``*`` stands for every item of an array."""
    type: str
    required: bool
    format: str
    constraints: str
    description: str

    @property
    def name(self) -> str:
        """The last pointer token (``sku``), or ``*`` for array items."""
        return self.pointer.rsplit("/", 1)[-1]


def _escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _local(root: Mapping[str, Any], node: Any) -> Any:
    """Follow local ``#/...`` references (a remote one is left as it is: never fetched)."""
    seen: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return node
        seen.add(ref)
        target: Any = root
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or token not in target:
                return node
            target = target[token]
        node = {**{k: v for k, v in node.items() if k != "$ref"}, **target} if isinstance(
            target, Mapping) else target
    return node


def _type(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind:
        return str(kind)
    for key in ("anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list):
            kinds = [str(b.get("type")) for b in branches if isinstance(b, Mapping)
                     and b.get("type")]
            if kinds:
                return " | ".join(dict.fromkeys(kinds))
    if "enum" in node or "const" in node:
        return "enum"
    return "any"


def _short(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if isinstance(value, bool):
        text = str(value).lower()
    return text if len(text) <= 80 else text[:77] + "..."


def _constraints(node: Mapping[str, Any]) -> str:
    return "; ".join(f"{k} {_short(node[k])}" for k in CONSTRAINTS
                     if k in node and not isinstance(node[k], Mapping))


def _walk(root: Mapping[str, Any], node: Any, pointer: str, required: bool,
          depth: int) -> Iterator[Field]:
    node = _local(root, node)
    if not isinstance(node, Mapping) or depth > MAX_DEPTH:
        return
    if pointer:
        yield Field(pointer, _type(node), required, str(node.get("format", "")),
                    _constraints(node), str(node.get("description", "")))
    needed = set(node.get("required") or ()) if isinstance(node.get("required"), list) else set()
    props = node.get("properties")
    if isinstance(props, Mapping):
        for name, child in props.items():
            yield from _walk(root, child, f"{pointer}/{_escape_token(str(name))}",
                             name in needed, depth + 1)
    items = node.get("items")
    if isinstance(items, Mapping):
        yield from _walk(root, items, f"{pointer}/*", False, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        branches = node.get(key)
        if isinstance(branches, list):
            for branch in branches:
                branch = _local(root, branch)
                if isinstance(branch, Mapping):
                    # a branch's own fields; the branch itself is not a field
                    yield from (f for f in _walk(root, {**branch, "description": ""}, pointer,
                                                 required, depth + 1) if f.pointer != pointer)


def schema_fields(schema: Mapping[str, Any]) -> list[Field]:
    """Every field a schema describes, in document order, each pointer once."""
    seen: dict[str, Field] = {}
    for f in _walk(schema, schema, "", True, 0):
        seen.setdefault(f.pointer, f)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class FieldHistory:
    """A field across the versions of a subject, as of one version."""

    field: Field
    since: int
    """The first version that has this pointer."""
    versions: tuple[int, ...]
    """Every version that has it."""


def field_history(versions: Iterable[tuple[int, Mapping[str, Any]]]
                  ) -> dict[int, list[FieldHistory]]:
    """Per version (ascending), its fields, each with the version it appeared in and the
    versions that carry it."""
    tables = {number: schema_fields(schema) for number, schema in sorted(versions,
                                                                         key=lambda v: v[0])}
    carried: dict[str, list[int]] = {}
    for number, fields in tables.items():
        for f in fields:
            carried.setdefault(f.pointer, []).append(number)
    return {number: [FieldHistory(f, carried[f.pointer][0], tuple(carried[f.pointer]))
                     for f in fields]
            for number, fields in tables.items()}
