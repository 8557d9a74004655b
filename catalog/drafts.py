"""Which JSON Schema draft a schema is read as: its own ``$schema``, else the configured default.

The reference registry (Confluent Schema Registry) reads a schema without ``$schema`` as
draft-07, so that is the default here too (``[registry] default_draft``). Every place that reads
a schema (registration, ``schemas check``, live validation, inference, comparison) goes through
`with_draft`, so a schema means the same thing everywhere: the registry stores each version with
its draft pinned in ``$schema``.

>>> with_draft({"type": "string"}, "2020-12")["$schema"]
'https://json-schema.org/draft/2020-12/schema'
>>> with_draft({"$schema": DRAFT_07, "type": "string"}, "2020-12")["$schema"] == DRAFT_07
True
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT", "DRAFT_07", "DRAFT_2020_12", "NAMES", "uri_of", "with_draft"]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

NAMES: dict[str, str] = {"draft-07": DRAFT_07, "2020-12": DRAFT_2020_12}
"""The setting's values and the ``$schema`` URI each stands for."""

DEFAULT = "draft-07"


def uri_of(name: str) -> str:
    """The ``$schema`` URI of a draft name (``draft-07`` or ``2020-12``); a URI passes through."""
    if name in NAMES:
        return NAMES[name]
    if name in NAMES.values():
        return name
    raise ValueError(f"unknown JSON Schema draft {name!r}: use one of {', '.join(NAMES)}")


def with_draft(schema: Any, default: str = DEFAULT) -> Any:
    """``schema`` with ``$schema`` set to ``default`` when it names none (a shallow copy)."""
    if isinstance(schema, dict) and "$schema" not in schema:
        return {"$schema": uri_of(default), **schema}
    return schema
