"""The collector's own health (Prometheus endpoint and store samples), secrets, retention."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.kafka.health import Health, MetricsServer
from collector.kafka.producer import publish
from collector.kafka.runner import CollectOptions
from collector.model import (
    DeadLetter,
    DeadLetterReason,
    Event,
    FlowSnapshot,
    FlowStatus,
    Location,
    Span,
    SpanKind,
    SpanLink,
)
from collector.store.base import Batch, open_store
from tests.kafka._support import Rec, cloudevent, collect_until, make_collector

pytestmark = pytest.mark.kafka


def test_health_is_served_in_prometheus_text_and_stored(kafka: Any, topic: str,
                                                        tmp_path: Path) -> None:
    records = [Rec(topic, cloudevent(i, f"c-{i}")) for i in range(490)]
    records += [Rec(topic, b"not json") for _ in range(10)]
    publish(records, kafka.bootstrap)
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    health = Health(monotonic=time.monotonic)
    server = MetricsServer(health.registry, "127.0.0.1", 0)
    try:
        validated: list[str] = []
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                             health=health, validate=lambda e: validated.append(e.id) or (),
                             options=CollectOptions(batch_wait=0.05, health_every=0.1))
        collect_until(run, 500)
        run.tap.open()  # sample once more with the partitions read to their end
        try:
            while not run.tap.caught_up():
                run.tap.poll(timeout_ms=200)
            run.collector._sample_health()
            run.collector.flush()
        finally:
            run.tap.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics",
                                    timeout=10) as response:
            text = response.read().decode()
        samples = store.query("SELECT name, labels, value FROM metrics")
    finally:
        server.close()
        store.close()
    assert "choreoscope_records_total 500.0" in text
    assert 'choreoscope_dead_letters_total{reason="not-json"} 10.0' in text
    assert "choreoscope_store_write_seconds_count" in text
    assert "choreoscope_kafka_up 1.0" in text
    for p in range(3):
        assert f'choreoscope_consumer_lag{{partition="{p}",topic="{topic}"}} 0.0' in text
    for stage in ("decode", "validate", "write"):
        assert f'choreoscope_stage_seconds_total{{stage="{stage}"}}' in text
    assert "choreoscope_validation_seconds " in text
    names = {s["name"] for s in samples}
    assert {"records_per_second", "dead_letters_per_second", "store_write_seconds",
            "consumer_lag", "kafka_up", "validation_seconds"} <= names
    assert len(validated) == 490  # the 10 records that are not JSON were never validated
    latency = [s["value"] for s in samples if s["name"] == "validation_seconds"]
    assert latency
    assert all(0 < v < 0.01 for v in latency)
    lag_rows = [s for s in samples if s["name"] == "consumer_lag" and topic in s["labels"]]
    assert lag_rows
    assert lag_rows[-1]["value"] == 0.0


def _collect_sasl(kafka: Any, topic: str, store: Path, password: str, *,
                  until_idle: bool, log_level: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHOREOSCOPE_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
           "CHOREOSCOPE_KAFKA__SASL_MECHANISM": "PLAIN",
           "CHOREOSCOPE_KAFKA__SASL_USERNAME": "collector",
           "CHOREOSCOPE_KAFKA__SASL_PASSWORD": password}
    idle = ["--until-idle", "1"] if until_idle else []
    return subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "--log-level", log_level, "collect",
         "--store", f"sqlite:///{store}", "--bootstrap-servers", kafka.sasl_bootstrap,
         "--topics", topic, "--group-id", f"g-{topic}", "--metrics-port", "0", *idle],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


class _Output:
    """A process's output, read on a thread as it comes (stdout and stderr merged)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.proc, self._lines = proc, list[str]()
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        for line in iter(stream.readline, b""):
            self._lines.append(line.decode("utf-8", "replace"))

    @property
    def text(self) -> str:
        return "".join(self._lines)

    def wait_for(self, *wanted: str, seconds: float) -> None:
        """Until every wanted text appeared: a loaded machine may take longer than any fixed
        sleep before the first connection fails."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.proc.poll() is None:
            if all(w in self.text for w in wanted):
                return
            time.sleep(0.2)

    def finish(self) -> str:
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        return self.text


def test_sasl_settings_pass_through_and_secrets_never_reach_a_log_line(
        kafka: Any, topic: str, tmp_path: Path) -> None:
    from tests.kafka.conftest import SASL_USERS

    password = SASL_USERS["collector"]
    publish([Rec(topic, cloudevent(i, f"c-{i}")) for i in range(20)], kafka.bootstrap)
    # the right password, on the broker's SASL_PLAINTEXT listener: everything is read
    ok = _collect_sasl(kafka, topic, tmp_path / "ok.db", password, until_idle=True,
                       log_level="DEBUG")
    output, _ = ok.communicate(timeout=120)
    text = output.decode("utf-8", "replace")
    assert ok.returncode == 0, text[-3000:]
    assert "collected 20 records" in text
    assert "sasl_plain_password': '***'" in text  # the configuration was logged, masked
    assert password not in text  # even with kafka-python's own DEBUG logging

    assert "loaded " in text  # the start-up line: what the collector works from
    assert "flow definitions from " in text

    # a wrong password: nothing is read, no retry: the collector exits 2 at start-up with one
    # line naming the broker and the reason; kafka-python's own ERROR lines are not shown raw,
    # and no secret is
    wrong = "wr0ng-but-still-secret"
    bad = _collect_sasl(kafka, topic, tmp_path / "bad.db", wrong, until_idle=False,
                        log_level="INFO")
    output, _ = bad.communicate(timeout=120)
    text = output.decode("utf-8", "replace")
    assert bad.returncode == 2, text[-3000:]
    assert "collected 20 records" not in text
    errors = [line for line in text.splitlines() if line.startswith("choreoscope: ")
              and "loaded " not in line]
    assert len(errors) == 1, text[-3000:]
    assert f"Kafka at {kafka.sasl_bootstrap} refused to authenticate" in errors[0]
    assert "sasl_password" in errors[0]  # what to check
    assert not re.search(r" (DEBUG|INFO|WARNING|ERROR) kafka\.", text), text[-3000:]
    assert "Traceback" not in text
    assert wrong not in text


def _event(i: int, at: datetime) -> Event:
    return Event(id=f"e-{i}", type="OrderPlaced", source="s", occurred_at=at,
                 correlation_id=f"c-{i}", data={"i": i}, location=Location("test"),
                 received_at=at, business_keys=(("order_id", str(i)),))


def _span(n: str, at: datetime) -> Span:
    """A batch consumer's span, linked to a producer span."""
    return Span(trace_id=n.rjust(32, "0"), span_id=n.rjust(16, "0"), parent_id=None,
                name="orders process", kind=SpanKind.CONSUMER, service="shipping", start=at,
                end=at + timedelta(milliseconds=5),
                links=(SpanLink("f" * 32, n.rjust(16, "f")),))


def test_retention_deletes_in_batches_and_keeps_flow_summaries(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    old, new = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    flow = FlowSnapshot(instance_id="f-1", correlation_id="c-1", flow_type="order",
                        definition_version=1, status=FlowStatus.COMPLETED, started_at=old,
                        last_event_at=old, last_event_type="OrderCompleted", event_count=2)
    letter = DeadLetter(DeadLetterReason.NOT_JSON, "x", Location("kafka", "t", 0, 1), old, b"x")
    store.write(Batch(events=[_event(i, old) for i in range(250)] + [_event(999, new)],
                      flows=[flow], dead_letters=[letter],
                      metrics=[("kafka_up", {}, 1.0, old)],
                      spans=[_span("01", old), _span("02", new)]))
    try:
        cutoff = datetime(2026, 1, 1, tzinfo=UTC)
        rounds = []
        while (gone := store.delete_older_than(cutoff, 100)) > 0:
            rounds.append(gone)
        count = store.query("SELECT (SELECT COUNT(*) FROM events) AS e, (SELECT COUNT(*) FROM "
                            "business_keys) AS k, (SELECT COUNT(*) FROM dead_letters) AS d, "
                            "(SELECT COUNT(*) FROM flows) AS f, (SELECT COUNT(*) FROM metrics) "
                            "AS m, (SELECT COUNT(*) FROM spans) AS s, (SELECT COUNT(*) FROM "
                            "span_links) AS l, (SELECT span_id FROM span_links) AS kept")[0]
    finally:
        store.close()
    assert len(rounds) >= 3  # 250 old events, at most 100 a round
    assert count == {"e": 1, "k": 1, "d": 0, "f": 1, "m": 0, "s": 1, "l": 1,
                     "kept": "02".rjust(16, "0")}  # the old span's link went with it


def test_the_collector_applies_retention_while_it_reads(kafka: Any, topic: str,
                                                        tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.write(Batch(events=[_event(i, datetime(2025, 1, 1, tzinfo=UTC)) for i in range(300)]))
    now = datetime.now(UTC).isoformat()
    publish([Rec(topic, cloudevent(1000 + i, "c", time=now)) for i in range(50)],
            kafka.bootstrap)
    try:
        run = make_collector(kafka.bootstrap, store, topics=[topic], group=f"g-{topic}",
                             options=CollectOptions(batch_wait=0.05, retention_every=0.1,
                                                    retention=timedelta(days=30),
                                                    retention_batch=50))
        # the group join alone takes longer than the first retention delay (0.1 s)
        collect_until(run, 50)
        ids = [r["id"] for r in store.query("SELECT id FROM events")]
    finally:
        store.close()
    assert sorted(ids) == sorted(f"e-{1000 + i}" for i in range(50))
