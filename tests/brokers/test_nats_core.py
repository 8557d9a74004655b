"""Core NATS subjects (no JetStream): at most once, as documented. What the tap promises: every
message published while it is subscribed is read, named ``nats:<subject>``, wildcards work, and
the same poison message seen twice is one dead letter; what it does not: a message published
while it is away is never seen."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import nats
import pytest

from collector.commands.collect import build_pipeline
from collector.flows.definition import load_definitions
from collector.model import Observation
from collector.nats._message import to_nats_headers
from collector.nats.tap import NatsTap, NatsTapOptions
from collector.rabbitmq.publisher import routing_key
from collector.settings import NatsSettings, Settings
from collector.simulator import Simulation
from collector.store.base import open_store
from tests.brokers._rabbit import cli, query
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


def test_collect_on_core_subjects_states_at_most_once_and_keeps_that_promise(
        nats_server: NatsServer, name: str, tmp_path: Path) -> None:
    """``collect --nats-url`` on core subjects alone: its start-up line says at most once;
    what is published while it runs is stored, each once; what is published while it is
    stopped is never seen, not even by the next run."""
    base = name.replace("-", "_")
    flows_dir = Path(__file__).resolve().parents[2] / "schemas" / "flows"
    sim = Simulation(load_definitions([flows_dir]), flows=12, seed=8, fault_rates={})
    records = [replace(r, topic=base) for r in sim.records()]
    while_up, while_away = records[: len(records) // 2], records[len(records) // 2:]

    def send(batch: list[Any]) -> None:
        async def run() -> None:
            nc = await nats.connect(nats_server.url)
            try:
                for r in batch:
                    await nc.publish(f"{base}.{routing_key(r)}", r.value,
                                     headers=to_nats_headers(tuple(r.headers)) or None)
                await nc.flush()
            finally:
                await nc.close()
        asyncio.run(run())

    store = f"sqlite:///{tmp_path / 's.db'}"
    env = {**os.environ, "CHOREOSCOPE_NATS__STREAMS": "[]",
           "CHOREOSCOPE_NATS__SUBJECTS": f'["{base}.>"]'}
    args = [sys.executable, "-m", "collector.cli", "--log-level", "INFO", "collect", "--store",
            store, "--nats-url", nats_server.url, "--group-id", name, "--metrics-port", "0"]
    collect = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    lines: list[str] = []
    try:
        assert collect.stderr is not None
        for line in collect.stderr:  # until subscribed
            lines.append(line)
            if "reading streams" in line:
                break
        send(while_up)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _events(store) < len(while_up):
            time.sleep(0.2)
    finally:
        collect.send_signal(signal.SIGTERM)
        _out, err = collect.communicate(timeout=60)
    assert collect.returncode == 0, err[-3000:]
    startup = next(line for line in lines if "; reading nats:" in line)
    assert (f"reading nats:{name}: core NATS subjects at most once (what is published while "
            "the collector is away is never seen)") in startup
    stored = {(r["source"], r["id"]) for r in query(store, "SELECT source, id FROM events")}
    assert len(stored) == _events(store) == len(while_up)  # no faults: one event a record
    send(while_away)  # nobody subscribed: gone
    again = cli("collect", "--store", store, "--nats-url", nats_server.url, "--group-id", name,
                "--metrics-port", "0", "--until-idle", "2", env=env)
    assert "collected 0 records" in again.stdout
    assert {(r["source"], r["id"]) for r in query(store, "SELECT source, id FROM events")} == (
        stored)


def _events(store: str) -> int:
    try:
        return int(query(store, "SELECT COUNT(*) AS n FROM events")[0]["n"])
    except Exception:  # the store is being created
        return 0

