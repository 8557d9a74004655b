"""The group clock's edges against the real broker (issue 19's early verdicts): a tap answers
whether it has read its partitions to the end offsets the broker gives *now*, not to those of
its last fetch; and a scale-out collector's tracker gives up its flows, and its clock gives no
time, from a revoke until its next assignment is restored."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from collector.kafka.producer import publish
from collector.kafka.tap import KafkaTap, TapOptions
from collector.scaleout.clock import GroupClock
from collector.scaleout.process import build_scale_out
from collector.scaleout.tracking import TrackingPipeline
from collector.settings import load_settings
from collector.store.base import Store, open_store
from tests.kafka._support import ce_records

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


def _read_all(tap: KafkaTap, count: int, timeout: float = 60.0) -> int:
    seen, deadline = 0, time.monotonic() + timeout
    while seen < count:
        assert time.monotonic() < deadline, f"read {seen} of {count} records"
        observations, _ = tap.poll(timeout_ms=500)
        seen += len(observations)
    return seen


def test_read_to_end_asks_the_broker_for_the_end_offsets_now(kafka: Any, store: Store) -> None:
    topic = f"read-to-end-{uuid.uuid4().hex[:8]}"
    publish(ce_records(topic, range(30)), kafka.bootstrap)
    tap = KafkaTap(TapOptions(topics=(topic,), group_id=f"g-{topic}",
                              client={"bootstrap_servers": [kafka.bootstrap]}), store.positions)
    tap.open()
    try:
        assert tap.read_to_end() is False  # nothing assigned yet
        _read_all(tap, 30)
        assert tap.read_to_end() is True
        publish(ce_records(topic, range(30, 31)), kafka.bootstrap)
        # not polled since: whatever the last fetch said, one record is unread now
        assert tap.read_to_end() is False
        _read_all(tap, 1)
        assert tap.read_to_end() is True
    finally:
        tap.close()


def test_a_scale_out_tracker_gives_up_its_flows_from_the_revoke_to_the_next_restore(
        kafka: Any, tmp_path: Path) -> None:
    group = f"g-{uuid.uuid4().hex[:8]}"
    settings = load_settings(store=f"sqlite:///{tmp_path / 's.db'}",
                             schemas_dir=str(ROOT / "schemas"),
                             kafka={"bootstrap_servers": kafka.bootstrap,
                                    "topics": [f"{group}.orders"], "group_id": group},
                             scale_out={"enabled": True, "partitions": 2})
    store = open_store(settings.store)
    collector = build_scale_out(settings, store)
    try:
        tracker = collector.tracker
        pipeline = tracker.pipeline
        assert isinstance(pipeline, TrackingPipeline)
        assert isinstance(tracker.clock, GroupClock)
        assert tracker.tap.on_assign is not None
        tracker.tap.on_assign([(f"choreoscope.{group}.flows", 1)])
        assert pipeline.settled()
        assert pipeline.owned == frozenset({1})
        assert tracker.tap.on_revoke is not None
        tracker.tap.on_revoke()  # what Kafka's rebalance listener calls
        assert pipeline.owned == frozenset()
        assert pipeline.tracker is None
        assert not pipeline.settled()
        assert tracker.clock.now({}, caught_up=True) is None
    finally:
        collector.close()
        store.close()
