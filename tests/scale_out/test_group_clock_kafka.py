"""The group clock's edges against the real broker (issue 19's early verdicts): a tap answers
whether it has read its partitions to the end offsets the broker gives *now*, not to those of
its last fetch."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from collector.kafka.producer import publish
from collector.kafka.tap import KafkaTap, TapOptions
from collector.store.base import Store, open_store
from tests.kafka._support import ce_records

pytestmark = pytest.mark.kafka


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

