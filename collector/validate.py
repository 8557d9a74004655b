"""The pipeline's validation step: an event's payload checked against the schema registry.

`build_validator` adapts the catalog's compiled `Validator` (jsonschema-rs) to the pipeline's
``Event -> Sequence[Violation]``. The version is the one the event's ``dataschema`` names when the
registry has it, else the latest of the event's type. A type the registry does not know gives no
violation: the catalog reports it as undocumented, not as invalid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.exceptions import ConfigError
from collector.model import Event, Violation

if TYPE_CHECKING:
    from catalog.registry import Registry
    from catalog.validation import Finding
    from collector.settings import Settings

__all__ = ["EventValidator", "build_validator", "load_validator"]

EventValidator = Callable[[Event], Sequence[Violation]]

_NONE: tuple[Violation, ...] = ()
_MISS = object()
_RESOLVED_MAX = 4096
"""Most (type, dataschema) pairs remembered: ``dataschema`` is the producer's to choose."""


def _violations(event: Event, version: int, findings: Sequence[Finding]) -> list[Violation]:
    return [Violation(event.identity, event.type, event.source, version, f.pointer, f.keyword,
                      f.message, event.occurred_at) for f in findings]


def _not_json(event: Event, version: int | None) -> list[Violation]:
    """An event of a type with a JSON schema whose data is bytes (content that is not JSON)."""
    return [Violation(event.identity, event.type, event.source, version, "", "type",
                      f"data is {len(event.data)} bytes of non-JSON content, not the JSON "
                      "value the schema describes", event.occurred_at)]


def build_validator(
    registry: Registry,
    ids: Mapping[int, Sequence[tuple[str, int]]] | None = None,
    strategies: Mapping[str, str] | None = None,
) -> EventValidator:
    """The pipeline's ``validate`` callable for a registry.

    The hot path: what an event's (type, dataschema) resolves to (the version and its compiled
    schema, or nothing for an unknown type) is worked out once per pair and cached, so a valid
    event costs one dict lookup and jsonschema-rs's ``is_valid``, and allocates nothing. The
    registry is a value, so the cache never goes stale.
    """
    from catalog.validation import Validator, findings_of

    validator = Validator(registry, ids, strategies)
    by_topic = bool(strategies)
    resolved: dict[tuple[str, str | None, str | None], Any] = {}

    def first(event: Event, key: tuple[str, str | None, str | None]) -> Sequence[Violation]:
        """An event of a (type, dataschema) not seen yet: the catalog resolves the version."""
        if len(resolved) >= _RESOLVED_MAX:
            resolved.clear()
        target = validator.resolve(event.type, event.dataschema, key[2])
        if target is None:
            resolved[key] = None
            return _NONE
        if type(event.data) is bytes:  # resolved on the next JSON event of the pair
            return _not_json(event, None)
        subject, version = target
        compiled = validator.compiled(subject, version)
        resolved[key] = (version, compiled)
        return _violations(event, version, findings_of(compiled, event.data))

    def validate(event: Event) -> Sequence[Violation]:
        key = (event.type, event.dataschema, event.location.topic if by_topic else None)
        hit = resolved.get(key, _MISS)
        if hit is _MISS:
            return first(event, key)
        if hit is None:
            return _NONE
        data = event.data
        if type(data) is bytes:
            return _not_json(event, hit[0])
        if hit[1].is_valid(data):
            return _NONE
        return _violations(event, hit[0], findings_of(hit[1], event.data))

    return validate


def load_validator(settings: Settings) -> EventValidator | None:
    """The validator for ``settings.schemas_dir / "events"``; None when no schema is there.

    A schema file that cannot be read or fails its meta-schema is a configuration error that
    names the file.
    """
    from catalog.changes import Mode, Policy
    from catalog.exceptions import CatalogError
    from catalog.files import load_registry
    from collector.registry_remote import RemoteRegistry, fetch_registry

    strategies = dict(settings.registry.subject_strategy)
    remote = RemoteRegistry.from_settings(settings.registry)
    if remote is not None:
        from catalog.registry import Registry

        base = Registry(mode=Mode(settings.registry.mode),
                        policy=Policy(settings.registry.policy),
                        default_draft=settings.registry.default_draft)
        try:
            registry, remote_ids = fetch_registry(remote, base)
        except CatalogError as exc:
            raise ConfigError("registry.url", remote.url, f"valid JSON schemas ({exc})") from exc
        return build_validator(registry, remote_ids, strategies) if registry.subjects else None
    folder = Path(settings.schemas_dir) / "events"
    try:
        registry = load_registry(folder, Mode(settings.registry.mode),
                                 Policy(settings.registry.policy),
                                 settings.registry.default_draft)
    except CatalogError as exc:
        raise ConfigError("schemas_dir", str(settings.schemas_dir),
                          f"readable, valid event schemas ({exc})") from exc
    if not registry.subjects:
        return None
    try:
        from catalog.files import aliases_of, load_ids

        registry = registry.with_aliases(aliases_of(load_ids(folder, registry)))
        ids = ids_by_number(folder, registry)
    except CatalogError as exc:
        raise ConfigError("schemas_dir", str(settings.schemas_dir),
                          f"a readable schema id table ({exc})") from exc
    return build_validator(registry, ids, strategies)


def ids_by_number(folder: Path, registry: Registry) -> dict[int, list[tuple[str, int]]]:
    """Schema id -> (subject, version)s, from the ids kept beside the schemas (``registry
    serve`` writes them); records in the Confluent wire format resolve through it."""
    from catalog.files import load_ids

    out: dict[int, list[tuple[str, int]]] = {}
    table = load_ids(folder, registry)
    for key, schema_id in sorted(table.ids.items()):
        if key not in table.deleted:
            out.setdefault(schema_id, []).append(key)
    return out
