"""The meta-schema check every schema passes before the registry accepts it.

Draft-07 and draft 2020-12 are accepted (``$schema`` names one of them; a schema without
``$schema`` is read as 2020-12). jsonschema is the reference here: its validator for the draft
checks the schema against the draft's meta-schema, formats included (an invalid ``pattern``
regex is refused). Problems come back as values naming the offending keyword and its pointer;
`check_schema` raises the first one as `SchemaRejected`, naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators

from catalog.exceptions import SchemaRejected

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


def validator_class(schema: Any) -> type[Any] | None:
    """The reference validator class for the schema's draft; None for an unsupported draft."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return jsonschema.Draft202012Validator
    uri = schema["$schema"]
    return DRAFTS.get(uri.rstrip("#")) if isinstance(uri, str) else None


def iter_problems(schema: Any) -> Iterator[Problem]:
    """Every meta-schema violation of ``schema``, most relevant first."""
    cls = validator_class(schema)
    if cls is None:
        yield Problem("$schema", "/$schema", f"unsupported draft {schema['$schema']!r}: use "
                      "draft-07 or 2020-12 (" + ", ".join(DRAFTS) + ")")
        return
    meta = cls(cls.META_SCHEMA, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(meta.iter_errors(schema), key=jsonschema.exceptions.relevance)
    for error in errors:
        path = list(error.absolute_path)
        yield Problem(_keyword(path, str(error.validator)), _pointer(path), error.message)


def check_schema(schema: Any, source: str) -> None:
    """Raise `SchemaRejected` naming ``source`` and the keyword if ``schema`` is not valid."""
    for problem in iter_problems(schema):
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
