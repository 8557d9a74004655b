"""Alerts published by the running collector (issue 5), against the session's real broker.

``choreoscope collect`` with ``[alerts] topic`` sends FlowStuck/SlaBreached from the store's
outbox to the alert topic once their commit or tick is stored, from a thread of its own (a
hanging sink does not hold up ingestion). Killed after the alerts reached Kafka but before they
were marked sent, a restarted collector sends them again with the same ids: every alert
arrives, and a receiver that drops ids it has seen sees each one new exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer

from collector.flows.publish import AlertPump, OutboxPublisher, PublishFailed
from collector.kafka.producer import publish
from collector.model import Alert, AlertKind
from collector.store.base import Batch, open_store
from tests._webhook import Receiver
from tests.kafka._support import Rec, cloudevent

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
FLOWS = 12
PING = {
    "flow_type": "ping", "version": 1, "description": "A ping answered by a pong, quickly.",
    "owner": "team-test", "start": ["Ping"],
    "terminal": {"success": ["Pong"], "failure": [], "compensated": []},
    "transitions": [{"from": "Ping", "to": ["Pong"], "deadline": "PT1S"}],
    "compensations": [], "sla": "PT2S",
}


# -- the pump: bounded sends, backoff while the sinks fail (pure: a fake clock, a real store) --

class Flaky:
    """A sink that fails while ``failing`` is set; records when it was called and what it took."""

    def __init__(self, clock: list[float]) -> None:
        self.failing, self.clock = True, clock
        self.calls: list[float] = []
        self.took: list[str] = []

    def __call__(self, messages: Any) -> None:
        self.calls.append(self.clock[0])
        if self.failing:
            raise PublishFailed("down")
        self.took.extend(m.alert_id for m in messages)


def _outbox_store(tmp_path: Path, n: int) -> Any:
    store = open_store(f"sqlite:///{tmp_path / 'pump.db'}")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store.write(Batch(alerts=[
        Alert(f"a{i:03}", AlertKind.FLOW_STUCK, f"i{i}", f"c{i}", "ping", "Ping",
              t0 + timedelta(seconds=i)) for i in range(n)]))
    return store


def test_the_pump_backs_off_while_the_sink_fails_and_sends_in_bounded_steps(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="collector.flows.publish")
    store = _outbox_store(tmp_path, 25)
    clock = [100.0]
    sink = Flaky(clock)
    pump = AlertPump(OutboxPublisher(store, [sink], now=lambda: datetime.now(UTC),
                                     batch_size=5),
                     monotonic=lambda: clock[0], max_batches=2, backoff=1.0, max_backoff=4.0)
    try:
        for t in (100.0, 100.5, 101.0, 102.0, 103.0, 105.0, 108.0, 111.0, 112.0, 113.0):
            clock[0] = t
            assert pump.pump() == 0
        # retry after 1, 2, 4, then 4 s (the cap) again
        assert sink.calls == [100.0, 101.0, 103.0, 108.0, 112.0]
        warnings = [r for r in caplog.records if r.getMessage().startswith("alerts not sent")]
        assert len(warnings) == 1  # one line per state change, not per attempt
        sink.failing = False
        clock[0] = 116.0
        assert pump.pump() == 10  # two batches of five, then back to ingestion
        assert "sent again" in caplog.records[-1].getMessage()
        assert pump.pump() == 10
        assert pump.pump() == 5
        assert pump.pump() == 0  # nothing known pending: no query, nothing sent
        assert sorted(sink.took) == [f"a{i:03}" for i in range(25)]
        unsent = store.query("SELECT count(*) n FROM outbox WHERE sent_at IS NULL")[0]["n"]
        assert unsent == 0
    finally:
        store.close()


# -- the collector, as users run it, against the real broker ------------------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(hold_at=1)  # holds its first delivery unanswered until released
    yield r
    r.close()


@pytest.fixture
def schemas(tmp_path: Path) -> Path:
    folder = tmp_path / "schemas"
    (folder / "flows").mkdir(parents=True)
    (folder / "flows" / "ping.json").write_text(json.dumps(PING))
    return folder


def _pings(kafka: Any, topic: str) -> None:
    """FLOWS pings, no pong: each flow is stuck 1 s later and breaches its SLA at 2 s."""
    now = datetime.now(UTC).isoformat()
    publish([Rec(topic, cloudevent(i, f"p{i}", etype="Ping", source="pinger", time=now),
                 f"p{i}".encode()) for i in range(FLOWS)], kafka.bootstrap)


def _collect(kafka: Any, topic: str, url: str, *extra: str, level: str = "WARNING") -> list[str]:
    return [sys.executable, "-m", "collector.cli", "--log-level", level, "collect",
            "--store", url, "--bootstrap-servers", kafka.bootstrap, "--topics", topic,
            "--group-id", f"g-{topic}", "--metrics-port", "0", *extra]


def _collect_until_idle(kafka: Any, topic: str, url: str, env: dict[str, str],
                        cwd: Path, level: str = "WARNING") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(_collect(kafka, topic, url, "--until-idle", "4", level=level),
                          env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _env(schemas: Path, alert_topic: str, webhook: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    env.update(CHOREOSCOPE_SCHEMAS_DIR=str(schemas), CHOREOSCOPE_ALERTS__TOPIC=alert_topic)
    if webhook is not None:
        env["CHOREOSCOPE_ALERTS__WEBHOOK_URL"] = webhook
    return env


def _alert_ids(kafka: Any, topic: str, at_least: int, timeout: float = 30.0) -> list[str]:
    """Every alert id on ``topic`` in the order it was written (waits for ``at_least``)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=2000)
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ids.extend(orjson.loads(r.value)["id"] for r in consumer)
            if len(ids) >= at_least:
                ids.extend(orjson.loads(r.value)["id"] for r in consumer)  # and no more
                break
    finally:
        consumer.close(autocommit=False)
    return ids


def _outbox(url: str) -> list[dict[str, Any]]:
    store = open_store(url, read_only=True)
    try:
        return store.query("SELECT alert_id, kind, sent_at FROM outbox")
    finally:
        store.close()


def test_collect_publishes_flow_stuck_alerts_to_the_alert_topic(
        kafka: Any, topic: str, tmp_path: Path, schemas: Path) -> None:
    alert_topic = f"{topic}-alerts"
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    _pings(kafka, topic)
    done = _collect_until_idle(kafka, topic, url, _env(schemas, alert_topic), tmp_path,
                               level="INFO")
    frozen = re.search(r"start-up heap frozen out of the cyclic GC: (\d+) objects", done.stderr)
    assert frozen, done.stderr[-3000:]
    assert int(frozen.group(1)) > 10_000  # the interpreter, libraries, definitions, tracker
    outbox = _outbox(url)
    assert Counter(r["kind"] for r in outbox) == {"FlowStuck": FLOWS, "SlaBreached": FLOWS}
    assert all(r["sent_at"] for r in outbox)
    assert f"{2 * FLOWS} alerts published" in done.stdout
    ids = _alert_ids(kafka, alert_topic, 2 * FLOWS)
    assert sorted(ids) == sorted(r["alert_id"] for r in outbox)  # each exactly once
    consumer = KafkaConsumer(alert_topic, bootstrap_servers=kafka.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    try:
        first = next(iter(consumer))
    finally:
        consumer.close(autocommit=False)
    body = orjson.loads(first.value)
    assert body["type"] in ("FlowStuck", "SlaBreached")
    assert body["data"]["flow_type"] == "ping"
    assert body["data"]["step"] == "Ping"
    assert first.key == body["subject"].encode()


def test_killed_between_commit_and_marking_sent_every_alert_arrives_once_new(
        kafka: Any, topic: str, tmp_path: Path, schemas: Path, receiver: Receiver) -> None:
    """The Kafka sink takes a batch, then the webhook sink holds it: the alerts are committed
    and on the topic but not marked sent when the collector is SIGKILLed."""
    alert_topic = f"{topic}-alerts"
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    _pings(kafka, topic)
    first = subprocess.Popen(_collect(kafka, topic, url),
                             env=_env(schemas, alert_topic, receiver.url), cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert receiver.holding.wait(90), "the collector never published"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert first.returncode == -signal.SIGKILL
    at_kill = _outbox(url)
    assert at_kill
    assert not any(r["sent_at"] for r in at_kill)  # committed, none marked sent
    before = _alert_ids(kafka, alert_topic, 1)
    assert before  # ...yet the first batch is already on the topic
    assert set(before) <= {r["alert_id"] for r in at_kill}
    receiver.release.set()

    _collect_until_idle(kafka, topic, url, _env(schemas, alert_topic), tmp_path)
    outbox = _outbox(url)
    expected = {r["alert_id"] for r in outbox}
    assert Counter(r["kind"] for r in outbox) == {"FlowStuck": FLOWS, "SlaBreached": FLOWS}
    assert all(r["sent_at"] for r in outbox)

    ids = _alert_ids(kafka, alert_topic, len(expected) + len(before))
    assert set(ids) == expected  # nothing lost, nothing unknown
    counts = Counter(ids)
    assert {i for i, n in counts.items() if n > 1} == set(before)  # the re-sent batch...
    assert max(counts.values()) == 2  # ...came twice, under the same ids
    seen: set[str] = set()
    new = [i for i in ids if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]
    assert sorted(new) == sorted(expected)  # a receiver dropping seen ids: each new once


class Stuck:
    """A sink that hangs (a webhook that never answers) until released."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.took: list[str] = []

    def __call__(self, messages: Any) -> None:
        self.entered.set()
        assert self.release.wait(120)
        self.took.extend(m.alert_id for m in messages)


def test_a_hanging_sink_does_not_hold_up_ingestion(
        kafka: Any, topic: str, tmp_path: Path, schemas: Path) -> None:
    from collector.commands.collect import build_pipeline
    from collector.kafka.runner import CollectOptions, KafkaCollector
    from collector.kafka.tap import KafkaTap, TapOptions
    from collector.settings import load_settings

    settings = load_settings(None, store=f"sqlite:///{tmp_path / 'hang.db'}",
                             schemas_dir=str(schemas))
    store = open_store(settings.store)
    sink = Stuck()
    pump = AlertPump(OutboxPublisher(store, [sink], now=lambda: datetime.now(UTC)),
                     monotonic=time.monotonic, every=0.2)
    tap = KafkaTap(TapOptions(topics=(topic,), group_id=f"g-{topic}", start="earliest",
                              client={"bootstrap_servers": [kafka.bootstrap]}), store.positions)
    collector = KafkaCollector(tap, build_pipeline(settings, store), alerts=pump,
                               options=CollectOptions(batch_wait=0.05, tick_every=0.2),
                               now=lambda: datetime.now(UTC))
    _pings(kafka, topic)
    more = 500
    stop = threading.Event()
    phase = {"published": False}

    def until(c: KafkaCollector) -> bool:
        if sink.entered.is_set() and not phase["published"]:  # the sink hangs from here on
            publish([Rec(topic, cloudevent(1000 + i, f"n{i}", etype="Noise"), b"n")
                     for i in range(more)], kafka.bootstrap)
            phase["published"] = True
        if c.pipeline.stats.observations >= FLOWS + more:
            sink.release.set()
            return True
        return False

    worker = threading.Thread(target=collector.run, args=(stop, until))
    worker.start()
    worker.join(120)
    stop.set()
    sink.release.set()
    worker.join(30)
    try:
        assert not worker.is_alive()
        assert collector.pipeline.stats.observations == FLOWS + more  # read while it hung
        outbox = store.query("SELECT alert_id, sent_at FROM outbox")
    finally:
        store.close()
    assert len(outbox) >= FLOWS
    assert sorted(sink.took) == sorted(r["alert_id"] for r in outbox)  # sent on the clean stop
    assert all(r["sent_at"] for r in outbox)
