"""Catalog search: event types by name, by field, by owner, by producer or consumer.

A query is words; each word matches case-insensitively as a substring. A word may name what it
searches (``field:customer_id``, ``owner:checkout``, ``producer:order``, ``consumer:payment``,
``name:Order``); a bare word searches all of them. Every word must match (AND). A field hit says
at which pointer and in which schema versions the type carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from catalog.entries import CatalogEntry
from catalog.fields import FieldHistory

__all__ = ["SCOPES", "Hit", "Match", "parse_query", "search_catalog"]

SCOPES = ("name", "field", "owner", "producer", "consumer")


@dataclass(frozen=True, slots=True)
class Match:
    """Why an event type matched one word: where, and (for a field) at which pointer."""

    scope: str
    value: str
    versions: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Hit:
    entry: CatalogEntry
    matches: tuple[Match, ...]

    @property
    def event_type(self) -> str:
        return self.entry.event_type

    def describe(self) -> str:
        """``field /customer_id (v1, v2); producer order-service``."""
        parts = []
        for m in self.matches:
            versions = f" ({', '.join(f'v{v}' for v in m.versions)})" if m.versions else ""
            parts.append(f"{m.scope} {m.value}{versions}")
        return "; ".join(dict.fromkeys(parts))


def parse_query(text: str) -> list[tuple[str | None, str]]:
    """``field:customer_id order`` -> [("field", "customer_id"), (None, "order")]."""
    words: list[tuple[str | None, str]] = []
    for word in text.split():
        scope, sep, rest = word.partition(":")
        if sep and scope.lower() in SCOPES and rest:
            words.append((scope.lower(), rest.lower()))
        else:
            words.append((None, word.lower()))
    return words


def _field_matches(fields: Mapping[int, Sequence[FieldHistory]], needle: str) -> list[Match]:
    found: dict[str, tuple[int, ...]] = {}
    for rows in fields.values():
        for row in rows:
            if needle in row.field.name.lower() or needle in row.field.pointer.lower():
                found[row.field.pointer] = row.versions
    return [Match("field", pointer, versions) for pointer, versions in sorted(found.items())]


def _matches(entry: CatalogEntry, fields: Mapping[int, Sequence[FieldHistory]], scope: str,
             needle: str) -> list[Match]:
    if scope == "field":
        return _field_matches(fields, needle)
    values = {"name": (entry.event_type,), "owner": (entry.owner,),
              "producer": (*entry.producers, *entry.declared_producers),
              "consumer": (*entry.consumers, *entry.declared_consumers)}[scope]
    return [Match(scope, v) for v in dict.fromkeys(values) if v and needle in v.lower()]


def search_catalog(entries: Iterable[CatalogEntry],
                   fields: Mapping[str, Mapping[int, Sequence[FieldHistory]]],
                   text: str) -> list[Hit]:
    """The entries matching every word of ``text`` (all of them for an empty query), each with
    what matched; ``fields`` is each event type's field table per version."""
    words = parse_query(text)
    hits = []
    for entry in entries:
        table = fields.get(entry.event_type, {})
        found: list[Match] = []
        for scope, needle in words:
            matched = [m for s in ((scope,) if scope else SCOPES)
                       for m in _matches(entry, table, s, needle)]
            if not matched:
                break
            found.extend(matched)
        else:
            hits.append(Hit(entry, tuple(found)))
    return hits
