"""Crashes and outages mid-stream: kill -9, a stopped broker; nothing lost, nothing doubled."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from collector.kafka.producer import publish
from collector.kafka.runner import CollectOptions
from collector.store.base import open_store
from tests.kafka._support import (
    ce_records,
    collect_until,
    committed,
    end_offsets,
    make_collector,
    stored_ids,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created or not migrated yet


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _collect_cmd(bootstrap: str, topic: str, url: str) -> list[str]:
    return [sys.executable, "-m", "collector.cli", "collect", "--store", url,
            "--bootstrap-servers", bootstrap, "--topics", topic, "--group-id", f"g-{topic}",
            "--metrics-port", "0", "--until-idle", "2"]


def test_kill_9_mid_stream_then_restart_stores_every_event_once(kafka: Any, topic: str,
                                                                 tmp_path: Path) -> None:
    total = 60_000
    publish(ce_records(topic, range(total)), kafka.bootstrap)
    db = tmp_path / "store.db"
    url = f"sqlite:///{db}"
    first = subprocess.Popen(_collect_cmd(kafka.bootstrap, topic, url),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: _count(db) >= 5000 or first.poll() is not None, 90, "first events")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = _count(db)
    assert 0 < at_kill < total, f"not killed mid-stream ({at_kill} of {total} stored)"

    second = subprocess.run(_collect_cmd(kafka.bootstrap, topic, url), capture_output=True,
                            text=True, timeout=180, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    read_again = int(second.stdout.split("collected ")[1].split(" ")[0])
    assert read_again <= total - at_kill  # resumed from the stored positions, not the start

    store = open_store(url)
    try:
        assert stored_ids(store) == sorted(f"e-{i}" for i in range(total))
        positions = {p: n for (_, p), n in store.positions(f"kafka:g-{topic}").items()}
    finally:
        store.close()
    assert positions == end_offsets(kafka.bootstrap, topic)
    assert committed(kafka.bootstrap, f"g-{topic}", topic) == positions


def test_broker_stopped_and_started_mid_stream_loses_and_doubles_nothing(
        kafka: Any, topic: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # librdkafka fetches ahead: a backlog published at once would be in the tap's queue before
    # the broker stops, so half comes before the outage and half only once it is over
    total, before = 30_000, 15_000
    publish(ce_records(topic, range(before)), kafka.bootstrap)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                         options=CollectOptions(batch_max=500, batch_wait=0.05))
    original = run.pipeline.write_prepared

    def slow_store(prepared: Any) -> None:
        time.sleep(0.05)  # a slower store, so the outage falls in the middle of the stream
        original(prepared)

    run.pipeline.write_prepared = slow_store  # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="collector.kafka")
    stop = threading.Event()
    failure: list[BaseException] = []

    def collect() -> None:
        try:
            collect_until(run, total, timeout=240, stop=stop)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=collect)
    worker.start()
    try:
        _wait_for(lambda: run.pipeline.stats.observations >= 3000, 60, "first records")
        kafka.stop()
        time.sleep(3)
        assert run.pipeline.stats.observations <= before
        kafka.start()
        publish(ce_records(topic, range(before, total)), kafka.bootstrap)
        worker.join(240)
    finally:
        stop.set()
        worker.join()
    assert not failure, failure
    try:
        assert stored_ids(store) == sorted(f"e-{i}" for i in range(total))
        positions = {p: n for (_, p), n in store.positions(f"kafka:g-{topic}").items()}
    finally:
        store.close()
    assert positions == end_offsets(kafka.bootstrap, topic)
    assert committed(kafka.bootstrap, f"g-{topic}", topic) == positions
    changes = [r.getMessage() for r in caplog.records if r.name == "collector.kafka.tap"
               and ("unreachable" in r.getMessage() or "reachable again" in r.getMessage())]
    assert changes, "the outage was not noticed"
    assert "unreachable" in changes[0], changes
    assert "reachable again" in changes[-1], changes
    for before, after in itertools.pairwise(changes):  # one line per change
        assert ("unreachable" in before) != ("unreachable" in after)


def test_a_failing_store_write_stops_the_collector_before_its_offsets_move(
        kafka: Any, topic: str, tmp_path: Path) -> None:
    """Writes run on the writer thread while the loop reads on: when one fails (the disk is
    full, say), no later batch is written, Kafka's offsets never pass what the store holds,
    and a restart stores every event once."""
    from collector.exceptions import StoreError

    total = 12_000
    publish(ce_records(topic, range(total)), kafka.bootstrap)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                         options=CollectOptions(batch_max=500, batch_wait=0.05))
    original = run.pipeline.write_prepared
    writes = itertools.count()

    def full_disk(prepared: Any) -> None:
        if next(writes) == 1:  # each poll brings up to max_poll_records: a few batches in all
            raise StoreError("cannot write to the store: database or disk is full")
        original(prepared)

    run.pipeline.write_prepared = full_disk  # type: ignore[method-assign]
    try:
        with pytest.raises(StoreError, match="disk is full"):
            collect_until(run, total)
        stored = stored_ids(store)
        positions = {p: n for (_, p), n in store.positions(f"kafka:g-{topic}").items()}
    finally:
        store.close()
    assert 0 < len(stored) < total
    assert sum(positions.values()) == len(stored)  # no position past what was stored
    for partition, offset in committed(kafka.bootstrap, f"g-{topic}", topic).items():
        assert offset <= positions[partition]

    store = open_store(url)
    try:
        collect_until(make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}"),
                      total - len(stored))
        assert stored_ids(store) == sorted(f"e-{i}" for i in range(total))
    finally:
        store.close()
