"""The repository's own event schemas load into the registry and hold their contracts."""

from __future__ import annotations

from pathlib import Path

from catalog.files import load_registry
from catalog.validation import Validator

EVENTS = Path(__file__).parents[2] / "schemas" / "events"


def test_demo_schemas_load_and_every_version_is_compatible_under_its_mode() -> None:
    registry = load_registry(EVENTS)
    assert len(list(registry)) >= 1
    for subject in registry:
        latest = registry.get(subject.name)
        assert latest.schema.get("title") == subject.name
        assert latest.owner
        assert latest.topic
    assert [(r.subject, r.version) for r in registry.report() if not r.report.compatible] == []


def test_demo_schemas_compile_for_the_hot_path() -> None:
    registry = load_registry(EVENTS)
    validator = Validator(registry)
    for subject in registry:
        for version in subject.versions:
            assert validator.compiled(subject.name, version.version) is not None
            assert validator.validate(subject.name, version.version, 42) != []
