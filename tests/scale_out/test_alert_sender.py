"""Issue 19: each alert is sent once per store, whatever the number of collectors on it.

Every process on a store runs an alert pump, but only the store's alert sender sends
(`Store.hold_alert_sender`: PostgreSQL's session advisory lock, a `flock` beside a SQLite
file). Two pumps racing over many pending alerts deliver each alert id once to a real webhook;
a sender killed with SIGKILL mid-send frees the role at once, and the other sends everything
left, re-sending only the killed one's unmarked alerts with their ids. Both backends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.flows.publish import AlertPump, OutboxPublisher, WebhookSink
from collector.model import Alert, AlertKind
from collector.store.base import Batch, Store, open_store
from tests._webhook import Receiver

pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 6, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'alerts.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _pending(url: str, n: int) -> set[str]:
    """``n`` unsent alerts in the outbox of the store at ``url``; their ids."""
    store = open_store(url)
    try:
        store.write(Batch(alerts=[
            Alert(f"a{i:04}", AlertKind.FLOW_STUCK, f"i{i}", f"c{i}", "ping", "Ping",
                  T0 + timedelta(milliseconds=i)) for i in range(n)]))
        return {r["alert_id"] for r in store.query("SELECT alert_id FROM outbox")}
    finally:
        store.close()


def _unsent(store: Store) -> int:
    return int(store.query("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")[0]["n"])


def _until(check: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _pump(store: Store, receiver: Receiver, batch_size: int) -> AlertPump:
    publisher = OutboxPublisher(store, [WebhookSink(receiver.url)], now=lambda: T0,
                                batch_size=batch_size)
    return AlertPump(publisher, monotonic=time.monotonic, every=0.02, poll=True)


def test_only_the_alert_sender_sends_and_the_role_is_freed_on_close(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    try:
        assert first.hold_alert_sender()
        assert first.hold_alert_sender()  # held, not taken twice
        assert not second.hold_alert_sender()
        first.close()
        assert second.hold_alert_sender()
    finally:
        first.close()
        second.close()


def test_two_pumps_racing_over_one_outbox_send_each_alert_id_once(store_url: str) -> None:
    ids = _pending(store_url, 600)
    receiver = Receiver()
    stores = [open_store(store_url), open_store(store_url)]
    pumps = [_pump(s, receiver, batch_size=40) for s in stores]
    try:
        for pump in pumps:
            pump.start()
        _until(lambda: _unsent(stores[0]) == 0, 120, "every alert marked sent")
        for pump in pumps:
            assert pump.stop()
    finally:
        receiver.close()
        for s in stores:
            s.close()
    twice = [i for i, n in Counter(receiver.received).items() if n > 1]
    assert twice == []
    assert sorted(receiver.received) == sorted(ids)
    assert sorted(p.publisher.sent for p in pumps) == [0, 600]  # one sender sent them all
    assert sorted(bool(p.publisher.sender) for p in pumps) == [False, True]


def test_a_sender_killed_mid_send_is_replaced_and_only_its_unmarked_alerts_come_twice(
        store_url: str) -> None:
    ids = _pending(store_url, 40)
    receiver = Receiver(hold_at=7)  # the killed sender's 7th POST is never answered
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    env["CHOREOSCOPE_ALERTS__BATCH_SIZE"] = "100"
    store = open_store(store_url)
    pump = _pump(store, receiver, batch_size=100)
    killed = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "flows", "publish", "--store", store_url,
         "--webhook", receiver.url], env=env, cwd=ROOT)
    try:
        assert receiver.holding.wait(60), "the first publisher never sent"
        for _ in range(20):  # the first is the sender: the other waits, sending nothing
            assert pump.pump() == 0
            time.sleep(0.05)
        assert pump.publisher.sender is False
        assert len(receiver.received) == 7
        killed.send_signal(signal.SIGKILL)  # sent 7, marked none
        killed.wait(30)
        receiver.release.set()
        _until(lambda: pump.pump() or _unsent(store) == 0, 60, "the other to send")
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait(30)
        receiver.close()
        store.close()
    assert pump.publisher.sender is True
    assert pump.publisher.sent == 40
    assert set(receiver.received) == ids  # nothing lost
    again = Counter(receiver.received) - Counter(ids)
    assert sorted(again) == sorted(receiver.received[:7])  # the killed one's unmarked 7, once more
    assert len(receiver.received) == 47
