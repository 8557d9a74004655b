"""Reading an existing Confluent-compatible registry ([registry] url), and copying subjects
between a registry and the schema folder (schemas import --from / export --to), against
``registry serve`` processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from collector.cli import main
from collector.model import Event, Location
from collector.settings import load_settings
from collector.validate import load_validator
from tests.registry.conftest import Server, free_port, running_server

V1 = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
V2 = {**V1, "required": [], "description": "optional now"}
PAID = {"type": "object", "properties": {"amount": {"type": "number"}}}


@pytest.fixture
def other(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "other") as server:
        yield server


def _filled(server: Server) -> dict[tuple[str, int], int]:
    client = SchemaRegistryClient({"url": server.url})
    client.register_schema("Paid", Schema(json.dumps(PAID), "JSON"))  # id 1 here
    ids = {("OrderPlaced", 1): client.register_schema("OrderPlaced", Schema(json.dumps(V1),
                                                                             "JSON")),
           ("OrderPlaced", 2): client.register_schema("OrderPlaced", Schema(json.dumps(V2),
                                                                             "JSON"))}
    client.set_compatibility("OrderPlaced", "FULL")
    return ids


def _config(tmp_path: Path, url: str | None) -> Path:
    (tmp_path / "local" / "schemas" / "events").mkdir(parents=True, exist_ok=True)
    path = tmp_path / "local" / "choreoscope.toml"
    extra = f'url = "{url}"\n' if url else ""
    path.write_text(f'schemas_dir = "schemas"\n[registry]\n{extra}')
    return path


def test_import_then_export_keeps_versions_and_ids(
        registry_server: Server, other: Server, tmp_path: Path) -> None:
    ids = _filled(registry_server)
    config = _config(tmp_path, None)
    assert main(["--config", str(config), "schemas", "import", "--from",
                 registry_server.url]) == 0
    local = tmp_path / "local" / "schemas" / "events"
    kept = json.loads((local / "registry.json").read_text())["ids"]
    assert kept["OrderPlaced/1"] == ids[("OrderPlaced", 1)]
    assert kept["OrderPlaced/2"] == ids[("OrderPlaced", 2)]
    assert (local / "Paid" / "v1.json").is_file()

    assert main(["--config", str(config), "schemas", "export", "--to", other.url]) == 0
    there = SchemaRegistryClient({"url": other.url})
    latest = there.get_latest_version("OrderPlaced")
    assert (latest.version, latest.schema_id) == (2, ids[("OrderPlaced", 2)])
    assert json.loads(there.get_schema(ids[("OrderPlaced", 1)]).schema_str)["required"] == [
        "order_id"]
    # back in READWRITE after the copy: a new schema gets a fresh id, never a used one
    fresh = there.register_schema("Refunded", Schema(json.dumps(PAID | {"title": "r"}), "JSON"))
    assert fresh > max(ids.values())


def test_schemas_check_reads_the_subject_from_the_registry_url(
        registry_server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(registry_server)
    config = _config(tmp_path, registry_server.url)
    narrower = tmp_path / "narrower.json"
    narrower.write_text(json.dumps({**V1, "properties": {"order_id": {"type": "integer"}}}))
    assert main(["--config", str(config), "schemas", "check", "--subject", "OrderPlaced",
                 str(narrower)]) == 1
    out = capsys.readouterr().out
    assert f"the registry at {registry_server.url} enforces FULL" in out
    assert "TYPE_CHANGED" in out


def test_the_collector_validates_wire_format_records_by_the_registry_urls_ids(
        registry_server: Server, tmp_path: Path) -> None:
    ids = _filled(registry_server)
    settings = load_settings(_config(tmp_path, registry_server.url))
    validate = load_validator(settings)
    assert validate is not None
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def event(schema_id: int) -> Event:
        return Event(id="e", type="OrderPlaced", source="s", occurred_at=at,
                     correlation_id="c", data={}, location=Location("kafka", "orders", 0, 1),
                     received_at=at, dataschema=f"confluent:{schema_id}")

    found: Any = validate(event(ids[("OrderPlaced", 1)]))
    assert [(v.schema_version, v.keyword) for v in found] == [(1, "required")]
    assert list(validate(event(ids[("OrderPlaced", 2)]))) == []


def test_an_unreachable_registry_url_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, f"http://127.0.0.1:{free_port()}")
    (tmp_path / "new.json").write_text(json.dumps(V1))
    assert main(["--config", str(config), "schemas", "check", "--subject", "OrderPlaced",
                 str(tmp_path / "new.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "registry.url" in err[0]
