"""The JetStream tap on a real nats-server: simulated flows with faults published with
``simulate --nats-url`` and collected with ``collect --nats-url`` alone match the truth; kill -9
mid-stream then a restart loses and doubles nothing; a redelivered poison message is one dead
letter. 2,000 flows in the suite (the shared test machine's sake); the issue's 20,000 in the
``nats_acceptance_20000`` bench line (same code, ``tests/brokers/_acceptance.py``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from collector.commands.collect import build_pipeline
from collector.model import Observation
from collector.nats.tap import NatsTap, NatsTapOptions
from collector.settings import NatsSettings, Settings
from collector.store.base import Position, open_store
from tests.brokers import _acceptance
from tests.brokers._rabbit import cli, query
from tests.brokers._servers import NatsServer

pytestmark = [pytest.mark.brokers, pytest.mark.slow]

ACCEPTANCE_FLOWS = 2000  # the 20,000: the nats_acceptance_20000 bench line


def _simulate(server: NatsServer, tmp: Path, flows: int, seed: int) -> list[dict[str, Any]]:
    truth_file = tmp / "truth.jsonl"
    faults = [arg for f in _acceptance.FAULTS for arg in ("--fault-rate", f)]
    cli("simulate", "--flows", str(flows), "--seed", str(seed), *faults, "--truth",
        str(truth_file), "--nats-url", server.url)
    return [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]


def test_simulated_run_collected_from_jetstream_matches_the_truth(
        nats_server: NatsServer, tmp_path: Path) -> None:
    outcome = _acceptance.run("nats", nats_server.url, tmp_path, ACCEPTANCE_FLOWS, group="acc")
    assert "; reading nats:acc: JetStream streams effectively once" in outcome.stderr
    assert len(outcome.truth) == ACCEPTANCE_FLOWS
    assert outcome.wrong_events() == []
    assert sum(len(t["events"]) for t in outcome.truth) == len(outcome.events)
    assert any(e["topic"] == "nats:orders.OrderPlaced" for e in outcome.events)
    wrong = outcome.wrong_outcomes()
    assert wrong == [], f"{len(wrong)} outcomes differ, e.g. {wrong[:3]}"
    scores = outcome.scores()
    assert scores["stuck_truth"] > 0
    assert scores["sla_breach_truth"] > 0
    assert {k: v for k, v in scores.items() if not k.endswith("_truth")} == {
        "stuck_precision": 1.0, "stuck_recall": 1.0,
        "sla_breach_precision": 1.0, "sla_breach_recall": 1.0}
    faults, reasons = outcome.fault_counts()
    assert reasons["no-correlation"] == faults["no-correlation"] > 0
    assert reasons["not-utf8"] + reasons["not-json"] == faults["undecodable"] > 0


def _count(url: str, sql: str) -> int:
    try:
        return int(query(url, sql)[0]["n"])
    except Exception:  # the store is being created
        return 0


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
        nats_server: NatsServer, tmp_path: Path) -> None:
    _acceptance.reset_streams(nats_server.url)
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
    # and the flows spanning the kill are whole, with their outcomes (issue 19)
    _acceptance.assert_flows_match(_acceptance.stored(truth, url), url)


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
