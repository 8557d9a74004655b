"""Global schema ids, as a Confluent-compatible registry hands them out: never reused, stable.

An `IdTable` maps each registered (subject, version) to its id. The same schema (compared by
its canonical JSON) gets the same id under every subject, as in the reference registry; a new
schema gets the next id, and an id once given is never given to another schema, even after a
version is deleted for good. The table also keeps what the REST API needs beside the versions
themselves: soft deletions, the named references of each version and the compatibility modes
set through ``PUT /config``. It is a value: every change returns a new table, and
`catalog.files` keeps it next to the schemas (``<dir>/registry.json``), so ids travel with
the repository.

>>> t = IdTable().with_version("A", 1, {"type": "string"})
>>> t = t.with_version("B", 1, {"type": "string"}).with_version("B", 2, {"type": "number"})
>>> t.id_of("A", 1), t.id_of("B", 1), t.id_of("B", 2)
(1, 1, 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import orjson

__all__ = ["IdTable", "Reference", "canonical"]

Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Reference:
    """A named reference from one schema to a version of another subject."""

    name: str
    subject: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}


def canonical(schema: Any) -> bytes:
    """The schema's canonical JSON (sorted keys, no spaces): equal schemas, equal bytes."""
    return orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)


def _frozen(mapping: Mapping[Any, Any] | None = None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class IdTable:
    """Ids of registered versions, soft deletions, references and modes set over the API."""

    ids: Mapping[Key, int] = field(default_factory=_frozen)
    by_content: Mapping[bytes, int] = field(default_factory=_frozen)
    """Canonical schema (with its references) -> id, for every id ever given."""
    next_id: int = 1
    deleted: frozenset[Key] = frozenset()
    """Soft-deleted versions: hidden from listings, their ids still resolve."""
    references: Mapping[Key, tuple[Reference, ...]] = field(default_factory=_frozen)
    modes: Mapping[str, str] = field(default_factory=_frozen)
    """Subject -> compatibility mode set over the API; ``""`` is the global one."""
    access: Mapping[str, str] = field(default_factory=_frozen)
    """Subject -> registry mode (``READWRITE``, ``READONLY``, ``IMPORT``) set over ``/mode``;
    ``""`` is the global one. ``IMPORT`` lets a registration keep the id and version it names."""

    def id_of(self, subject: str, version: int) -> int | None:
        return self.ids.get((subject, version))

    def versions_of(self, schema_id: int) -> list[Key]:
        """Every (subject, version) registered with ``schema_id``, soft-deleted ones included."""
        return sorted(k for k, v in self.ids.items() if v == schema_id)

    def with_version(
        self,
        subject: str,
        version: int,
        schema: Any,
        references: Iterable[Reference] = (),
        schema_id: int | None = None,
    ) -> IdTable:
        """The table with (subject, version) given the id of ``schema`` (an existing id for the
        same schema and references, else the next one; ``schema_id`` when importing from
        another registry). A version already known is unchanged."""
        if (subject, version) in self.ids:
            return self
        refs = tuple(references)
        content = self.content_key(schema, refs)
        next_id = self.next_id
        if schema_id is not None:
            next_id = max(next_id, schema_id + 1)
        else:
            schema_id = self.by_content.get(content)
            if schema_id is None:
                schema_id, next_id = next_id, next_id + 1
        return replace(
            self,
            ids=_frozen({**self.ids, (subject, version): schema_id}),
            by_content=_frozen({content: schema_id, **self.by_content}),
            next_id=next_id,
            references=_frozen({**self.references, (subject, version): refs}) if refs
            else self.references,
        )

    @staticmethod
    def content_key(schema: Any, references: Iterable[Reference] = ()) -> bytes:
        refs = [r.to_json() for r in references]
        return canonical({"schema": schema, "references": refs} if refs else schema)

    def id_for_content(self, schema: Any, references: Iterable[Reference] = ()) -> int | None:
        return self.by_content.get(self.content_key(schema, references))

    def with_deleted(self, keys: Iterable[Key]) -> IdTable:
        return replace(self, deleted=self.deleted | frozenset(keys))

    def without(self, keys: Iterable[Key]) -> IdTable:
        """Versions deleted for good: gone from the table, their ids never given again."""
        gone = set(keys)
        return replace(
            self,
            ids=_frozen({k: v for k, v in self.ids.items() if k not in gone}),
            deleted=self.deleted - gone,
            references=_frozen({k: v for k, v in self.references.items() if k not in gone}),
        )

    def with_mode(self, subject: str, mode: str | None) -> IdTable:
        modes = dict(self.modes)
        if mode is None:
            modes.pop(subject, None)
        else:
            modes[subject] = mode
        return replace(self, modes=_frozen(modes))

    def with_access(self, subject: str, mode: str | None) -> IdTable:
        access = dict(self.access)
        if mode is None:
            access.pop(subject, None)
        else:
            access[subject] = mode
        return replace(self, access=_frozen(access))

    def to_json(self) -> dict[str, Any]:
        """The shape kept in ``registry.json`` (readable diffs in a repository)."""
        return {
            "next_id": self.next_id,
            "ids": {f"{s}/{v}": i for (s, v), i in sorted(self.ids.items())},
            "retired": sorted(set(self.by_content.values()) - set(self.ids.values())),
            "deleted": sorted(f"{s}/{v}" for s, v in self.deleted),
            "references": {f"{s}/{v}": [r.to_json() for r in refs]
                           for (s, v), refs in sorted(self.references.items())},
            "modes": dict(sorted(self.modes.items())),
            "access": dict(sorted(self.access.items())),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], schemas: Mapping[Key, Any]) -> IdTable:
        """Read ``registry.json``; ``schemas`` are the stored versions (for content ids)."""
        ids: dict[Key, int] = {}
        for key, schema_id in dict(raw.get("ids") or {}).items():
            subject, _, version = str(key).rpartition("/")
            ids[(subject, int(version))] = int(schema_id)
        refs: dict[Key, tuple[Reference, ...]] = {}
        for key, items in dict(raw.get("references") or {}).items():
            subject, _, version = str(key).rpartition("/")
            refs[(subject, int(version))] = tuple(
                Reference(str(r["name"]), str(r["subject"]), int(r["version"])) for r in items)
        by_content = {cls.content_key(schemas[k], refs.get(k, ())): i
                      for k, i in ids.items() if k in schemas}
        deleted = set()
        for key in raw.get("deleted") or []:
            subject, _, version = str(key).rpartition("/")
            deleted.add((subject, int(version)))
        top = max([*ids.values(), *(int(i) for i in raw.get("retired") or []), 0])
        # retired ids have no content left: keep them out of reach with unique placeholders
        for retired in raw.get("retired") or []:
            by_content[b"retired:%d" % int(retired)] = int(retired)
        return cls(
            ids=_frozen(ids),
            by_content=_frozen(by_content),
            next_id=max(int(raw.get("next_id") or 1), top + 1),
            deleted=frozenset(deleted),
            references=_frozen(refs),
            modes=_frozen({str(k): str(v) for k, v in dict(raw.get("modes") or {}).items()}),
            access=_frozen({str(k): str(v) for k, v in dict(raw.get("access") or {}).items()}),
        )
