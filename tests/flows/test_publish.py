"""The alert outbox: killed between sending and marking, the publisher re-sends on restart;
every alert arrives, receivers see each id new exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from collector.flows.publish import OutboxPublisher, PublishFailed, WebhookSink, alert_message
from collector.flows.tracker import FlowTracker
from collector.store.base import Batch, open_store
from tests._webhook import Receiver

from .conftest import ROOT, at, ev


@pytest.fixture
def outbox(tmp_path, definitions):
    """A store whose outbox holds the alerts of 20 stuck and breached flows (40 alerts)."""
    url = f"sqlite:///{tmp_path / 'alerts.db'}"
    tracker = FlowTracker(definitions)
    events = [ev("OrderPlaced", i, f"o{i}") for i in range(20)]
    update = tracker.on_events(events)
    tick = tracker.on_tick(at(1000))
    store = open_store(url)
    store.write(Batch(events=events, flows=[*update.flows, *tick.flows],
                      assignments=update.assignments, alerts=tick.alerts))
    ids = [r["alert_id"] for r in store.query("SELECT alert_id FROM outbox")]
    store.close()
    assert len(ids) == 40
    return url, set(ids)


def publish_cmd(url: str, webhook: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "collector.cli", "flows", "publish", "--store", url,
            "--webhook", webhook, *extra]


def test_killed_between_send_and_mark_every_alert_arrives(outbox):
    url, ids = outbox
    receiver = Receiver(hold_at=7)
    env = {**os.environ, "CHOREOSCOPE_ALERTS__BATCH_SIZE": "100"}
    try:
        first = subprocess.Popen(publish_cmd(url, receiver.url), env=env, cwd=ROOT)
        assert receiver.holding.wait(60), "the publisher never sent"
        first.send_signal(signal.SIGKILL)  # sent 7, marked none
        first.wait(30)
        receiver.release.set()
        store = open_store(url, read_only=True)
        assert store.query("SELECT count(*) n FROM outbox WHERE sent_at IS NULL")[0]["n"] == 40
        store.close()
        done = subprocess.run(publish_cmd(url, receiver.url, "--once"), env=env, cwd=ROOT,
                              timeout=60, check=True)
        assert done.returncode == 0
    finally:
        receiver.close()
    assert set(receiver.received) == ids  # nothing lost
    assert len(receiver.received) == 40 + 7  # the 7 unmarked ones came twice, same ids
    seen: set[str] = set()
    new = [i for i in receiver.received if not (i in seen or seen.add(i))]
    assert sorted(new) == sorted(ids)  # each id new exactly once
    store = open_store(url, read_only=True)
    assert store.query("SELECT count(*) n FROM outbox WHERE sent_at IS NULL")[0]["n"] == 0
    store.close()


def test_messages_are_cloudevents_with_the_alert(outbox):
    url, _ = outbox
    receiver = Receiver()
    store = open_store(url)
    try:
        sent = OutboxPublisher(store, [WebhookSink(receiver.url)], now=lambda: at(2000)).drain()
    finally:
        receiver.close()
        store.close()
    assert sent == 40
    body = receiver.bodies[0]
    assert body["specversion"] == "1.0"
    assert body["type"] in ("FlowStuck", "SlaBreached")
    data = body["data"]
    assert data["flow_type"] == "order"
    assert data["step"] == "OrderPlaced"
    assert data["correlation_id"] == body["subject"]
    assert data["details"]["expected_next"] == ["PaymentFailed", "PaymentProcessed"]


def test_a_failing_sink_leaves_the_alerts_unsent(outbox):
    url, _ = outbox
    receiver = Receiver(fail=True)
    store = open_store(url)
    try:
        with pytest.raises(PublishFailed):
            OutboxPublisher(store, [WebhookSink(receiver.url)], now=lambda: at(0)).drain()
        assert store.query("SELECT count(*) n FROM outbox WHERE sent_at IS NULL")[0]["n"] == 40
    finally:
        receiver.close()
        store.close()
    row = {"alert_id": "a", "kind": "FlowStuck", "instance_id": "i", "correlation_id": "c",
           "flow_type": "order", "step": "OrderPlaced", "at": "2026-01-01T00:00:00.000000Z",
           "details": None}
    assert alert_message(row, "alerts").key == b"c"


def test_publish_without_a_sink_is_a_configuration_error(outbox, capsys, monkeypatch):
    from collector.cli import main

    monkeypatch.delenv("CHOREOSCOPE_ALERTS__TOPIC", raising=False)
    monkeypatch.delenv("CHOREOSCOPE_ALERTS__WEBHOOK_URL", raising=False)
    url, _ = outbox
    assert main(["flows", "publish", "--once", "--store", url]) == 2
    assert "alerts.topic" in capsys.readouterr().err
