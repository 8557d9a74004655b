"""Core NATS subjects (no JetStream): at most once, as documented. What the tap promises: every
message published while it is subscribed is read, named ``nats:<subject>``, wildcards work, and
the same poison message seen twice is one dead letter; what it does not: a message published
while it is away is never seen."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import nats
import pytest

from collector.commands.collect import build_pipeline
from collector.model import Observation
from collector.nats.tap import NatsTap, NatsTapOptions
from collector.settings import NatsSettings, Settings
from collector.store.base import open_store
from tests.brokers._rabbit import query
from tests.brokers._servers import NatsServer

pytestmark = pytest.mark.brokers


def _publish(url: str, messages: list[tuple[str, bytes]]) -> None:
    async def run() -> None:
        nc = await nats.connect(url)
        try:
            for subject, body in messages:
                await nc.publish(subject, body)
            await nc.flush()
        finally:
            await nc.close()
    asyncio.run(run())


def _read(tap: NatsTap, n: int) -> list[Observation]:
    got: list[Observation] = []
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        more, positions = tap.poll(timeout_ms=200)
        assert positions == []  # nothing to acknowledge: at most once
        got.extend(more)
    return got


def test_core_subjects_are_read_at_most_once(nats_server: NatsServer, name: str,
                                             tmp_path: Path) -> None:
    base = name.replace("-", "_")
    settings = NatsSettings(url=nats_server.url, streams=(), subjects=(f"{base}.>",))
    _publish(nats_server.url, [(f"{base}.orders.placed", b"before")])  # nobody listening
    tap = NatsTap(NatsTapOptions(settings, name), lambda _source: {})
    assert "core NATS subjects at most once" in tap.delivery
    tap.open()
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    pipeline = build_pipeline(Settings(store=url), store)
    try:
        _publish(nats_server.url, [(f"{base}.orders.placed", b"\xff poison"),
                                   (f"{base}.orders.placed", b"\xff poison"),
                                   (f"{base}.payments.done", b"{not json")])
        got = _read(tap, 3)
        pipeline.process(got)
        assert tap.caught_up()
    finally:
        tap.close()
        store.close()
    assert sorted(o.location.topic or "" for o in got) == [
        f"nats:{base}.orders.placed", f"nats:{base}.orders.placed", f"nats:{base}.payments.done"]
    assert all(o.value != b"before" for o in got)  # published while away: never seen
    letters = query(url, "SELECT reason, topic FROM dead_letters ORDER BY topic")
    assert [(d["reason"], d["topic"]) for d in letters] == [
        ("not-utf8", f"nats:{base}.orders.placed"), ("not-json", f"nats:{base}.payments.done")]
