"""The meta-schema check every schema passes before the registry accepts it.

Draft-07 and draft 2020-12 are accepted (``$schema`` names one of them; a schema without
``$schema`` is read as the configured default draft, draft-07 unless set: see
`catalog.drafts`). jsonschema-rs answers first, fast even for large schemas: the
meta-schema holds and the schema compiles for the hot path (so an invalid ``pattern`` is
refused). Only a refused schema goes through jsonschema, the reference, whose errors name the
offending keyword and its pointer; `check_schema` raises the first as `SchemaRejected`.

No check fetches anything: `check_schema` refuses a reference out of the document (and the
registered schemas it is told about) as `RemoteReference` first, and the compile check hands
jsonschema-rs a retriever that answers every other document with an empty schema.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
import jsonschema_rs

from catalog.drafts import DEFAULT, with_draft
from catalog.exceptions import SchemaRejected
from catalog.references import BASE_URI, check_references

__all__ = ["DRAFTS", "Problem", "check_schema", "iter_problems"]

DRAFTS: dict[str, type[Any]] = {
    "http://json-schema.org/draft-07/schema": jsonschema.Draft7Validator,
    "https://json-schema.org/draft/2020-12/schema": jsonschema.Draft202012Validator,
}
"""The accepted ``$schema`` URIs (a trailing ``#`` is ignored) and the reference validators."""

_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
     "dependentRequired", "dependencies"}
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a schema is not a valid schema of its draft."""

    keyword: str
    pointer: str
    message: str


def validator_class(schema: Any, default: str = DEFAULT) -> type[Any] | None:
    """The reference validator class for the schema's draft; None for an unsupported draft."""
    if not isinstance(schema, dict):
        return DRAFTS[with_draft({}, default)["$schema"].rstrip("#")]
    uri = with_draft(schema, default)["$schema"]
    return DRAFTS.get(uri.rstrip("#")) if isinstance(uri, str) else None


def iter_problems(schema: Any, default: str = DEFAULT) -> Iterator[Problem]:
    """Every meta-schema violation of ``schema``, most relevant first."""
    schema = with_draft(schema, default)
    cls = validator_class(schema)
    if cls is None:
        yield Problem("$schema", "/$schema", f"unsupported draft {schema['$schema']!r}: use "
                      "draft-07 or 2020-12 (" + ", ".join(DRAFTS) + ")")
        return
    if _compiles(schema):
        return  # the compiled meta-schema check agrees; the reference is only needed to explain
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    try:
        errors = sorted(meta.iter_errors(schema), key=jsonschema.exceptions.relevance)
    except RecursionError:
        yield Problem("", "", "schema nested too deeply to check")
        return
    for error in errors:
        path = list(error.absolute_path)
        yield Problem(_keyword(path, str(error.validator)), _pointer(path), error.message)
    if not errors:
        yield _compile_problem(schema)


def _compile_problem(schema: Any) -> Problem:
    """Why jsonschema-rs refuses a schema the reference accepts (e.g. a regex it cannot run)."""
    try:
        jsonschema_rs.validator_for(schema, base_uri=BASE_URI, retriever=_placeholder)
    except jsonschema_rs.ValidationError as exc:
        path = list(exc.instance_path)
        return Problem(_keyword(path, "$ref" if "$ref" in str(exc) else "$schema"),
                       _pointer(path), exc.message)
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        return Problem("$ref", "", str(exc))
    return Problem("$schema", "", "refused by the compiled validator")


def _compiles(schema: Any) -> bool:
    """jsonschema-rs's meta-schema check, and the schema compiles (its patterns are regexes)."""
    try:
        return bool(jsonschema_rs.meta.is_valid(schema)) and jsonschema_rs.validator_for(
            schema, base_uri=BASE_URI, retriever=_placeholder) is not None
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return False


def _placeholder(uri: str) -> dict[str, Any]:
    """Any other document, for the compile check: references are `check_references`' job."""
    return {}


def check_schema(schema: Any, source: str, default: str = DEFAULT, *,
                 known: Collection[str] | None = ()) -> None:
    """Raise `SchemaRejected` naming ``source`` and the keyword if ``schema`` is not valid.

    A reference out of the document and the ``known`` URIs (registered schemas') is refused as
    `RemoteReference`; ``known=None`` leaves references to the caller (a registry being loaded
    checks them once every schema is in).
    """
    if known is not None:
        check_references(schema, source, known)
    for problem in iter_problems(schema, default):
        raise SchemaRejected(source, problem.keyword, problem.pointer, problem.message)


def _keyword(path: list[Any], fallback: str) -> str:
    """The last schema keyword on the path (not a property name inside ``properties``)."""
    found = fallback
    for i, part in enumerate(path):
        if isinstance(part, str) and (i == 0 or path[i - 1] not in _MAPS):
            found = part
    return found


def _pointer(path: list[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
