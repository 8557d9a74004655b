"""What the catalog is told about contracts: schema metadata, flows, declared roles, samples.

All plain values. Schema metadata comes from the JSON Schema documents themselves
(``description``, ``x-owner``, ``x-domain``, ``x-topic``); flows from the flow definitions
(converted by the collector); declared producers and consumers from an imported AsyncAPI document
or another source of contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalog.registry import Registry

__all__ = [
    "Declaration",
    "DeclaredRole",
    "FlowInfo",
    "SamplePayload",
    "SchemaInfo",
    "schema_info",
    "schema_infos",
]

JSON = Any


@dataclass(frozen=True, slots=True)
class SchemaInfo:
    """One version of an event type's schema, with the metadata the catalog shows."""

    event_type: str
    version: int
    document: Mapping[str, JSON]
    description: str = ""
    owner: str = ""
    domain: str = ""
    topic: str | None = None
    """The topic the schema says the type travels on (``x-topic``), if any."""


def schema_info(event_type: str, version: int, document: Mapping[str, JSON]) -> SchemaInfo:
    """Read the catalog metadata out of a schema document (absent keys give empty values)."""

    def text(key: str) -> str:
        value = document.get(key)
        return value if isinstance(value, str) else ""

    return SchemaInfo(
        event_type=event_type,
        version=version,
        document=document,
        description=text("description"),
        owner=text("x-owner"),
        domain=text("x-domain"),
        topic=text("x-topic") or None,
    )


def schema_infos(registry: Registry) -> list[SchemaInfo]:
    """Every registered version of every subject, with its metadata."""
    return [schema_info(subject.name, v.version, v.schema)
            for subject in registry for v in subject.versions]


@dataclass(frozen=True, slots=True)
class FlowInfo:
    """A flow type and the event types its definition names."""

    flow_type: str
    event_types: frozenset[str]
    description: str = ""
    owner: str = ""


class DeclaredRole(StrEnum):
    PRODUCER = "producer"
    CONSUMER = "consumer"


@dataclass(frozen=True, slots=True)
class Declaration:
    """A team's statement that ``service`` produces or consumes ``event_type`` (on ``topic``).

    ``origin`` says where the statement came from (e.g. the imported file), so a report can send
    the reader back to it.
    """

    service: str
    role: DeclaredRole
    event_type: str
    topic: str | None = None
    origin: str = ""
    payload: Mapping[str, JSON] | None = None
    """The payload schema the declaration carries, if any."""


@dataclass(frozen=True, slots=True)
class SamplePayload:
    """A stored payload of an event type (already redacted under the capture policy)."""

    event_type: str
    source: str
    event_id: str
    occurred_at: datetime
    data: JSON
