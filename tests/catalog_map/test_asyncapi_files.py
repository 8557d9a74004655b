"""`choreoscope catalog import` of AsyncAPI documents kept as teams keep them: one document per
service, shared ``../common/messages.yaml`` whose messages reference ``./schemas.yaml``;
AsyncAPI 2.x, 3.0 and 3.1; references confined to a root folder and never fetched."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.asyncapi_files import FileDocuments, read_document
from catalog.asyncapi_import import AsyncApiError, import_asyncapi
from catalog.metadata import DeclaredRole
from collector.cli import main
from tests.catalog_map.test_cli import run

MESSAGES = """\
components:
  messages:
    OrderPlaced:
      name: OrderPlaced
      payload:
        $ref: './schemas.yaml#/OrderPlaced'
    PaymentProcessed:
      messageId: PaymentProcessed
      payload:
        $ref: './schemas.yaml#/PaymentProcessed'
"""
SCHEMAS = """\
OrderPlaced:
  type: object
  required: [order_id]
  properties:
    order_id: {type: string}
    customer: {$ref: '#/Customer'}
Customer:
  type: object
  properties:
    customer_id: {type: string}
PaymentProcessed:
  type: object
  properties:
    payment_id: {type: string}
"""


def _service_v3(version: str) -> str:
    return f"""\
asyncapi: {version}
info: {{title: payment-service, version: '1'}}
channels:
  orders:
    address: orders
    messages:
      placed: {{$ref: '../common/messages.yaml#/components/messages/OrderPlaced'}}
  payments:
    address: payments
    bindings: {{kafka: {{topic: payments.v1}}}}
    messages:
      processed: {{$ref: '../common/messages.yaml#/components/messages/PaymentProcessed'}}
operations:
  onOrder: {{action: receive, channel: {{$ref: '#/channels/orders'}}}}
  pay: {{action: send, channel: {{$ref: '#/channels/payments'}}}}
"""


SERVICE_V2 = """\
asyncapi: 2.6.0
info: {title: payment-service, version: '1'}
channels:
  orders:
    publish:
      message: {$ref: '../common/messages.yaml#/components/messages/OrderPlaced'}
  payments:
    subscribe:
      message:
        oneOf:
          - {$ref: '../common/messages.yaml#/components/messages/PaymentProcessed'}
"""


def _tree(root: Path, service: str) -> Path:
    (root / "common").mkdir(parents=True)
    (root / "common" / "messages.yaml").write_text(MESSAGES)
    (root / "common" / "schemas.yaml").write_text(SCHEMAS)
    (root / "payment").mkdir()
    path = root / "payment" / "asyncapi.yaml"
    path.write_text(service)
    return path


@pytest.mark.parametrize("service", [_service_v3("3.0.0"), _service_v3("3.1.0"), SERVICE_V2],
                         ids=["3.0", "3.1", "2.6"])
def test_multi_file_documents_import_with_payloads_resolved_across_files(
        tmp_path: Path, service: str) -> None:
    path = _tree(tmp_path, service)
    decls = import_asyncapi(read_document(path), str(path), FileDocuments(tmp_path))
    found = {(d.service, d.role, d.event_type, d.topic) for d in decls}
    topic = "payments" if service is SERVICE_V2 else "payments.v1"
    assert found == {("payment-service", DeclaredRole.CONSUMER, "OrderPlaced", "orders"),
                     ("payment-service", DeclaredRole.PRODUCER, "PaymentProcessed", topic)}
    order = next(d for d in decls if d.event_type == "OrderPlaced")
    assert order.payload is not None
    assert order.payload["required"] == ["order_id"]
    # a reference inside schemas.yaml resolves from schemas.yaml, and is inlined
    assert order.payload["properties"]["customer"]["properties"]["customer_id"] == {
        "type": "string"}
    assert {d.origin for d in decls} == {str(path)}


def test_a_reference_that_leaves_the_root_is_refused_naming_it(tmp_path: Path) -> None:
    path = _tree(tmp_path, _service_v3("3.0.0"))
    with pytest.raises(AsyncApiError, match=r"'\.\./common/messages\.yaml' leaves the root"):
        import_asyncapi(read_document(path), str(path), FileDocuments(tmp_path / "payment"))


def test_without_a_loader_only_local_references_are_followed(tmp_path: Path) -> None:
    path = _tree(tmp_path, _service_v3("3.0.0"))
    with pytest.raises(AsyncApiError, match="only local references"):
        import_asyncapi(read_document(path), str(path))


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server that must receive nothing."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps({"components": {}}).encode())

        def log_message(self, *args: object) -> None:
            pass

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("scheme", ["http://127.0.0.1:{port}/m.yaml", "//127.0.0.1:{port}/m.yaml",
                                    "file:///etc/passwd"])
def test_a_url_reference_is_refused_and_nothing_is_fetched(
        tmp_path: Path, listener: tuple[int, list[str]], scheme: str) -> None:
    port, hits = listener
    url = scheme.format(port=port)
    service = _service_v3("3.0.0").replace("../common/messages.yaml", url)
    path = _tree(tmp_path, service)
    with pytest.raises(AsyncApiError, match="is a URL") as info:
        import_asyncapi(read_document(path), str(path), FileDocuments(tmp_path))
    assert url in str(info.value)
    assert hits == []


def test_cli_imports_a_multi_file_document_under_root_and_refuses_outside_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    store_url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["simulate", "--flows", "5", "--seed", "1", "--store", store_url]) == 0
    path = _tree(tmp_path / "contracts", _service_v3("3.0.0"))
    monkeypatch.chdir(tmp_path / "contracts" / "payment")  # the default root: too narrow
    code, _, err = run(capsys, "import", str(path), "--store", store_url)
    assert code == 2
    assert "leaves the root folder" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    code, out, _ = run(capsys, "import", str(path), "--root", str(tmp_path / "contracts"),
                       "--store", store_url)
    assert code == 0
    assert "2 declarations stored (1 producers, 1 consumers)" in out
    code, _, err = run(capsys, "import", str(path), "--root", str(tmp_path / "nope"),
                       "--store", store_url)
    assert code == 2
    assert "--root" in err


def _doc(components: dict[str, object]) -> dict[str, object]:
    return {"asyncapi": "3.0.0", "info": {"title": "svc", "version": "1"},
            "channels": {"c": {"address": "t", "messages": {"m": {
                "name": "T", "payload": {"$ref": "#/components/schemas/S0"}}}}},
            "operations": {"o": {"action": "send", "channel": {"$ref": "#/channels/c"}}},
            "components": {"schemas": components}}


def test_a_recursive_payload_keeps_its_recursive_reference() -> None:
    node = {"type": "object", "properties": {"left": {"$ref": "#/components/schemas/S0"},
                                             "right": {"$ref": "#/components/schemas/S0"}}}
    (decl,) = import_asyncapi(_doc({"S0": node}), "tree.json")
    assert decl.payload is not None
    assert decl.payload["properties"]["left"] == {"$ref": "#/components/schemas/S0"}


def test_references_fanning_out_stop_at_a_budget_instead_of_exhausting_memory() -> None:
    """Ten references to the next schema, twelve levels deep: 10**12 values once inlined."""
    schemas = {f"S{i}": {"type": "object", "properties": {
        f"p{j}": {"$ref": f"#/components/schemas/S{i + 1}"} for j in range(10)}}
        for i in range(12)}
    schemas["S12"] = {"type": "string"}
    with pytest.raises(AsyncApiError, match="too large once its references are inlined"):
        import_asyncapi(_doc(schemas), "laughs.json")
