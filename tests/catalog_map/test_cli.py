"""``choreoscope catalog …`` end to end: a simulated store in, documents and reports out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pytest

from collector.cli import main
from tests.catalog_map.conftest import ROOT


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'sim.db'}"
    code = main(["simulate", "--flows", "150", "--seed", "5", "--store", url,
                 "--fault-rate", "unknown-type=0.1"])
    assert code == 0
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["catalog", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_export_asyncapi_for_the_system_and_a_service(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        asyncapi_schema: dict[str, Any]) -> None:
    target = tmp_path / "system.json"
    code, _, _ = run(capsys, "export", "--format", "asyncapi", "--store", store_url,
                     "--schemas-dir", str(ROOT / "schemas"), "--out", str(target),
                     "--bootstrap-servers", "127.0.0.1:9092")
    assert code == 0
    doc = json.loads(target.read_text())
    jsonschema.Draft7Validator(asyncapi_schema).validate(doc)
    assert {"orders", "payments", "customers"} <= set(doc["channels"])
    code, out, _ = run(capsys, "export", "--format", "asyncapi", "--store", store_url,
                       "--service", "payment-service")
    assert code == 0
    service_doc = json.loads(out)
    jsonschema.Draft7Validator(asyncapi_schema).validate(service_doc)
    assert {o["x-service"] for o in service_doc["operations"].values()} == {"payment-service"}


def test_export_graphml_and_filtered_json(store_url: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--format", "graphml", "--store", store_url)
    assert code == 0
    graph = nx.read_graphml(io.BytesIO(out.encode()))
    assert graph.has_edge("service:order-service", "event:OrderPlaced")
    assert graph.nodes["event:OrderPlaced"]["documented"] is True
    code, out, _ = run(capsys, "export", "--format", "json", "--store", store_url,
                       "--domain", "payments")
    assert code == 0
    nodes = {n["id"] for n in json.loads(out)["nodes"]}
    assert "event:PaymentProcessed" in nodes
    assert "event:OrderPlaced" not in nodes
    code, out, _ = run(capsys, "export", "--format", "json", "--store", store_url,
                       "--around", "topic:inventory", "--hops", "1")
    assert code == 0
    assert {n["id"] for n in json.loads(out)["nodes"]} == {
        "topic:inventory", "event:InventoryReserved", "event:InventoryOutOfStock"}


def test_import_declares_and_reports_what_was_never_seen(
        store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {
        "asyncapi": "3.0.0", "info": {"title": "billing-service", "version": "1"},
        "channels": {"orders": {"address": "orders", "messages": {
            "OrderPlaced": {"name": "OrderPlaced", "payload": {"type": "object"}}}}},
        "operations": {"bill": {"action": "receive", "channel": {"$ref": "#/channels/orders"}}},
    }
    path = tmp_path / "billing.json"
    path.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "import", str(path), "--store", store_url)
    assert code == 0
    assert "1 declarations stored" in out
    code, out, _ = run(capsys, "report", "declared-unseen", "--json", "--store", store_url)
    findings = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(f["service"], f["event_type"]) for f in findings] == [
        ("billing-service", "OrderPlaced")]
    doc["operations"] = {}
    path.write_text(json.dumps(doc))
    assert run(capsys, "import", str(path), "--store", store_url)[0] == 0
    code, out, _ = run(capsys, "report", "declared-unseen", "--store", store_url)
    assert (code, out) == (0, "")


def test_report_exit_codes_and_entries(store_url: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "undocumented", "--store", store_url,
                         "--fail-on-findings")
    assert code == 1
    assert "OrderFraudScored" in out or "CustomerSegmentAssigned" in out
    code, out, _ = run(capsys, "entries", "OrderPlaced", "--json", "--store", store_url)
    assert code == 0
    (entry,) = json.loads(out)
    assert entry["producers"] == ["order-service"]
    assert entry["owner"] == "team-checkout"
    assert len(entry["samples"]) == 3


@pytest.mark.parametrize(("argv", "message"), [
    (["report", "nonsense"], "unknown report 'nonsense'"),
    (["export", "--format", "json", "--last", "5x"], "--last '5x'"),
    (["export", "--format", "json", "--since", "2026-01-05T08:00:00"], "UTC offset"),
    (["export", "--format", "json", "--around", "service:nobody"], "no node 'service:nobody'"),
])
def test_bad_input_exits_2_with_one_line(store_url: str, capsys: pytest.CaptureFixture[str],
                                         argv: list[str], message: str) -> None:
    code, _, err = run(capsys, *argv, "--store", store_url)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_import_reads_yaml(store_url: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fraud.yaml"
    path.write_text(
        "asyncapi: 3.0.0\n"
        "info: {title: fraud-service, version: '1'}\n"
        "channels:\n"
        "  payments:\n"
        "    address: payments\n"
        "    messages:\n"
        "      scored: {name: OrderFraudScored, payload: {type: object}}\n"
        "operations:\n"
        "  score:\n"
        "    action: send\n"
        "    channel: {$ref: '#/channels/payments'}\n")
    code, out, _ = run(capsys, "import", str(path), "--store", store_url)
    assert code == 0
    assert "1 declarations stored (1 producers" in out
    code, out, _ = run(capsys, "entries", "OrderFraudScored", "--json", "--samples", "0",
                       "--store", store_url)
    (entry,) = json.loads(out)
    assert entry["declared_producers"] == ["fraud-service"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("doc.json", "asyncapi: 3.0.0\n", "not JSON"),
    ("doc.yaml", "asyncapi: [3.0.0\n", "neither JSON nor YAML"),
    ("doc.json", '{"asyncapi": "1.2.0"}', "expected an AsyncAPI 2.x or 3.x document"),
])
def test_import_of_a_bad_file_exits_2(store_url: str, tmp_path: Path, name: str, content: str,
                                      message: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / name
    path.write_text(content)
    code, _, err = run(capsys, "import", str(path), "--store", store_url)
    assert code == 2
    assert message in err
    assert str(path) in err
