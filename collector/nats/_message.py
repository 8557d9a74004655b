"""A JetStream message as an `Observation` (pure). Its name is ``nats:SUBJECT``; its position is
the stream sequence, so a redelivered message (a poison one too) is stored once. Headers feed
the envelope rules as Kafka headers do: CloudEvents' ``ce-X`` headers are ``ce_X``,
``Content-Type`` is ``content-type``, ``Nats-Msg-Id`` stays (``header:nats-msg-id``)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from collector.model import Location, Observation

__all__ = ["core_identity", "headers_of", "observation_of", "stored_name", "to_nats_headers"]


def stored_name(subject: str) -> str:
    return f"nats:{subject}"


def core_identity(subject: str, body: bytes) -> int:
    """A core NATS message's position: a stable 63-bit hash of its subject and body (core NATS
    has no sequence), so the same message seen twice is one dead letter."""
    h = hashlib.blake2b(digest_size=8)
    h.update(subject.encode() + b"\0" + body)
    return int.from_bytes(h.digest(), "big") >> 1


def headers_of(headers: Mapping[str, str] | None) -> tuple[tuple[str, bytes], ...]:
    out: list[tuple[str, bytes]] = []
    for name, value in (headers or {}).items():
        low = name.lower()
        if low.startswith("ce-"):
            name = "ce_" + name[3:]
        elif low == "content-type":
            name = "content-type"
        out.append((name, value.encode()))
    return tuple(out)


def observation_of(subject: str, sequence: int, headers: Mapping[str, str] | None,
                   body: bytes, received: datetime, timestamp: datetime | None
                   ) -> Observation:
    return Observation(Location("nats", stored_name(subject), 0, sequence), received, body,
                       None, headers_of(headers), timestamp)


def to_nats_headers(headers: tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    """Kafka-style headers as NATS headers (``ce_X`` as ``ce-X``, the CloudEvents binding)."""
    out: dict[str, str] = {}
    for name, value in headers:
        text = value.decode("utf-8", "replace")
        if name.lower() == "content-type":
            out["Content-Type"] = text
        elif name.startswith("ce_"):
            out["ce-" + name[3:]] = text
        else:
            out[name] = text
    return out
