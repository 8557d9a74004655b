"""How a record's bytes become its data, pure: JSON within the `Limits` (integers exact), or
by content type text or bytes; and what a CloudEvents record's headers say about its mode.

CloudEvents' Kafka binding: binary mode carries the attributes in ``ce_*`` headers and the data,
of ``content-type``, as the value; structured mode carries the whole event as the value, with
``content-type: application/cloudevents+json`` (a stray ``ce_specversion`` header then changes
nothing). JSON content (``application/json``, ``text/json``, ``*+json``) becomes its JSON value,
``text/*`` its text (bytes when it is not UTF-8), anything else its bytes.
"""

from __future__ import annotations

from typing import Any

from collector import _json
from collector._envelope_rules import Limits

__all__ = ["TooDeep", "content_data", "header_text", "is_binary", "loads_within",
           "precise_text"]


def precise_text(raw: Any) -> str | None:
    """A time as sent when it is finer than the microseconds a datetime keeps, else None."""
    if type(raw) is not str:
        return None
    dot = raw.find(".")
    if dot < 0:
        return None
    # finer than microseconds: the seven characters after the dot are all digits
    return raw if len(raw) >= dot + 8 and raw[dot + 1:dot + 8].isdigit() else None


def _depth(value: Any) -> int:
    """How deep objects and arrays nest in a JSON value (a scalar: 0), without recursion."""
    if type(value) not in (dict, list):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if type(node) is dict else node
        deepest = max(deepest, depth)
        stack.extend((c, depth + 1) for c in children if type(c) in (dict, list))
    return deepest


class TooDeep(ValueError):
    """JSON nested past ``limits.max_depth``."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"JSON nested {depth} levels deep, over limits.max_depth = {limit}")
        self.depth = depth
        self.limit = limit


def loads_within(body: bytes, limits: Limits) -> Any:
    """The JSON value of ``body`` within the nesting limit (raises `orjson.JSONDecodeError`
    when it is not JSON, `TooDeep` when it nests too deep)."""
    value = _json.loads(body)
    if body.count(b"[") + body.count(b"{") > limits.max_depth:  # cheap: deep only if this
        depth = _depth(value)
        if depth > limits.max_depth:
            raise TooDeep(depth, limits.max_depth)
    return value


def _is_json_type(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def content_data(raw: bytes, content_type: str | None, limits: Limits) -> Any:
    """Data by its content type: JSON content (or no type) its JSON value, ``text/*`` its text
    (bytes when it is not UTF-8), anything else its bytes."""
    if content_type is None or _is_json_type(content_type):
        return loads_within(raw, limits)
    if content_type.lstrip().lower().startswith("text/"):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    return raw


_STRUCTURED = b"application/cloudevents"


def is_binary(headers: dict[str, bytes]) -> bool:
    """CloudEvents binary mode: ``ce_specversion`` set, unless the content type says the
    value is a structured event (a stray header then changes nothing)."""
    if "ce_specversion" not in headers:
        return False
    content_type = headers.get("content-type")
    return content_type is None or not content_type.lstrip().lower().startswith(_STRUCTURED)


def header_text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None
