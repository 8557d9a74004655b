"""The JetStream tap on a real nats-server: simulated flows with faults published with
``simulate --nats-url`` and collected with ``collect --nats-url`` alone match the truth; kill -9
mid-stream then a restart loses and doubles nothing; a redelivered poison message is one dead
letter. 1,000 flows (not the issue's 20,000), for the shared test machine's sake."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from collector.commands.collect import build_pipeline
from collector.flows.tracker import instance_id
from collector.model import Observation
from collector.nats.tap import NatsTap, NatsTapOptions
from collector.settings import NatsSettings, Settings
from collector.store.base import Position, open_store
from tests.brokers._rabbit import cli, query
from tests.brokers._servers import NatsServer

pytestmark = [pytest.mark.brokers, pytest.mark.slow]

FAULTS = ["duplicate=0.05", "reorder=0.05", "lost=0.02", "undecodable=0.01",
          "no-correlation=0.01"]


def _simulate(server: NatsServer, tmp: Path, flows: int, seed: int) -> list[dict[str, Any]]:
    truth_file = tmp / "truth.jsonl"
    faults = [arg for f in FAULTS for arg in ("--fault-rate", f)]
    cli("simulate", "--flows", str(flows), "--seed", str(seed), *faults, "--truth",
        str(truth_file), "--nats-url", server.url)
    return [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]


def _reset_streams(server: NatsServer) -> None:
    async def run() -> None:
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            for name in ("orders", "payments", "inventory", "shipping", "notifications",
                         "customers"):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(name)
        finally:
            await nc.close()
    asyncio.run(run())


def test_simulated_run_collected_from_jetstream_matches_the_truth(
        nats_server: NatsServer, tmp_path: Path) -> None:
    _reset_streams(nats_server)
    truth = _simulate(nats_server, tmp_path, 1000, 11)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    done = cli("collect", "--store", url, "--nats-url", nats_server.url, "--group-id", "acc",
               "--metrics-port", "0", "--until-idle", "2")
    assert "; reading nats:acc: JetStream streams effectively once" in done.stderr
    events = query(url, "SELECT source, id, correlation_id, topic FROM events")
    flows = {r["instance_id"]: r for r in query(url, "SELECT * FROM flows")}
    assert {(e["source"], e["id"]) for e in events} == {
        tuple(i) for t in truth for i in t["events"]}
    assert any(e["topic"] == "nats:orders.OrderPlaced" for e in events)
    wrong = [t["correlation_id"] for t in truth
             if flows[instance_id(*t["instance"])]["status"] != t["outcome"]
             or bool(flows[instance_id(*t["instance"])]["sla_breached"]) != t["sla_breached"]]
    assert wrong == [], f"{len(wrong)} outcomes differ, e.g. {wrong[:3]}"
    faults = Counter(f["name"] for t in truth for f in t["faults"])
    reasons = Counter(r["reason"] for r in query(url, "SELECT reason FROM dead_letters"))
    assert reasons["no-correlation"] == faults["no-correlation"] > 0
    assert reasons["not-utf8"] + reasons["not-json"] == faults["undecodable"] > 0


def _count(url: str, sql: str) -> int:
    try:
        return int(query(url, sql)[0]["n"])
    except Exception:  # the store is being created
        return 0


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
        nats_server: NatsServer, tmp_path: Path) -> None:
    _reset_streams(nats_server)
    truth = _simulate(nats_server, tmp_path, 1000, 5)
    expected = {tuple(e) for t in truth for e in t["events"]}
    url = f"sqlite:///{tmp_path / 'store.db'}"
    args = [sys.executable, "-m", "collector.cli", "--log-level", "WARNING", "collect",
            "--store", url, "--nats-url", nats_server.url, "--group-id", "k9",
            "--metrics-port", "0"]
    small = {**os.environ, "CHOREOSCOPE_KAFKA__BATCH_MAX": "50",
             "CHOREOSCOPE_KAFKA__BATCH_WAIT_MS": "20", "CHOREOSCOPE_NATS__FETCH_BATCH": "50"}
    first = subprocess.Popen(args, env=small, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _count(url, "SELECT COUNT(*) AS n FROM events") < 200:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    at_kill = _count(url, "SELECT COUNT(*) AS n FROM events")
    assert 0 < at_kill < len(expected), "the kill must land mid-stream"
    done = cli("collect", "--store", url, "--nats-url", nats_server.url, "--group-id", "k9",
               "--metrics-port", "0", "--until-idle", "2")
    events = query(url, "SELECT source, id FROM events")
    assert {(e["source"], e["id"]) for e in events} == expected
    letters = query(url, "SELECT topic, \"offset\" FROM dead_letters")
    assert len(letters) == len({(d["topic"], d["offset"]) for d in letters})
    undecodable = sum(1 for t in truth for f in t["faults"]
                      if f["name"] in ("undecodable", "no-correlation"))
    assert len(letters) == undecodable
    # the restart resumed after the stored stream sequences: it read only what was left
    read_again = int(done.stdout.split("collected ")[1].split(" ")[0])
    assert 0 < read_again < sum(len(t["events"]) for t in truth)


def test_a_redelivered_poison_message_is_one_dead_letter(nats_server: NatsServer,
                                                         name: str, tmp_path: Path) -> None:
    stream = name.replace("-", "_")

    async def publish() -> None:
        nc = await nats.connect(nats_server.url)
        try:
            js = nc.jetstream()
            await js.add_stream(name=stream, subjects=[f"{stream}.>"])
            await js.publish(f"{stream}.bad", b"\xff\xfe not utf-8",
                             headers={"Nats-Msg-Id": "p-1"})
        finally:
            await nc.close()

    asyncio.run(publish())
    settings = NatsSettings(url=nats_server.url, streams=(stream,))
    url = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(url)
    pipeline = build_pipeline(Settings(store=url), store)
    try:
        for attempt in range(2):
            tap = NatsTap(NatsTapOptions(settings, name), lambda _source: {})
            tap.open()
            got: list[Observation] = []
            positions: list[Position] = []
            deadline = time.monotonic() + 30
            while not got and time.monotonic() < deadline:
                got, positions = tap.poll(timeout_ms=500)
            assert len(got) == 1
            pipeline.process(got, positions)
            if attempt == 1:
                tap.commit(positions)
            tap.close()  # the first time without the ack: JetStream delivers it again
    finally:
        store.close()
    letters = query(url, "SELECT reason, topic, \"offset\" FROM dead_letters")
    assert letters == [{"reason": "not-utf8", "topic": f"nats:{stream}.bad", "offset": 1}]
