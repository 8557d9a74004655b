"""Issue 14: nothing reaches the network unasked. A schema's ``$ref`` resolves within the document
and between registered schemas; any other reference is refused (exit 2, one line) with no
connection attempted. Every test has a local listener that must receive nothing."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import referencing.exceptions

from catalog.backtest import Sample
from catalog.drift import drift
from catalog.exceptions import RemoteReference, SchemaRejected
from catalog.files import load_registry
from catalog.references import check_references, iter_references, resolve
from catalog.registry import Registry, SchemaVersion, Subject
from catalog.validation import ReferenceValidator, Validator, compile_schema
from collector.cli import main

CLI = [sys.executable, "-m", "collector.cli"]


class Listener:
    """A local HTTP server that records every connection and answers 404 at once."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.1)
        self.port = int(self.socket.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn:
                conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    def close(self) -> int:
        """Stop; the number of connections ever made, the ones still queued included."""
        self._stop.set()
        self._thread.join(5)
        self.socket.setblocking(False)
        try:
            while True:
                self.socket.accept()[0].close()
                self.connections += 1
        except BlockingIOError:
            pass
        self.socket.close()
        return self.connections


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    assert server.close() == 0, "a schema reference reached the network"


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CHOREOSCOPE_"):
            monkeypatch.delenv(name)
    return tmp_path


def _write(path: Path, value: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return str(path)


def _remote_schemas(listener: Listener) -> dict[str, dict[str, Any]]:
    return {
        "absolute": {"type": "object", "properties": {"a": {"$ref": listener.url("/r.json")}}},
        "relative-under-remote-id": {"$id": listener.url("/schemas/order.json"),
                                     "type": "object", "properties": {"a": {"$ref": "money.json"}}},
        "in-allOf": {"allOf": [{"type": "object"}, {"$ref": listener.url("/r.json#/x")}]},
        "dynamicRef": {"$dynamicRef": listener.url("/r.json#meta")},
        "relative-nowhere": {"properties": {"a": {"$ref": "other.json"}}},
    }


KINDS = ["absolute", "relative-under-remote-id", "in-allOf", "dynamicRef", "relative-nowhere"]


@pytest.mark.parametrize("kind", KINDS)
def test_schemas_check_refuses_a_remote_reference_with_exit_2(
    kind: str, listener: Listener, cwd: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    old = _write(cwd / "old.json", {"type": "object"})
    new = _write(cwd / "new.json", _remote_schemas(listener)[kind])
    assert main(["schemas", "check", old, new]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"choreoscope: {new}: schema rejected at ")
    assert "never fetched" in err[0] or "names no schema" in err[0]


def test_the_command_fails_in_one_line_without_a_traceback(listener: Listener,
                                                          tmp_path: Path) -> None:
    old = _write(tmp_path / "old.json", {"$ref": listener.url("/remote.json")})
    new = _write(tmp_path / "new.json", {"type": "object"})
    done = subprocess.run([*CLI, "schemas", "check", old, new], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert done.stderr == (
        f"choreoscope: {old}: schema rejected at / (keyword '$ref'): remote reference "
        f"'{listener.url('/remote.json')}' is never fetched: schemas resolve only within the "
        "document and between registered schemas; define it under $defs, or register it and "
        "reference its $id\n")


@pytest.mark.parametrize("kind", KINDS)
def test_register_refuses_and_writes_nothing(
    kind: str, listener: Listener, cwd: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    new = _write(cwd / "new.json", _remote_schemas(listener)[kind])
    assert main(["schemas", "register", "Order", new]) == 2
    assert "schema rejected" in capsys.readouterr().err
    assert not (cwd / "schemas" / "events" / "Order").exists()


def test_a_registry_on_disk_with_a_remote_reference_is_refused(listener: Listener,
                                                               tmp_path: Path) -> None:
    path = _write(tmp_path / "Order" / "v1.json", {"$ref": listener.url("/r.json")})
    with pytest.raises(RemoteReference) as caught:
        load_registry(tmp_path)
    assert (caught.value.source, caught.value.pointer) == (path, "")


def test_validators_never_fetch(listener: Listener) -> None:
    """The validators' own resolvers refuse too, for a schema that skipped the checks."""
    schema = {"properties": {"a": {"$ref": listener.url("/r.json")}}}
    with pytest.raises(jsonschema_rs.ValidationError, match="never fetched"):
        compile_schema(schema)
    unchecked = Registry({"Order": Subject("Order", (SchemaVersion("Order", 1, schema),))})
    with pytest.raises(jsonschema_rs.ValidationError, match="never fetched"):
        Validator(unchecked).validate("Order", None, {"a": 1})
    with pytest.raises(referencing.exceptions.Unresolvable):
        ReferenceValidator(unchecked).validate("Order", None, {"a": 1})


# -- what keeps working --------------------------------------------------------------------

LOCAL_2020 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {"money": {"type": "number"}, "line": {"$anchor": "line", "type": "object"}},
    "type": "object", "properties": {"total": {"$ref": "#/$defs/money"},
                                    "lines": {"items": {"$ref": "#line"}}},
    "examples": [{"$ref": "http://127.0.0.1:1/data-not-a-reference"}]}
LOCAL_07 = {  # draft-07, the default draft: definitions and "#name" ids
    "definitions": {"money": {"type": "number"}, "line": {"$id": "#line", "type": "object"}},
    "type": "object", "properties": {"total": {"$ref": "#/definitions/money"},
                                    "lines": {"items": {"$ref": "#line"}}},
    "default": {"$ref": "http://127.0.0.1:1/data-not-a-reference"}}


@pytest.mark.parametrize("schema", [LOCAL_2020, LOCAL_07], ids=["2020-12", "draft-07"])
def test_local_references_keep_working(schema: dict[str, Any], cwd: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    old = _write(cwd / "old.json", schema)
    new = _write(cwd / "new.json", schema)
    assert main(["schemas", "check", old, new]) == 0, capsys.readouterr().err
    registry, _ = Registry().with_version("Order", schema)
    validator = Validator(registry)
    assert validator.validate("Order", None, {"total": 3.5, "lines": [{}]}) == []
    found = validator.validate("Order", None, {"total": "x", "lines": [3]})
    assert sorted(f.pointer for f in found) == ["/lines/0", "/total"]


def test_references_between_registered_schemas_resolve_from_the_registry(
    listener: Listener, tmp_path: Path,
) -> None:
    """``AOrder`` (loaded first) refers to ``Money`` by a relative ``$id`` and to ``Currency``
    by an absolute one that names the listener: both come from the registry, not the network."""
    currency_id = listener.url("/schemas/Currency/v1")
    _write(tmp_path / "Currency" / "v1.json", {"$id": currency_id, "type": "string",
                                                "pattern": "^[A-Z]{3}$"})
    _write(tmp_path / "Money" / "v1.json", {
        "$id": "schemas/events/Money/v1", "type": "object", "required": ["amount"],
        "properties": {"amount": {"type": "number"}, "currency": {"$ref": currency_id}}})
    _write(tmp_path / "AOrder" / "v1.json", {
        "$id": "schemas/events/AOrder/v1", "type": "object",
        "properties": {"total": {"$ref": "../Money/v1"}}})
    registry = load_registry(tmp_path)
    validator = Validator(registry)
    assert validator.validate("AOrder", None, {"total": {"amount": 1, "currency": "EUR"}}) == []
    found = validator.validate("AOrder", None, {"total": {"amount": "1", "currency": "euro"}})
    assert sorted(f.pointer for f in found) == ["/total/amount", "/total/currency"]
    # and a new subject registered against them
    updated, version = registry.with_version("Refund", {"properties": {
        "amount": {"$ref": "json-schema:///schemas/events/Money/v1"}}})
    assert version.version == 1
    assert Validator(updated).validate("Refund", None, {"amount": {}})[0].pointer == "/amount"
    with pytest.raises(RemoteReference):
        updated.with_version("Refund2", {"$ref": "../Missing/v1"})


def test_a_reference_to_an_unregistered_sibling_is_refused_at_load(tmp_path: Path) -> None:
    _write(tmp_path / "Order" / "v1.json", {"$id": "schemas/events/Order/v1",
                                             "properties": {"total": {"$ref": "../Money/v1"}}})
    with pytest.raises(SchemaRejected, match="names no schema in this document or the registry"):
        load_registry(tmp_path)


# -- the scan ------------------------------------------------------------------------------

RFC3986 = {  # RFC 3986 §5.4 against the base http://a/b/c/d;p?q
    "g:h": "g:h", "g": "http://a/b/c/g", "./g": "http://a/b/c/g", "g/": "http://a/b/c/g/",
    "/g": "http://a/g", "//g": "http://g", "?y": "http://a/b/c/d;p?y", "#s": "http://a/b/c/d;p?q#s",
    "g?y#s": "http://a/b/c/g?y#s", "": "http://a/b/c/d;p?q", ".": "http://a/b/c/",
    "..": "http://a/b/", "../g": "http://a/b/g", "../..": "http://a/", "../../../g": "http://a/g",
    "/./g": "http://a/g", "g.": "http://a/b/c/g.", "..g": "http://a/b/c/..g",
    "./../g": "http://a/b/g", "g/./h": "http://a/b/c/g/h", "g;x=1/../y": "http://a/b/c/y",
}


@pytest.mark.parametrize(("ref", "expected"), RFC3986.items())
def test_resolve_follows_rfc_3986(ref: str, expected: str) -> None:
    assert resolve("http://a/b/c/d;p?q", ref) == expected


def test_scan_follows_id_scope_and_skips_data_and_property_names() -> None:
    schema = {
        "$id": "https://x.example/root.json",
        "properties": {
            "$ref": {"type": "string"},  # a property named $ref is not a reference
            "const": {"$ref": "sub.json"},  # nor is a property named const data
            "inner": {"$id": "https://y.example/dir/", "$ref": "leaf.json"},
        },
        "default": {"$ref": "https://z.example/data.json"},
    }
    found = {(r.pointer, r.uri) for r in iter_references(schema)}
    assert found == {("/properties/const", "https://x.example/sub.json"),
                     ("/properties/inner", "https://y.example/dir/leaf.json")}
    with pytest.raises(RemoteReference) as caught:
        check_references(schema, "s.json")
    assert (caught.value.pointer, caught.value.ref) == ("/properties/const", "sub.json")
    check_references(schema, "s.json", known={"https://x.example/sub.json",
                                              "https://y.example/dir/leaf.json"})


def test_a_new_version_is_compared_through_references_to_registered_schemas() -> None:
    """The compatibility check follows a reference to another registered schema: a new version
    of a subject that uses one can be registered, and a change seen through it is judged."""
    registry, _ = Registry().with_version("Money", {
        "$id": "schemas/events/Money/v1", "type": "object",
        "properties": {"amount": {"type": "number"}}})
    registry, _ = registry.with_version("Order", {
        "$id": "schemas/events/Order/v1", "type": "object",
        "properties": {"total": {"$ref": "../Money/v1"}}})
    registry, v2 = registry.with_version("Order", {
        "$id": "schemas/events/Order/v2", "description": "an order", "type": "object",
        "properties": {"total": {"$ref": "json-schema:///schemas/events/Money/v1"}}})
    assert v2.version == 2
    assert [r.report.compatible for r in registry.report()] == [True]
    narrowed = registry.check("Order", {
        "$id": "schemas/events/Order/v3", "type": "object",
        "properties": {"total": {"type": "object",
                                 "properties": {"amount": {"type": "integer"}}}}})
    assert not narrowed.compatible
    assert [c.path for c in narrowed.changes if not c.compatible] == [
        "#/properties/total/properties/amount/type"]


def test_drift_follows_references_to_registered_schemas() -> None:
    """``schemas drift`` reads a payload through a reference to another registered schema."""
    registry, _ = Registry().with_version("Money", {
        "$id": "schemas/events/Money/v1", "type": "object",
        "properties": {"amount": {"type": "number"}}})
    registry, _ = registry.with_version("Order", {
        "$id": "schemas/events/Order/v1", "type": "object",
        "properties": {"total": {"$ref": "../Money/v1"}}})
    sample = Sample("billing", {"total": {"amount": "12", "extra": 1}}, "2026-01-05T08:00:00Z",
                    "e1")
    [found] = drift(registry.get("Order").schema, [sample], registry.schemas())
    assert {(i.kind, i.path) for i in found.items} == {("undeclared", "/total/extra"),
                                                        ("type", "/total/amount")}
