"""JSON Pointers (RFC 6901) as the envelope rules use them: resolve a value, redact in place.

``*`` as a token (an extension) matches every member of an object or item of an array, so that
``/data/items/*/card`` redacts a field in every item.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALL", "MISSING", "REDACTED", "pointer_tokens", "redact", "redact_all", "resolve"]

REDACTED = "[redacted]"
MISSING: Any = object()
"""What `resolve` answers when nothing is at the pointer (None is a JSON value)."""
ALL = "*"


def pointer_tokens(text: str) -> tuple[str, ...]:
    """RFC 6901 tokens of a JSON Pointer; ``*`` (an extension) matches every member or item."""
    if text == "":
        return ()
    if not text.startswith("/"):
        raise ValueError(f"JSON Pointer {text!r} must start with '/'")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in text[1:].split("/"))


def resolve(doc: Any, tokens: tuple[str, ...]) -> Any:
    for token in tokens:
        if type(doc) is dict:
            doc = doc.get(token, MISSING)
            if doc is MISSING:
                return MISSING
        elif type(doc) is list and token.isdigit() and int(token) < len(doc):
            doc = doc[int(token)]
        else:
            return MISSING
    return doc


def _children(node: Any, token: str) -> list[Any]:
    if type(node) is dict:
        if token == ALL:
            return list(node.values())
        return [node[token]] if token in node else []
    if type(node) is list:
        if token == ALL:
            return list(node)
        if token.isdigit() and int(token) < len(node):
            return [node[int(token)]]
    return []


def redact(doc: Any, tokens: tuple[str, ...]) -> bool:
    """Replace the values at a pointer (in place); whether anything was replaced."""
    if not tokens:
        return False
    nodes = [doc]
    for token in tokens[:-1]:
        nodes = [child for node in nodes for child in _children(node, token)]
    last, hit = tokens[-1], False
    for node in nodes:
        if type(node) is dict:
            keys = list(node) if last == ALL else [last] if last in node else []
            for k in keys:
                node[k] = REDACTED
                hit = True
        elif type(node) is list:
            idx = range(len(node)) if last == ALL else (
                [int(last)] if last.isdigit() and int(last) < len(node) else [])
            for i in idx:
                node[i] = REDACTED
                hit = True
    return hit


def redact_all(doc: Any, pointers: tuple[tuple[str, ...], ...]) -> bool:
    hit = False
    for tokens in pointers:
        hit = redact(doc, tokens) or hit
    return hit
