"""The registry's file edge: ``<dir>/<EventType>/v<N>.json``, one file per version.

The directory is the registry's storage: `load_registry` reads it (every file meta-schema
checked; a refusal names the file and the keyword) and `write_version` adds the next file for a
version `Registry.with_version` accepted. A subject may keep its own compatibility settings in
``<dir>/<EventType>/compatibility.json`` (``{"mode": "FULL", "policy": "LENIENT"}``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from catalog.changes import Mode, Policy
from catalog.drafts import DEFAULT
from catalog.exceptions import SchemaRejected
from catalog.references import check_references
from catalog.registry import Registry, SchemaVersion
from catalog.schema_ids import IdTable

__all__ = [
    "aliases_of",
    "load_ids",
    "load_registry",
    "read_schema",
    "remove_version",
    "save_ids",
    "write_settings",
    "write_version",
]

IDS_FILE = "registry.json"

_VERSION_FILE = re.compile(r"^v(\d+)\.json$")
SETTINGS_FILE = "compatibility.json"


def read_schema(path: Path | str) -> Any:
    """A schema document from a file; unreadable or not JSON raises `SchemaRejected`."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemaRejected(str(path), "", "", f"cannot read the file ({exc.strerror})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaRejected(str(path), "", "", f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise SchemaRejected(str(path), "", "", "JSON nested too deeply to read") from exc


def load_registry(
    directory: Path | str,
    mode: Mode = Mode.BACKWARD,
    policy: Policy = Policy.STRICT,
    default_draft: str = DEFAULT,
) -> Registry:
    """Every subject under ``directory``; a missing directory is an empty registry.

    A file without ``$schema`` is read as ``default_draft`` (``[registry] default_draft``)."""
    registry = Registry(mode=mode, policy=policy, default_draft=default_draft)
    root = Path(directory)
    if not root.is_dir():
        return registry
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for number, path in _version_files(folder):
            registry = registry.with_loaded(
                folder.name, read_schema(path), source=str(path), version=number
            )
        settings = folder / SETTINGS_FILE
        if settings.is_file():
            registry = _with_settings(registry, folder.name, settings)
    ids_file = root / IDS_FILE
    if ids_file.is_file():  # named references registered over the REST API
        stored = {(s.name, v.version): v.schema for s in registry for v in s.versions}
        raw = read_schema(ids_file)
        try:
            table = IdTable.from_json(raw if isinstance(raw, dict) else {}, stored)
        except (TypeError, ValueError, KeyError) as exc:
            raise SchemaRejected(str(ids_file), "", "", f"unreadable id table ({exc})") from exc
        registry = registry.with_aliases(aliases_of(table))
    known = registry.uris()  # schemas may reference each other, in any folder order
    for version in (v for s in registry for v in s.versions):
        check_references(version.schema, version.source, known)
    return registry


def _version_files(folder: Path) -> list[tuple[int, Path]]:
    found = []
    for path in folder.iterdir():
        match = _VERSION_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _with_settings(registry: Registry, name: str, path: Path) -> Registry:
    raw = read_schema(path)
    try:
        if not isinstance(raw, dict):
            raise TypeError(raw)
        mode = Mode(raw["mode"]) if "mode" in raw else None
        policy = Policy(raw["policy"]) if "policy" in raw else None
    except (TypeError, ValueError) as exc:
        raise SchemaRejected(str(path), "mode", "", f"expected mode one of "
                             f"{[m.value for m in Mode]} and policy STRICT or LENIENT") from exc
    return registry.with_settings(name, mode, policy)


def write_version(directory: Path | str, version: SchemaVersion) -> Path:
    """Write an accepted version as ``<dir>/<subject>/v<N>.json``; never overwrites."""
    folder = Path(directory) / version.subject
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{version.version}.json"
    with path.open("x", encoding="utf-8") as out:
        json.dump(version.schema, out, indent=2, ensure_ascii=False)
        out.write("\n")
    return path


def write_settings(
    directory: Path | str, subject: str, mode: Mode | None, policy: Policy | None
) -> Path:
    """Store a subject's own compatibility settings."""
    folder = Path(directory) / subject
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SETTINGS_FILE
    body = {k: v.value for k, v in (("mode", mode), ("policy", policy)) if v is not None}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return path


def remove_version(directory: Path | str, subject: str, version: int) -> None:
    """Delete a version's file for good (the REST API's permanent delete)."""
    path = Path(directory) / subject / f"v{version}.json"
    path.unlink(missing_ok=True)


def load_ids(directory: Path | str, registry: Registry) -> IdTable:
    """The schema ids kept beside the schemas (``<dir>/registry.json``), with an id given to
    every stored version that has none yet (in subject and version order)."""
    path = Path(directory) / IDS_FILE
    schemas = {(s.name, v.version): v.schema for s in registry for v in s.versions}
    table = IdTable()
    if path.is_file():
        raw = read_schema(path)
        if not isinstance(raw, dict):
            raise SchemaRejected(str(path), "", "", "expected the registry's id table (an "
                                 "object with next_id and ids)")
        try:
            table = IdTable.from_json(raw, schemas)
        except (TypeError, ValueError, KeyError) as exc:
            raise SchemaRejected(str(path), "", "", f"unreadable id table ({exc})") from exc
    for (subject, version), schema in sorted(schemas.items()):
        table = table.with_version(subject, version, schema)
    return table


def aliases_of(table: IdTable) -> list[tuple[str, str, int]]:
    """The named references of every version, for `Registry.with_aliases`."""
    return [(r.name, r.subject, r.version) for refs in table.references.values() for r in refs]


def save_ids(directory: Path | str, table: IdTable) -> Path:
    """Write the id table atomically (a crash leaves the old file or the new one)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / IDS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
