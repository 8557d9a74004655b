"""Real Kafka, real instrumentation, real collector: the simulator's order, payment and
notification services run as separate processes instrumented with OpenTelemetry
(opentelemetry-instrumentation-kafka-python for ``send`` and consumer iteration, a hand-made
span per ``poll()`` batch with links), exporting spans over OTLP/HTTP to
``choreoscope collect --otlp``, which also reads their topics. The flow's timeline read back
from the store pairs every event with the spans that produced and consumed it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.model import SpanKind
from collector.store.base import Store, open_store
from collector.traces.join import Via
from collector.traces.query import timeline_for

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service(role: str, bootstrap: str, endpoint: str, prefix: str, count: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.otlp._instrumented", role, "--bootstrap", bootstrap,
         "--endpoint", endpoint, "--prefix", prefix, "--count", str(count)],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _count(store_url: str, sql: str) -> int:
    if not Path(store_url.removeprefix("sqlite:///")).exists():
        return 0
    store = open_store(store_url, read_only=True)
    try:
        return int(store.query(sql)[0]["n"])
    except Exception:  # the collector may not have migrated yet
        return 0
    finally:
        store.close()


def test_instrumented_services_flow_is_joined_across_the_broker(
    kafka_bootstrap: str, tmp_path: Path,
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    topics = ",".join(f"{prefix}{t}" for t in ("orders", "payments", "notifications"))
    store_url = f"sqlite:///{tmp_path / 'traces.db'}"
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}/v1/traces"
    env = {**os.environ, "CHOREOSCOPE_OTLP__GRPC": "false"}
    (tmp_path / "schemas").mkdir()  # collect refuses a missing schemas_dir
    orders = 3
    collector = subprocess.Popen(
        [sys.executable, "-m", "collector.cli", "collect", "--store", store_url,
         "--bootstrap-servers", kafka_bootstrap, "--topics", topics,
         "--group-id", f"{prefix}collector", "--start", "earliest",
         "--otlp", f"127.0.0.1:{port}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _accepts(port, collector), "the collector's OTLP receiver")
        placed = json.loads(_service("order", kafka_bootstrap, endpoint, prefix, orders))
        _service("payment", kafka_bootstrap, endpoint, prefix, orders)
        _service("notification", kafka_bootstrap, endpoint, prefix, orders)
        _wait_for(lambda: _count(store_url, "SELECT COUNT(*) AS n FROM events") >= 3 * orders,
                  "the events in the store")
    finally:
        collector.send_signal(signal.SIGTERM)
        _, err = collector.communicate(timeout=60)
    assert collector.returncode == 0, err[-3000:]

    store = open_store(store_url, read_only=True)
    try:
        _assert_flow(store, placed[0], placed[1:])
    finally:
        store.close()


def _accepts(port: int, process: subprocess.Popen[str]) -> bool:
    assert process.poll() is None, process.communicate()[1][-3000:]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _assert_flow(store: Store, order_id: str, others_placed: list[str]) -> None:
    timeline = timeline_for(store, order_id)
    if os.environ.get("SHOW_TIMELINE"):
        for e in timeline.entries:
            print(e.kind.value, e.start.time(), e.depth, e.service, e.label,
                  e.duration.total_seconds() * 1000, e.gap.total_seconds() * 1000,
                  e.produced_by, [i.id for i in e.consumes], e.unpaired)
    events = [e for e in timeline.entries if e.event is not None]
    types = [e.label for e in events]
    assert types[0] == "OrderPlaced"
    assert set(types) == {"OrderPlaced", types[1], "CustomerNotified"}
    assert types[1] in ("PaymentProcessed", "PaymentFailed")
    join = timeline.join
    placed = events[0].event
    assert placed is not None
    # the producing span is the instrumentation's "send" span of the order service
    producer = join.producers[placed.identity]
    assert (producer.kind, producer.service, producer.name) == (
        SpanKind.PRODUCER, "order-service", f"{placed.location.topic} send")
    assert producer.attributes["messaging.destination"] == placed.location.topic
    # consumed by the payment service (instrumented iteration: a child span) and by the
    # notification service (a poll() batch span in its own trace, linked)
    consumed = {(c.service, c.via) for c in join.consumers_of(placed.identity)}
    assert consumed == {("payment-service", Via.PARENT), ("notification-service", Via.LINK)}
    # the reactions were produced by spans of their services, every event has its producer
    for entry in events[1:]:
        assert entry.event is not None
        span = join.producers[entry.event.identity]
        assert span.service == {"PaymentProcessed": "payment-service",
                                "PaymentFailed": "payment-service",
                                "CustomerNotified": "notification-service"}[entry.label]
    # the order's trace and the notification batch's trace, both whole; the batch's replies
    # about other orders are marked as other flows', and nothing is left unpaired
    assert len(timeline.trace_ids) == 2
    others = {e.other_flow for e in timeline.entries if e.other_flow is not None}
    assert others <= set(others_placed)
    assert order_id not in others
    assert not [e for e in timeline.entries if e.unpaired]
    services = {e.service for e in timeline.entries if e.span is not None}
    assert services == {"order-service", "payment-service", "notification-service"}
    starts = [e.start for e in timeline.entries]
    assert starts == sorted(starts)
    assert timeline.duration.total_seconds() > 0
