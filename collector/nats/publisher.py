"""Publish Kafka-shaped records (the simulator's) to NATS JetStream: each topic is a stream of
that name holding subjects ``TOPIC.>``, the subject is ``TOPIC.<event type>``; headers follow
CloudEvents' NATS binding (``ce_X`` -> ``ce-X``). Every publish is acknowledged by the
server (in windows of 1,000)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import nats
import nats.errors
import nats.js.errors

from collector.nats._connect import connect_options, where
from collector.nats._message import to_nats_headers
from collector.nats.exceptions import NatsEdgeError, NatsUnusable
from collector.settings import NatsSettings

__all__ = ["publish"]

WINDOW = 1000


def publish(records: Iterable[Any], settings: NatsSettings) -> int:
    """Publish every record (each acknowledged by JetStream); the number published."""
    return asyncio.run(_publish(records, settings))


async def _publish(records: Iterable[Any], settings: NatsSettings) -> int:
    from collector.rabbitmq.publisher import routing_key  # pure: the record's event type

    assert settings.url is not None
    try:
        nc = await nats.connect(**{**connect_options(settings), "allow_reconnect": False})
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        raise NatsUnusable(f"cannot publish to NATS at {where(settings.url)}: {exc}") from exc
    sent = 0
    try:
        js = nc.jetstream()
        streams: set[str] = set()
        pending: list[Any] = []
        for r in records:
            if r.topic not in streams:
                await _ensure_stream(js, r.topic)
                streams.add(r.topic)
            pending.append(js.publish(f"{r.topic}.{routing_key(r)}", r.value,
                                      headers=to_nats_headers(tuple(r.headers)) or None))
            if len(pending) >= WINDOW:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending = []
        await asyncio.gather(*pending)
        sent += len(pending)
    except (nats.errors.Error, TimeoutError) as exc:
        raise NatsEdgeError(f"publishing to NATS at {where(settings.url)} failed after "
                            f"{sent} records: {exc!r}") from exc
    finally:
        await nc.close()
    return sent


async def _ensure_stream(js: Any, name: str) -> None:
    try:
        await js.stream_info(name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(name=name, subjects=[f"{name}.>"])
