"""The Confluent-compatible REST API, driven by confluent-kafka's SchemaRegistryClient."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from tests.registry.conftest import Server

V1 = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
V2 = {**V1, "required": [], "description": "order_id became optional"}
NARROWER = {**V1, "properties": {"order_id": {"type": "integer"}}}


def _client(server: Server) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": server.url})


def _schema(doc: dict[str, Any]) -> Schema:
    return Schema(json.dumps(doc), "JSON")


def _http(server: Server, method: str, path: str, body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(server.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def test_the_same_schema_from_two_fresh_clients_gets_one_id(registry_server: Server) -> None:
    first = _client(registry_server).register_schema("OrderPlaced", _schema(V1))
    second = _client(registry_server).register_schema("OrderPlaced", _schema(V1))
    assert first == second
    assert _client(registry_server).get_versions("OrderPlaced") == [1]
    # the same schema under another subject keeps the same global id, as the reference does
    assert _client(registry_server).register_schema("orders-value", _schema(V1)) == first


def test_an_id_still_resolves_after_a_restart(registry_server: Server) -> None:
    schema_id = _client(registry_server).register_schema("OrderPlaced", _schema(V1))
    newer = _client(registry_server).register_schema("OrderPlaced", _schema(V2))
    assert newer != schema_id
    registry_server.restart()
    fresh = _client(registry_server)
    assert json.loads(fresh.get_schema(schema_id).schema_str)["properties"] == V1["properties"]
    assert fresh.get_latest_version("OrderPlaced").schema_id == newer
    assert (registry_server.events / "OrderPlaced" / "v2.json").is_file()
    assert "OrderPlaced/2" in json.loads((registry_server.events / "registry.json").read_text())[
        "ids"]


def test_an_incompatible_registration_gets_409_and_leaves_the_subject_unchanged(
    registry_server: Server,
) -> None:
    client = _client(registry_server)
    client.register_schema("OrderPlaced", _schema(V1))
    with pytest.raises(SchemaRegistryError) as err:
        client.register_schema("OrderPlaced", _schema(NARROWER))
    assert err.value.http_status_code == 409
    assert _client(registry_server).get_versions("OrderPlaced") == [1]
    assert not (registry_server.events / "OrderPlaced" / "v2.json").exists()


def test_an_unknown_subject_gets_40401(registry_server: Server) -> None:
    with pytest.raises(SchemaRegistryError) as err:
        _client(registry_server).get_latest_version("NoSuchEvent")
    assert (err.value.http_status_code, err.value.error_code) == (404, 40401)
    status, headers, body = _http(registry_server, "GET", "/subjects/NoSuchEvent/versions")
    assert (status, body["error_code"]) == (404, 40401)
    assert headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")


def test_lookup_versions_compatibility_and_config(registry_server: Server) -> None:
    client = _client(registry_server)
    schema_id = client.register_schema("OrderPlaced", _schema(V1))
    found = client.lookup_schema("OrderPlaced", _schema(V1))
    assert (found.subject, found.version, found.schema_id) == ("OrderPlaced", 1, schema_id)
    assert client.get_version("OrderPlaced", 1).schema_id == schema_id
    assert client.test_compatibility("OrderPlaced", _schema(V2)) is True
    assert client.test_compatibility("OrderPlaced", _schema(NARROWER)) is False
    status, _, body = _http(registry_server, "POST",
                            "/compatibility/subjects/OrderPlaced/versions/latest?verbose=true",
                            {"schema": json.dumps(NARROWER), "schemaType": "JSON"})
    assert status == 200
    assert body["is_compatible"] is False
    assert any("TYPE_CHANGED" in m for m in body["messages"])
    assert client.get_compatibility() == "BACKWARD"
    client.set_compatibility("OrderPlaced", "NONE")
    assert client.get_compatibility("OrderPlaced") == "NONE"
    assert client.register_schema("OrderPlaced", _schema(NARROWER)) != schema_id  # NONE: any
    _, _, body = _http(registry_server, "GET", f"/schemas/ids/{schema_id}/versions")
    assert body == [{"subject": "OrderPlaced", "version": 1}]
    status, _, body = _http(registry_server, "PUT", "/config", {"compatibility": "SIDEWAYS"})
    assert (status, body["error_code"]) == (422, 42203)


def test_an_invalid_schema_gets_42201(registry_server: Server) -> None:
    status, _, body = _http(registry_server, "POST", "/subjects/Bad/versions",
                            {"schema": json.dumps({"type": "strnig"})})
    assert (status, body["error_code"]) == (422, 42201)
    status, _, body = _http(registry_server, "POST", "/subjects/Bad/versions",
                            {"schema": "{not json"})
    assert (status, body["error_code"]) == (422, 42201)


def test_delete_is_soft_then_permanent_and_ids_are_never_reused(
    registry_server: Server,
) -> None:
    client = _client(registry_server)
    first = client.register_schema("OrderPlaced", _schema(V1))
    second = client.register_schema("OrderPlaced", _schema(V2))
    with pytest.raises(SchemaRegistryError) as err:
        client.delete_version("OrderPlaced", 2, permanent=True)
    assert err.value.error_code == 40407
    assert client.delete_version("OrderPlaced", 2) == 2
    assert client.get_versions("OrderPlaced") == [1]
    assert json.loads(client.get_schema(second).schema_str)  # a soft-deleted id resolves
    assert client.delete_version("OrderPlaced", 2, permanent=True) == 2
    assert not (registry_server.events / "OrderPlaced" / "v2.json").exists()
    third = client.register_schema("OrderPlaced", _schema({**V2, "title": "again"}))
    assert third not in (first, second)
    versions = client.get_versions("OrderPlaced")
    assert len(versions) == 2
    assert client.delete_subject("OrderPlaced") == versions
    assert client.get_subjects() == []
    assert client.delete_subject("OrderPlaced", permanent=True) == versions
    assert not list((registry_server.events / "OrderPlaced").glob("v*.json"))


@pytest.fixture
def guarded(registry_server: Server) -> Server:
    registry_server.extra = 'serve_user = "ci"\nserve_password = "s3cret"\nread_only = true'
    registry_server.restart()
    return registry_server


def test_basic_auth_and_read_only(guarded: Server) -> None:
    status, headers, body = _http(guarded, "GET", "/subjects")
    assert (status, body["error_code"]) == (401, 401)
    assert headers["www-authenticate"].startswith("Basic")
    client = SchemaRegistryClient({"url": guarded.url, "basic.auth.user.info": "ci:s3cret"})
    assert client.get_subjects() == []
    with pytest.raises(SchemaRegistryError) as err:
        client.register_schema("OrderPlaced", _schema(V1))
    assert err.value.error_code == 42205


def test_named_references_resolve_as_the_reference_registry_does(
    registry_server: Server,
) -> None:
    client = _client(registry_server)
    money = {"type": "object", "properties": {"amount": {"type": "number"}},
             "required": ["amount"]}
    client.register_schema("Money", _schema(money))
    order = {"type": "object", "properties": {"total": {"$ref": "money.json"}}}
    refs = [{"name": "money.json", "subject": "Money", "version": 1}]
    status, _, body = _http(registry_server, "POST", "/subjects/OrderTotal/versions",
                            {"schema": json.dumps(order), "schemaType": "JSON",
                             "references": refs})
    assert status == 200, body
    _, _, got = _http(registry_server, "GET", f"/schemas/ids/{body['id']}")
    assert got["references"] == refs
    # the referenced schema takes part in compatibility: amount may not become a string
    narrower = {"type": "object", "properties": {"total": {"$ref": "money2.json"}}}
    stricter = {**money, "properties": {"amount": {"type": "integer"}}}
    client.set_compatibility("Money", "NONE")
    client.register_schema("Money", _schema(stricter))
    status, _, verdict = _http(
        registry_server, "POST", "/compatibility/subjects/OrderTotal/versions/latest",
        {"schema": json.dumps(narrower), "schemaType": "JSON",
         "references": [{"name": "money2.json", "subject": "Money", "version": 2}]})
    assert status == 200
    assert verdict["is_compatible"] is False
    registry_server.restart()  # the references are kept with the ids
    _, _, again = _http(registry_server, "GET", "/subjects/OrderTotal/versions/1")
    assert again["references"] == refs
    nowhere = {"type": "object", "properties": {"total": {"$ref": "nowhere.json"}}}
    status, _, body = _http(registry_server, "POST", "/subjects/Other/versions",
                            {"schema": json.dumps(nowhere), "schemaType": "JSON"})
    assert (status, body["error_code"]) == (422, 42201)  # a name no reference gives
