"""An AsyncAPI document read as declared contracts: who sends and receives which event type.

AsyncAPI 3.0 and 3.1: each operation gives one `Declaration` per message it names: ``send``
makes the service a producer, ``receive`` a consumer. AsyncAPI 2.x: each channel's
``subscribe`` operation makes the service a producer (others subscribe to what it sends) and
``publish`` a consumer; ``message`` may be a ``oneOf`` list.

The service is, in order: the operation's ``x-service`` (as the system document Choreoscope
exports writes it), else the document's ``info.title`` (an AsyncAPI document describes one
application). The event type is the message's ``name``, else its ``messageId``, else its key
under ``components.messages`` or the channel. The topic is the channel's Kafka binding
``topic``, else its ``address`` (3.x) or its name (2.x).

References: ``#/...`` inside the document always; references to other files
(``../common/messages.yaml#/components/messages/OrderPlaced``) only when a `DocumentLoader` is
given, resolved from the file that holds the reference. The loader decides what may be read
(`catalog.asyncapi_files` confines it to a root folder and never fetches a URL).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from catalog.exceptions import CatalogError
from catalog.metadata import Declaration, DeclaredRole

__all__ = ["AsyncApiError", "DocumentLoader", "import_asyncapi"]

MAX_INLINE_DEPTH = 64
"""How many references deep a message payload is inlined."""
MAX_INLINE_VALUES = 100_000
"""How many values an inlined payload may hold."""


class AsyncApiError(CatalogError):
    """The document is not an AsyncAPI document this reader understands; says where."""

    def __init__(self, origin: str, where: str, problem: str) -> None:
        super().__init__(f"{origin}: {where}: {problem}")
        self.origin, self.where, self.problem = origin, where, problem


class DocumentLoader(Protocol):
    """Reads the document a reference names, relative to the document holding it.

    Returns the parsed document and its origin (how later references from it are resolved and
    how errors name it); raises `AsyncApiError` for a reference it refuses."""

    def __call__(self, target: str, origin: str, where: str) -> tuple[Any, str]: ...


@dataclass(frozen=True, slots=True)
class _Docs:
    """The documents of one import: the main one, and others loaded on demand."""

    origin: str
    loader: DocumentLoader | None
    loaded: dict[str, Any]

    def document(self, target: str, origin: str, where: str) -> tuple[Any, str]:
        if self.loader is None:
            raise AsyncApiError(origin, where, f"only local references are followed, not "
                                f"{target!r} (the command line follows files under --root)")
        doc, name = self.loader(target, origin, where)
        self.loaded.setdefault(name, doc)
        return self.loaded[name], name


def _pointer(doc: Any, fragment: str, ref: str, origin: str, where: str) -> Any:
    node: Any = doc
    if fragment in ("", "/"):
        return node
    if not fragment.startswith("/"):
        raise AsyncApiError(origin, where, f"reference {ref!r}: only JSON Pointer fragments "
                            "(#/...) are understood")
    for token in fragment[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, Mapping) and token in node:
            node = node[token]
        else:
            raise AsyncApiError(origin, where, f"reference {ref!r} points nowhere")
    return node


def _resolve(docs: _Docs, value: Any, origin: str, where: str) -> tuple[Any, str, str]:
    """Follow ``{"$ref": ...}`` until a value: the value, the origin it was found in (where
    its own references resolve from), and the last key followed (its name)."""
    seen: set[tuple[str, str]] = set()
    key = ""
    while isinstance(value, Mapping) and "$ref" in value:
        ref = value["$ref"]
        if not isinstance(ref, str):
            raise AsyncApiError(origin, where, f"a $ref must be a string, not {ref!r}")
        if (origin, ref) in seen:
            raise AsyncApiError(origin, where, f"reference cycle through {ref!r}")
        seen.add((origin, ref))
        target, _, fragment = ref.partition("#")
        doc, origin = (docs.document(target, origin, where) if target
                       else (docs.loaded[origin], origin))
        value = _pointer(doc, fragment, ref, origin, where)
        key = fragment.rsplit("/", 1)[-1] if fragment else target.rsplit("/", 1)[-1]
    return value, origin, key


@dataclass(slots=True)
class _Budget:
    """Values an inlined payload may still hold: shared references fanning out (a schema
    referencing another ten times, which references another ten times ...) stop here."""

    left: int = MAX_INLINE_VALUES


def _inline(docs: _Docs, value: Any, origin: str, where: str, budget: _Budget,
            chain: frozenset[tuple[str, str]] = frozenset()) -> Any:
    """A payload schema with its references replaced by what they point at (for storing).

    A reference back into the chain being inlined (a recursive schema) is kept as it is."""
    budget.left -= 1
    if budget.left < 0 or len(chain) > MAX_INLINE_DEPTH:
        raise AsyncApiError(origin, where, "the payload is too large once its references are "
                            f"inlined (over {MAX_INLINE_VALUES} values or {MAX_INLINE_DEPTH} "
                            "references deep)")
    if isinstance(value, Mapping) and isinstance(value.get("$ref"), str):
        link = (origin, value["$ref"])
        if link in chain:
            return dict(value)
        value, origin, _ = _resolve(docs, value, origin, where)
        chain = chain | {link}
    if isinstance(value, Mapping):
        return {k: _inline(docs, v, origin, where, budget, chain) for k, v in value.items()}
    if isinstance(value, list):
        return [_inline(docs, v, origin, where, budget, chain) for v in value]
    return value


def _topic(channel: Mapping[str, Any], default: str | None) -> str | None:
    binding = (channel.get("bindings") or {}).get("kafka") or {}
    topic = binding.get("topic") or channel.get("address") or default
    return str(topic) if topic else None


def _payload(docs: _Docs, message: Mapping[str, Any], origin: str, where: str
             ) -> Mapping[str, Any] | None:
    payload = _inline(docs, message.get("payload"), origin, f"{where}.payload", _Budget())
    if not isinstance(payload, Mapping):
        return None
    schema = payload.get("schema", payload) if "schemaFormat" in payload else payload
    data = (schema.get("properties") or {}).get("data") if isinstance(schema, Mapping) else None
    return data if isinstance(data, Mapping) and data else schema


def _declare(docs: _Docs, service: str, role: DeclaredRole, ref: Any, topic: str | None,
             origin: str, where: str) -> Declaration:
    message, found_in, key = _resolve(docs, ref, origin, where)
    if not isinstance(message, Mapping):
        raise AsyncApiError(origin, where, "not a message")
    name = str(message.get("name") or message.get("messageId") or key)
    if not name:
        raise AsyncApiError(origin, where, "a message without a name")
    return Declaration(service, role, name, topic, docs.origin,
                       _payload(docs, message, found_in, where))


def _v3(docs: _Docs, doc: Mapping[str, Any], title: str) -> Iterator[Declaration]:
    origin = docs.origin
    for op_id, raw in (doc.get("operations") or {}).items():
        where = f"operations.{op_id}"
        op, op_origin, _ = _resolve(docs, raw, origin, where)
        action = op.get("action")
        if action not in ("send", "receive"):
            raise AsyncApiError(origin, f"{where}.action", f"send or receive, not {action!r}")
        service = str(op.get("x-service") or title)
        if not service:
            raise AsyncApiError(origin, where, "no service: give info.title or x-service")
        channel, channel_origin, _ = _resolve(docs, op.get("channel"), op_origin,
                                              f"{where}.channel")
        if not isinstance(channel, Mapping):
            raise AsyncApiError(origin, f"{where}.channel", "not a channel")
        role = DeclaredRole.PRODUCER if action == "send" else DeclaredRole.CONSUMER
        if op.get("messages"):
            refs = [(ref, op_origin) for ref in op["messages"]]
        else:
            refs = [(ref, channel_origin) for ref in (channel.get("messages") or {}).values()]
        for i, (ref, ref_origin) in enumerate(refs):
            yield _declare(docs, service, role, ref, _topic(channel, None), ref_origin,
                           f"{where}.messages.{i}")


_V2_ROLES = (("subscribe", DeclaredRole.PRODUCER), ("publish", DeclaredRole.CONSUMER))
"""AsyncAPI 2: ``subscribe`` describes what the application sends (others subscribe to it)."""


def _v2(docs: _Docs, doc: Mapping[str, Any], title: str) -> Iterator[Declaration]:
    origin = docs.origin
    for name, raw in (doc.get("channels") or {}).items():
        channel, channel_origin, _ = _resolve(docs, raw, origin, f"channels.{name}")
        if not isinstance(channel, Mapping):
            raise AsyncApiError(origin, f"channels.{name}", "not a channel")
        for key, role in _V2_ROLES:
            op = channel.get(key)
            if not isinstance(op, Mapping) or "message" not in op:
                continue
            where = f"channels.{name}.{key}"
            service = str(op.get("x-service") or title)
            if not service:
                raise AsyncApiError(origin, where, "no service: give info.title or x-service")
            message, message_origin, _ = _resolve(docs, op["message"], channel_origin,
                                                  f"{where}.message")
            if isinstance(message, Mapping) and isinstance(message.get("oneOf"), list):
                refs, ref_origin = message["oneOf"], message_origin
            else:
                refs, ref_origin = [op["message"]], channel_origin
            for i, ref in enumerate(refs):
                yield _declare(docs, service, role, ref, _topic(channel, str(name)),
                               ref_origin, f"{where}.message.{i}")


def import_asyncapi(doc: Any, origin: str = "<asyncapi>",
                    loader: DocumentLoader | None = None) -> tuple[Declaration, ...]:
    """The declarations an AsyncAPI 2.x or 3.x document makes; raises `AsyncApiError` when
    unreadable. ``loader`` reads the other files it references (none without it)."""
    version = str(doc.get("asyncapi", "")) if isinstance(doc, Mapping) else ""
    if not version.startswith(("2.", "3.")):
        found = doc.get("asyncapi") if isinstance(doc, Mapping) else type(doc).__name__
        raise AsyncApiError(origin, "asyncapi", "expected an AsyncAPI 2.x or 3.x document, "
                            f"got {found!r}")
    docs = _Docs(origin, loader, {origin: doc})
    title = str((doc.get("info") or {}).get("title") or "")
    read = _v3 if version.startswith("3.") else _v2
    return tuple(read(docs, doc, title))
