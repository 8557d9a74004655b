"""An AsyncAPI 3.0 document read as declared contracts: who sends and receives which event type.

Each operation gives one `Declaration` per message it names: ``send`` makes the service a
producer, ``receive`` a consumer. The service is, in order: the operation's ``x-service`` (as
the system document Choreoscope exports writes it), else the document's ``info.title`` (an
AsyncAPI document describes one application). The event type is the message's ``name``, else
its key under ``components.messages`` or the channel. The topic is the channel's Kafka binding
``topic``, else its ``address``. Only local references (``#/...``) are followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog.exceptions import CatalogError
from catalog.metadata import Declaration, DeclaredRole

__all__ = ["AsyncApiError", "import_asyncapi"]


class AsyncApiError(CatalogError):
    """The document is not an AsyncAPI 3 document this reader understands; says where."""

    def __init__(self, origin: str, where: str, problem: str) -> None:
        super().__init__(f"{origin}: {where}: {problem}")
        self.origin, self.where, self.problem = origin, where, problem


def _follow(doc: Mapping[str, Any], ref: Any, origin: str, where: str) -> Any:
    """The value a local reference ``#/a/b`` points at."""
    if not isinstance(ref, str) or not ref.startswith("#/"):
        raise AsyncApiError(origin, where, f"only local references are followed, not {ref!r}")
    node: Any = doc
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or token not in node:
            raise AsyncApiError(origin, where, f"reference {ref!r} points nowhere")
        node = node[token]
    return node


def _resolve(doc: Mapping[str, Any], value: Any, origin: str, where: str) -> tuple[Any, str]:
    """Follow ``{"$ref": ...}`` until a value; also the last key followed (its name)."""
    seen: set[str] = set()
    key = ""
    while isinstance(value, Mapping) and "$ref" in value:
        ref = value["$ref"]
        if ref in seen:
            raise AsyncApiError(origin, where, f"reference cycle through {ref!r}")
        seen.add(ref)
        value = _follow(doc, ref, origin, where)
        key = str(ref).rsplit("/", 1)[-1]
    return value, key


def _topic(channel: Mapping[str, Any]) -> str | None:
    binding = (channel.get("bindings") or {}).get("kafka") or {}
    topic = binding.get("topic") or channel.get("address")
    return str(topic) if topic else None


def _payload(message: Mapping[str, Any]) -> Mapping[str, Any] | None:
    payload = message.get("payload")
    if not isinstance(payload, Mapping):
        return None
    schema = payload.get("schema", payload) if "schemaFormat" in payload else payload
    data = (schema.get("properties") or {}).get("data") if isinstance(schema, Mapping) else None
    return data if isinstance(data, Mapping) and data else schema


def import_asyncapi(doc: Any, origin: str = "<asyncapi>") -> tuple[Declaration, ...]:
    """The declarations an AsyncAPI 3.x document makes; raises `AsyncApiError` when unreadable."""
    if not isinstance(doc, Mapping) or not str(doc.get("asyncapi", "")).startswith("3."):
        found = doc.get("asyncapi") if isinstance(doc, Mapping) else type(doc).__name__
        raise AsyncApiError(origin, "asyncapi", f"expected an AsyncAPI 3.x document, got {found!r}")
    title = str((doc.get("info") or {}).get("title") or "")
    found_: list[Declaration] = []
    for op_id, raw in (doc.get("operations") or {}).items():
        where = f"operations.{op_id}"
        op, _ = _resolve(doc, raw, origin, where)
        action = op.get("action")
        if action not in ("send", "receive"):
            raise AsyncApiError(origin, f"{where}.action", f"send or receive, not {action!r}")
        service = str(op.get("x-service") or title)
        if not service:
            raise AsyncApiError(origin, where, "no service: give info.title or x-service")
        channel, _ = _resolve(doc, op.get("channel"), origin, f"{where}.channel")
        if not isinstance(channel, Mapping):
            raise AsyncApiError(origin, f"{where}.channel", "not a channel")
        refs = op.get("messages") or list((channel.get("messages") or {}).values())
        role = DeclaredRole.PRODUCER if action == "send" else DeclaredRole.CONSUMER
        for i, ref in enumerate(refs):
            message, key = _resolve(doc, ref, origin, f"{where}.messages.{i}")
            if not isinstance(message, Mapping):
                raise AsyncApiError(origin, f"{where}.messages.{i}", "not a message")
            name = str(message.get("name") or key)
            if not name:
                raise AsyncApiError(origin, f"{where}.messages.{i}", "a message without a name")
            found_.append(Declaration(service, role, name, _topic(channel), origin,
                                      _payload(message)))
    return tuple(found_)
