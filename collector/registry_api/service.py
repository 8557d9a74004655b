"""What the Confluent-compatible REST API answers, without HTTP: one method per endpoint.

`RegistryService` owns the schema folder while ``choreoscope registry serve`` runs: the
`catalog.registry.Registry` of every stored version, and the `catalog.schema_ids.IdTable` of
ids, soft deletions, references and modes set over the API, kept in ``<dir>/registry.json``.
Each method returns the JSON body of a successful answer or raises `ApiError` carrying the
reference registry's status and error code (40401 subject not found, 40402 version not found,
40403 schema not found, 42201 invalid schema, 409 incompatible, ...). Reads are answered from
memory, most of them from a cache of encoded bodies that every write clears.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from catalog.changes import Mode, Policy
from catalog.compatibility import Report, check_history
from catalog.exceptions import CatalogError, SchemaRejected
from catalog.files import (
    aliases_of,
    load_ids,
    load_registry,
    remove_version,
    save_ids,
    write_version,
)
from catalog.registry import Registry
from catalog.schema_ids import IdTable, Reference
from collector.exceptions import CollectorError

__all__ = ["ApiError", "RegistryService"]

MODES = tuple(m.value for m in Mode)


class ApiError(CollectorError):
    """An answer other than success: HTTP status, the reference's error code, a message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error_code": self.code, "message": self.message}


def _subject_not_found(subject: str) -> ApiError:
    return ApiError(404, 40401, f"Subject '{subject}' not found.")


def _version_not_found(subject: str, version: str | int) -> ApiError:
    return ApiError(404, 40402, f"Version {version} not found for subject '{subject}'.")


@dataclass(frozen=True, slots=True)
class _Parsed:
    schema: Any
    references: tuple[Reference, ...]


class RegistryService:
    """The registry behind the REST API, over one schema folder (``<schemas_dir>/events``)."""

    def __init__(
        self,
        folder: Path,
        *,
        mode: Mode = Mode.BACKWARD,
        policy: Policy = Policy.STRICT,
        default_draft: str = "draft-07",
        read_only: bool = False,
    ) -> None:
        self.folder = folder
        self.policy = policy
        self.read_only = read_only
        self._lock = threading.RLock()
        self._cache: dict[tuple[Any, ...], bytes] = {}
        self._uris: tuple[Registry, set[str]] | None = None
        self._parsed: dict[tuple[str, Any, bytes], _Parsed] = {}
        self.responses: dict[tuple[str, bytes], bytes] = {}
        """Encoded answers of successful GETs by (path, query string), for the HTTP edge's
        fast path; cleared by every write, like the cache of reads."""
        self.registry = load_registry(folder, mode, policy, default_draft)
        self.ids = load_ids(folder, self.registry)
        self.registry = self.registry.with_aliases(aliases_of(self.ids))
        if not (folder / "registry.json").is_file() or self._unsaved_ids():
            save_ids(folder, self.ids)

    # -- reads ---------------------------------------------------------------------------------

    def cached(self, key: tuple[Any, ...], answer: Callable[[], Any]) -> bytes:
        """The encoded body of a read, computed once until the next write."""
        body = self._cache.get(key)
        if body is None:
            body = self._cache[key] = orjson.dumps(answer())
        return body

    def subjects(self, deleted: bool = False) -> list[str]:
        return [s.name for s in self.registry
                if any(deleted or not self._deleted(s.name, v.version) for v in s.versions)]

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        found = [v.version for v in self._subject(subject).versions
                 if deleted or not self._deleted(subject, v.version)]
        if not found:
            raise _subject_not_found(subject)
        return found

    def version(self, subject: str, version: str, deleted: bool = False) -> dict[str, Any]:
        number = self._resolve(subject, version, deleted)
        stored = self.registry.get(subject, number)
        out: dict[str, Any] = {
            "subject": subject, "version": number, "id": self.ids.id_of(subject, number),
            "schemaType": "JSON", "schema": _text(stored.schema)}
        refs = self.ids.references.get((subject, number))
        if refs:
            out["references"] = [r.to_json() for r in refs]
        return out

    def schema_by_id(self, schema_id: int) -> dict[str, Any]:
        keys = self.ids.versions_of(schema_id)
        if not keys:
            raise ApiError(404, 40403, f"Schema {schema_id} not found")
        subject, version = keys[0]
        out: dict[str, Any] = {"schemaType": "JSON",
                               "schema": _text(self.registry.get(subject, version).schema)}
        refs = self.ids.references.get((subject, version))
        if refs:
            out["references"] = [r.to_json() for r in refs]
        return out

    def id_versions(self, schema_id: int) -> list[dict[str, Any]]:
        keys = [k for k in self.ids.versions_of(schema_id) if k not in self.ids.deleted]
        if not self.ids.versions_of(schema_id):
            raise ApiError(404, 40403, f"Schema {schema_id} not found")
        return [{"subject": s, "version": v} for s, v in keys]

    def lookup(self, subject: str, body: Any) -> dict[str, Any]:
        """``POST /subjects/{subject}``: the version of ``subject`` holding this schema."""
        parsed = self._parse(body)
        versions = self.versions(subject)
        schema_id = self.ids.id_for_content(self._pinned(parsed.schema), parsed.references)
        for number in versions:
            if schema_id is not None and self.ids.id_of(subject, number) == schema_id:
                return self.version(subject, str(number))
        raise ApiError(404, 40403, "Schema not found")

    def compatibility(
        self, subject: str, version: str | None, body: Any, verbose: bool = False
    ) -> dict[str, Any]:
        """``POST /compatibility/subjects/{subject}/versions[/{version}]``."""
        parsed = self._parse(body)
        mode = Mode(self.mode_of(subject))
        live = [v for v in self._subject_or_empty(subject) if not self._deleted(subject, v[0])]
        if version is not None:
            if not live:
                raise _subject_not_found(subject)
            number = self._resolve(subject, version, False)
            live = [v for v in live if v[0] == number] if not mode.transitive else \
                [v for v in live if v[0] <= number]
        view = self.registry.with_aliases((r.name, r.subject, r.version)
                                          for r in parsed.references)
        report = check_history(live, parsed.schema, mode, self.policy,
                               draft=self.registry.default_draft, others=view.schemas())
        out: dict[str, Any] = {"is_compatible": report.compatible}
        if verbose:
            out["messages"] = _messages(report)
        return out

    def mode_of(self, subject: str | None) -> str:
        """The subject's mode set over the API, its ``compatibility.json``, else the global."""
        if subject is not None:
            if subject in self.ids.modes:
                return self.ids.modes[subject]
            own = self.registry.subjects.get(subject)
            if own is not None and own.mode is not None:
                return own.mode.value
        return self.ids.modes.get("", self.registry.mode.value)

    def config(self, subject: str | None, default_to_global: bool = False) -> dict[str, str]:
        if subject is not None and not default_to_global and subject not in self.ids.modes:
            own = self.registry.subjects.get(subject)
            if own is None or own.mode is None:
                raise ApiError(404, 40408, f"Subject '{subject}' does not have subject-level "
                               "compatibility configured")
        return {"compatibilityLevel": self.mode_of(subject)}

    # -- writes --------------------------------------------------------------------------------

    def access_of(self, subject: str | None) -> str:
        """The registry mode: READWRITE, READONLY or IMPORT (subject's, else global)."""
        if self.read_only:
            return "READONLY"
        if subject is not None and subject in self.ids.access:
            return self.ids.access[subject]
        return self.ids.access.get("", "READWRITE")

    def set_access(self, subject: str | None, body: Any) -> dict[str, str]:
        self._writable()
        mode = body.get("mode") if isinstance(body, dict) else None
        if mode not in ("READWRITE", "READONLY", "IMPORT"):
            raise ApiError(422, 42204, "Invalid mode. Valid values are READWRITE, READONLY "
                           "and IMPORT")
        with self._lock:
            self._save(self.ids.with_access(subject or "", str(mode)))
        return {"mode": str(mode)}

    def register(self, subject: str, body: Any) -> dict[str, Any]:
        """``POST /subjects/{subject}/versions``: the id of the schema, registered if new."""
        self._writable()
        access = self.access_of(subject)
        if access == "READONLY":
            raise ApiError(422, 42205, f"Subject {subject} is in read-only mode")
        if isinstance(body, dict) and ("id" in body or "version" in body):
            if access != "IMPORT":
                raise ApiError(422, 42205, "A registration naming its id or version needs "
                               "the subject (or the registry) in IMPORT mode: PUT /mode")
            return self._imported(subject, body)
        parsed = self._parse(body)
        with self._lock:
            schema_id = self.ids.id_for_content(self._pinned(parsed.schema), parsed.references)
            for number in self._live_versions(subject):
                if schema_id is not None and self.ids.id_of(subject, number) == schema_id:
                    return {"id": schema_id}
            verdict = self.compatibility(subject, None, body, verbose=True)
            if not verdict["is_compatible"]:
                raise ApiError(409, 409, f"Schema being registered is incompatible with an "
                               f"earlier schema for subject \"{subject}\", details: "
                               f"{verdict['messages']}")
            try:
                registry, added = self._next_version(subject, parsed.schema)
            except SchemaRejected as exc:
                raise ApiError(422, 42201, f"Invalid schema: {exc.message}") from exc
            write_version(self.folder, added)
            self.registry = registry.with_aliases((r.name, r.subject, r.version)
                                                  for r in parsed.references)
            self._save(self.ids.with_version(subject, added.version, added.schema,
                                             parsed.references))
            return {"id": self.ids.id_of(subject, added.version)}

    def _imported(self, subject: str, body: dict[str, Any]) -> dict[str, Any]:
        """A registration in IMPORT mode: the version keeps the id and number it names."""
        parsed = self._parse(body)
        try:
            schema_id = int(body["id"])
            number = int(body.get("version") or 0) or max([*self._live_versions(subject), 0]) + 1
        except (TypeError, ValueError):
            raise ApiError(422, 42201, "Invalid schema: id and version must be integers") \
                from None
        pinned = self._pinned(parsed.schema)
        with self._lock:
            used = self.ids.versions_of(schema_id)
            if used and self.ids.id_for_content(pinned, parsed.references) != schema_id:
                raise ApiError(422, 42207, f"Schema id {schema_id} is already used by another "
                               "schema")
            if self.ids.id_of(subject, number) is not None:
                if self.ids.id_of(subject, number) == schema_id:
                    return {"id": schema_id}
                raise ApiError(422, 42207, f"Version {number} of {subject} already exists")
            try:
                registry = self.registry.with_loaded(subject, parsed.schema, source="import",
                                                     version=number)
            except SchemaRejected as exc:
                raise ApiError(422, 42201, f"Invalid schema: {exc.message}") from exc
            added = registry.get(subject, number)
            write_version(self.folder, added)
            self.registry = registry
            self._save(self.ids.with_version(subject, number, added.schema, parsed.references,
                                             schema_id=schema_id))
            return {"id": schema_id}

    def set_config(self, subject: str | None, body: Any) -> dict[str, str]:
        self._writable()
        level = body.get("compatibility") if isinstance(body, dict) else None
        if level not in MODES:
            raise ApiError(422, 42203, f"Invalid compatibility level. Valid values are "
                           f"{', '.join(MODES)}")
        with self._lock:
            self._save(self.ids.with_mode(subject or "", str(level)))
        return {"compatibility": str(level)}

    def delete_config(self, subject: str) -> dict[str, str]:
        self._writable()
        previous = self.mode_of(subject)
        with self._lock:
            self._save(self.ids.with_mode(subject, None))
        return {"compatibilityLevel": previous}

    def delete_version(self, subject: str, version: str, permanent: bool = False) -> int:
        self._writable()
        with self._lock:
            number = self._resolve(subject, version, deleted=permanent)
            key = (subject, number)
            if not permanent:
                self._save(self.ids.with_deleted([key]))
                return number
            if key not in self.ids.deleted:
                raise ApiError(404, 40407, f"Subject '{subject}' Version {number} was not "
                               "deleted first before being permanently deleted")
            remove_version(self.folder, subject, number)
            self.registry = self.registry.without(subject, number)
            self._save(self.ids.without([key]))
            return number

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        self._writable()
        with self._lock:
            every = [v.version for v in self._subject(subject).versions]
            live = [n for n in every if not self._deleted(subject, n)]
            if not permanent:
                if not live:
                    raise _subject_not_found(subject)
                self._save(self.ids.with_deleted((subject, n) for n in live))
                return live
            if live:
                raise ApiError(404, 40405, f"Subject '{subject}' was not deleted first before "
                               "being permanently deleted")
            for number in every:
                remove_version(self.folder, subject, number)
                self.registry = self.registry.without(subject, number)
            self._save(self.ids.without((subject, n) for n in every))
            return every

    # -- helpers -------------------------------------------------------------------------------

    def _writable(self) -> None:
        if self.read_only:
            raise ApiError(422, 42205, "The registry is read-only (registry serve "
                           "--read-only): no schema, version or config can change")

    def _save(self, ids: IdTable) -> None:
        self.ids = ids
        save_ids(self.folder, ids)
        self._cache.clear()
        self.responses.clear()
        self._parsed.clear()

    def _unsaved_ids(self) -> bool:
        return any(self.ids.id_of(s.name, v.version) is None
                   for s in self.registry for v in s.versions)

    def _known(self, refs: tuple[Reference, ...]) -> set[str]:
        """The URIs a new schema may reference: the registry's (computed once per registry
        value) and the names of its own references."""
        if refs:
            return self.registry.with_aliases(
                (r.name, r.subject, r.version) for r in refs).uris()
        cached = self._uris
        if cached is None or cached[0] is not self.registry:
            cached = self._uris = (self.registry, self.registry.uris())
        return cached[1]

    def _pinned(self, schema: Any) -> Any:
        from catalog.drafts import with_draft

        return with_draft(schema, self.registry.default_draft)

    def _next_version(self, subject: str, schema: Any) -> tuple[Registry, Any]:
        number = max([v.version for v in self._subject_or_none(subject)] + [0]) + 1
        registry = self.registry.with_loaded(subject, schema, source="api", version=number)
        return registry, registry.get(subject, number)

    def _deleted(self, subject: str, version: int) -> bool:
        return (subject, version) in self.ids.deleted

    def _subject(self, subject: str) -> Any:
        found = self.registry.subjects.get(subject)
        if found is None or not found.versions:
            raise _subject_not_found(subject)
        return found

    def _subject_or_none(self, subject: str) -> list[Any]:
        found = self.registry.subjects.get(subject)
        return list(found.versions) if found is not None else []

    def _subject_or_empty(self, subject: str) -> list[tuple[int, Any]]:
        return [(v.version, v.schema) for v in self._subject_or_none(subject)]

    def _live_versions(self, subject: str) -> list[int]:
        return [v.version for v in self._subject_or_none(subject)
                if not self._deleted(subject, v.version)]

    def _resolve(self, subject: str, version: str, deleted: bool) -> int:
        versions = self.versions(subject, deleted=deleted)
        if version in ("latest", "-1"):
            return versions[-1]
        try:
            number = int(version)
        except ValueError:
            raise ApiError(422, 42202, "The specified version is not a valid version id. "
                           "Allowed values are between [1, 2^31-1] and the string \"latest\"") \
                from None
        if number not in versions:
            raise _version_not_found(subject, number)
        return number

    def _parse(self, body: Any) -> _Parsed:
        """The schema and references of a request, meta-schema checked; the answer for the
        same text is kept until the next write (clients re-send the same schemas)."""
        if isinstance(body, dict) and isinstance(body.get("schema"), str):
            key = (body["schema"], body.get("schemaType", "JSON"),
                   orjson.dumps(body.get("references") or []))
            parsed = self._parsed.get(key)
            if parsed is None:
                parsed = self._parse_new(body)
                if len(self._parsed) >= 1024:
                    self._parsed.clear()
                self._parsed[key] = parsed
            return parsed
        return self._parse_new(body)

    def _parse_new(self, body: Any) -> _Parsed:
        if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
            raise ApiError(422, 42201, "Invalid schema: the body must be a JSON object with "
                           "\"schema\", the schema document as a string")
        kind = body.get("schemaType", "JSON")
        if kind != "JSON":
            raise ApiError(422, 42201, f"Invalid schema: schemaType {kind!r} is not served "
                           "here; this registry holds JSON schemas")
        try:
            schema = json.loads(body["schema"])
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ApiError(422, 42201, f"Invalid schema: not JSON ({exc})") from None
        try:
            refs = tuple(Reference(str(r["name"]), str(r["subject"]), int(r["version"]))
                         for r in body.get("references") or [])
        except (KeyError, TypeError, ValueError):
            raise ApiError(422, 42201, "Invalid schema: each reference needs name, subject and "
                           "version") from None
        for ref in refs:
            if ref.version not in self._live_versions(ref.subject):
                raise ApiError(422, 42201, f"Invalid schema: reference {ref.name!r} names "
                               f"{ref.subject} version {ref.version}, which is not registered")
        try:
            from catalog.metaschema import check_schema

            check_schema(self._pinned(schema), "request", known=self._known(refs))
        except SchemaRejected as exc:
            raise ApiError(422, 42201, f"Invalid schema: {exc.message} (at {exc.pointer or '/'}"
                           f", keyword {exc.keyword})") from None
        except CatalogError as exc:
            raise ApiError(422, 42201, f"Invalid schema: {exc}") from None
        return _Parsed(schema, refs)


def _text(schema: Any) -> str:
    return orjson.dumps(schema).decode()


def _messages(report: Report) -> list[str]:
    return [f"{ch.type.value} at {ch.path}" + ("" if ch.compatible else " (incompatible)")
            for ch in report.changes if not ch.compatible] or []
