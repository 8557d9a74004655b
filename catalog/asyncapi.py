"""The catalog as an AsyncAPI 3.0 document, for the whole system or for one service.

- one channel per topic (address = topic, a Kafka channel binding), holding the messages of the
  event types carried on it; a type seen on no topic gets a channel named after it, with an
  unknown (``null``) address;
- one message per event type (``components.messages``): the CloudEvents envelope as payload,
  with the type's latest schema as ``data``, the correlation id's location, the ``traceparent``
  header and a Kafka message binding (the record key);
- one ``send`` operation per producer and one ``receive`` operation per consumer of a type on a
  channel; in the system document each carries ``x-service`` naming the service.

The payload keeps the schema's own dialect: its ``schemaFormat`` is
``application/schema+json;version=draft-07`` for a draft-07 schema (a format every AsyncAPI
tool supports) and ``application/schema+json;version=2020-12`` for a 2020-12 one (a custom
format, allowed by the specification, since AsyncAPI 3.0 names no newer JSON Schema draft).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from catalog.eventmap import EventMap, event_node, service_node
from catalog.metadata import SchemaInfo
from catalog.traffic import EdgeKind

__all__ = ["ASYNCAPI_VERSION", "AsyncApiOptions", "export_asyncapi"]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
_KEY = re.compile(r"[^\w.\-]")

_DIALECTS = {
    "http://json-schema.org/draft-07/schema": "draft-07",
    "https://json-schema.org/draft/2020-12/schema": "2020-12",
}


@dataclass(frozen=True, slots=True)
class AsyncApiOptions:
    title: str = "Choreoscope event catalog"
    version: str = "1.0.0"
    bootstrap_servers: str | None = None
    """``host:port`` of a broker, to describe as the document's Kafka server."""
    correlation_location: str = "$message.payload#/correlationid"
    content_type: str = "application/cloudevents+json; charset=UTF-8"


def _key(name: str) -> str:
    """A name usable as a component or channel key (``^[\\w\\d.\\-_]+$``)."""
    return _KEY.sub("_", name) or "_"


def _schema_format(document: Mapping[str, Any]) -> str:
    declared = str(document.get("$schema", "")).rstrip("#")
    return f"application/schema+json;version={_DIALECTS.get(declared, '2020-12')}"


def _envelope(event_type: str, schema: SchemaInfo | None) -> dict[str, Any]:
    """The CloudEvents structured-mode envelope of ``event_type``, its schema as ``data``."""
    data: dict[str, Any] = dict(schema.document) if schema else {}
    if schema and "$id" not in data:
        data["$id"] = f"urn:choreoscope:schema:{event_type}:v{schema.version}"
    text = {"type": "string"}
    return {
        "type": "object",
        "required": ["specversion", "id", "type", "source", "time", "correlationid"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": text,
            "type": {"const": event_type},
            "source": {**text, "description": "the producing service"},
            "time": {**text, "format": "date-time"},
            "subject": text,
            "dataschema": text,
            "correlationid": text,
            "causationid": {**text, "description": "the id of the event that caused this one"},
            "data": data,
        },
    }


def _message(event_type: str, schema: SchemaInfo | None, event_map: EventMap,
             options: AsyncApiOptions) -> dict[str, Any]:
    node = event_map.graph.nodes[event_node(event_type)]
    document = schema.document if schema else {}
    message: dict[str, Any] = {
        "name": event_type,
        "title": event_type,
        "contentType": options.content_type,
        "correlationId": {"location": options.correlation_location},
        "headers": {"type": "object", "properties": {"traceparent": {
            "type": "string", "description": "W3C trace context of the producing span"}}},
        "payload": {"schemaFormat": _schema_format(document),
                    "schema": _envelope(event_type, schema)},
        "bindings": {"kafka": {"key": {"type": "string"},
                               "bindingVersion": KAFKA_BINDING_VERSION}},
        "x-documented": bool(node.get("documented")),
    }
    if node.get("description"):
        message["description"] = node["description"]
    if node.get("owner"):
        message["x-owner"] = node["owner"]
    if node.get("domain"):
        message["tags"] = [{"name": node["domain"]}]
    if schema is not None:
        message["x-schema-version"] = schema.version
    return message


def _channels_of(event_map: EventMap, event_type: str) -> list[str | None]:
    topics: list[str | None] = list(event_map.topics(event_type))
    return topics or [None]


def _channel_key(event_type: str, topic: str | None) -> str:
    return _key(topic) if topic is not None else _key(event_type)


def _operations(event_map: EventMap, service: str | None) -> list[tuple[str, str, str]]:
    """(action, service, event type) for every produce and consume edge, sorted."""
    ops = []
    for kind, action in ((EdgeKind.PRODUCE, "send"), (EdgeKind.CONSUME, "receive")):
        for src, dst, _ in event_map.edges(kind):
            svc, ev = (src, dst) if kind == EdgeKind.PRODUCE else (dst, src)
            name = event_map.graph.nodes[svc]["name"]
            if service is None or name == service:
                ops.append((action, name, event_map.graph.nodes[ev]["name"]))
    return sorted(ops)


def export_asyncapi(event_map: EventMap, schemas: Iterable[SchemaInfo] = (), *,
                    service: str | None = None,
                    options: AsyncApiOptions = AsyncApiOptions()) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the map (or of one service's part of it)."""
    latest: dict[str, SchemaInfo] = {}
    for s in schemas:
        if s.event_type not in latest or s.version > latest[s.event_type].version:
            latest[s.event_type] = s
    ops = _operations(event_map, service)
    channels: dict[str, dict[str, Any]] = {}
    operations: dict[str, dict[str, Any]] = {}
    messages: dict[str, dict[str, Any]] = {}
    for action, svc, ev in ops:
        msg_key = _key(ev)
        messages.setdefault(msg_key, _message(ev, latest.get(ev), event_map, options))
        for topic in _channels_of(event_map, ev):
            ch_key = _channel_key(ev, topic)
            channel = channels.setdefault(ch_key, _channel(topic))
            channel["messages"][msg_key] = {"$ref": f"#/components/messages/{msg_key}"}
            operations[_key(f"{svc}.{action}.{ev}.{ch_key}")] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{ch_key}"},
                "messages": [{"$ref": f"#/channels/{ch_key}/messages/{msg_key}"}],
                "x-service": svc,
                **_operation_bindings(event_map, action, svc, ev),
            }
    doc: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": service or options.title, "version": options.version,
                 "description": _description(service)},
        "defaultContentType": options.content_type,
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items()))},
    }
    if options.bootstrap_servers:
        doc["servers"] = {"kafka": {"host": options.bootstrap_servers, "protocol": "kafka"}}
        for channel in channels.values():
            channel["servers"] = [{"$ref": "#/servers/kafka"}]
    return doc


def _description(service: str | None) -> str:
    if service is None:
        return "Every event type, channel, producer and consumer Choreoscope knows of."
    return f"What {service} sends and receives, as Choreoscope observed and was told."


def _channel(topic: str | None) -> dict[str, Any]:
    channel: dict[str, Any] = {"address": topic, "messages": {}}
    if topic is not None:
        channel["bindings"] = {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}}
    return channel


def _operation_bindings(event_map: EventMap, action: str, service: str,
                        event_type: str) -> dict[str, Any]:
    """A receive operation seen through a consumer group names that group."""
    if action != "receive":
        return {}
    edge = event_map.graph.edges[event_node(event_type), service_node(service)]
    if "consumer-group" not in edge.get("evidence", ()):
        return {}
    return {"bindings": {"kafka": {"groupId": {"type": "string", "enum": [service]},
                                   "bindingVersion": KAFKA_BINDING_VERSION}}}
