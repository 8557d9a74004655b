"""Where a schema's references lead: into the document itself, to a registered schema, or out.

Choreoscope resolves ``$ref`` and ``$dynamicRef`` only within the schema document and between
registered schemas; it never fetches a schema (a remote host could be slow, hostile or simply
not there). `iter_references` lists every reference, resolved (RFC 3986) against the ``$id``
in scope, and `check_references` raises `RemoteReference` for the first one that leads outside
the document and the ``known`` URIs, before any validator is built: no connection is attempted.

Registered schemas are known by their ``$id``, resolved against `BASE_URI` (the base
jsonschema-rs uses for a document without one), so ``"$id": "schemas/events/Money/v1"`` is
referenced as ``"../Money/v1"`` from ``schemas/events/Order/v1`` or by its full URI.
`resources_of` maps those URIs to the schemas, for the validators; `refuse` is the retriever the
validators get, so that even a reference this scan did not see never reaches the network.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from catalog.exceptions import RemoteReference

__all__ = [
    "BASE_URI",
    "Reference",
    "RemoteReference",
    "check_references",
    "document_uris",
    "iter_references",
    "refuse",
    "resolve",
    "resources_of",
    "without_fragment",
]

BASE_URI = "json-schema:///"
"""The base of a document without an absolute ``$id`` (jsonschema-rs's default base)."""

_BUNDLED = frozenset({
    "https://json-schema.org/draft/2020-12/schema",
    "http://json-schema.org/draft-07/schema",
})
"""Meta-schemas the validators carry with them: referencing one fetches nothing."""

_DATA = frozenset({"const", "enum", "default", "examples"})
"""Keywords whose values are instances, not schemas: a ``$ref`` in them is data."""

_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions",
                   "dependentSchemas", "dependencies"})
"""Keywords whose values map names to schemas (a property may be named ``const``)."""

_URI = re.compile(r"(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)"
                  r"(?:\?([^#]*))?(?:#(.*))?", re.DOTALL)
"""RFC 3986 appendix B: scheme, authority, path, query, fragment."""


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference: where it is written, as written, and the URI it resolves to."""

    pointer: str
    """JSON Pointer to the schema object holding it, e.g. ``/properties/total``."""
    keyword: str
    """``$ref`` or ``$dynamicRef``."""
    ref: str
    uri: str
    """Absolute, fragment included."""

    @property
    def resource(self) -> str:
        """The URI of the document it points into (no fragment)."""
        return without_fragment(self.uri)


def refuse(uri: str) -> NoReturn:
    """A validator's retriever that never retrieves."""
    raise RemoteReference("retriever", "", "$ref", uri, uri)


def without_fragment(uri: str) -> str:
    return uri.split("#", 1)[0]


def resolve(base: str, ref: str) -> str:
    """``ref`` resolved against the absolute URI ``base`` (RFC 3986 §5.2.2)."""
    b = _URI.fullmatch(base)
    r = _URI.fullmatch(ref)
    if b is None or r is None:  # pragma: no cover  (the pattern matches any string)
        raise ValueError(f"not a URI reference: {ref!r} against {base!r}")
    r_scheme, r_auth, r_path, r_query, r_frag = r.groups()
    b_scheme, b_auth, b_path, b_query, _ = b.groups()
    if r_scheme is not None:
        return _join(r_scheme, r_auth, _without_dots(r_path), r_query, r_frag)
    if r_auth is not None:
        return _join(b_scheme, r_auth, _without_dots(r_path), r_query, r_frag)
    if not r_path:
        return _join(b_scheme, b_auth, b_path, b_query if r_query is None else r_query, r_frag)
    if r_path.startswith("/"):
        return _join(b_scheme, b_auth, _without_dots(r_path), r_query, r_frag)
    if b_auth is not None and not b_path:
        merged = "/" + r_path
    else:
        merged = b_path[: b_path.rfind("/") + 1] + r_path
    return _join(b_scheme, b_auth, _without_dots(merged), r_query, r_frag)


def _join(scheme: str | None, auth: str | None, path: str, query: str | None,
          fragment: str | None) -> str:
    return ((f"{scheme}:" if scheme is not None else "") + (f"//{auth}" if auth is not None
            else "") + path + (f"?{query}" if query is not None else "")
            + (f"#{fragment}" if fragment is not None else ""))


def _without_dots(path: str) -> str:
    """RFC 3986 §5.2.4: ``/a/b/../c/./d`` -> ``/a/c/d``."""
    out: list[str] = []
    while path:
        if path.startswith(("../", "./")):
            path = path.partition("/")[2]
        elif path.startswith("/./") or path == "/.":
            path = "/" + path[3:]
        elif path.startswith("/../") or path == "/..":
            path = "/" + path[4:]
            if out:
                out.pop()
        elif path in (".", ".."):
            path = ""
        else:
            cut = path.find("/", 1)
            segment, path = (path, "") if cut == -1 else (path[:cut], path[cut:])
            out.append(segment)
    return "".join(out)


def _base_of(schema: Any, base: str) -> str:
    """The base URI inside ``schema``: its ``$id`` resolved (an ``#anchor`` id changes none)."""
    if isinstance(schema, dict):
        given = schema.get("$id")
        if isinstance(given, str) and not given.startswith("#"):
            return without_fragment(resolve(base, given))
    return base


def _schemas(schema: Any, base: str) -> Iterator[tuple[dict[str, Any], str, str]]:
    """Every schema object in ``schema`` with the base URI in scope there and its pointer."""
    stack: list[tuple[Any, str, str, bool]] = [(schema, base, "", False)]
    while stack:
        node, scope, pointer, is_map = stack.pop()
        if isinstance(node, list):
            stack.extend((v, scope, f"{pointer}/{i}", False) for i, v in enumerate(node))
        elif isinstance(node, dict) and is_map:
            stack.extend((v, scope, f"{pointer}/{_escape(str(k))}", False)
                         for k, v in node.items())
        elif isinstance(node, dict):
            scope = _base_of(node, scope)
            yield node, scope, pointer
            stack.extend((v, scope, f"{pointer}/{_escape(str(k))}", k in _MAPS)
                         for k, v in node.items() if k not in _DATA)


def iter_references(schema: Any, base: str = BASE_URI) -> Iterator[Reference]:
    """Every ``$ref`` and ``$dynamicRef`` in ``schema``, resolved against the ``$id`` in scope."""
    for node, scope, pointer in _schemas(schema, base):
        for key in ("$ref", "$dynamicRef"):
            if isinstance(node.get(key), str):
                yield Reference(pointer, key, node[key], resolve(scope, node[key]))


def document_uris(schema: Any, base: str = BASE_URI) -> set[str]:
    """The URIs of the resources inside ``schema``: its own and every embedded ``$id``'s."""
    return {_base_of(schema, base)} | {scope for _, scope, _ in _schemas(schema, base)}


def resources_of(schemas: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Schemas by the URI of their ``$id`` (a schema without one cannot be referenced), each
    with that URI as its ``$id``, so that a validator resolves its references as this module
    does (a relative ``$id`` leaves jsonschema-rs no base inside a registry)."""
    out: dict[str, Mapping[str, Any]] = {}
    for schema in schemas:
        given = schema.get("$id")
        if isinstance(given, str) and not given.startswith("#"):
            uri = _base_of(schema, BASE_URI)
            out[uri] = {**schema, "$id": uri}
    return out


def check_references(schema: Any, source: str, known: Collection[str] = ()) -> None:
    """Raise `RemoteReference` for the first reference out of ``schema`` and ``known`` URIs."""
    local = document_uris(schema)
    for reference in sorted(iter_references(schema), key=lambda r: r.pointer):
        resource = reference.resource
        if resource not in local and resource not in known and resource not in _BUNDLED:
            raise RemoteReference(source, reference.pointer, reference.keyword, reference.ref,
                                  reference.uri)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
