"""Live detection on the wall clock: a flow is flagged stuck within 1 s of its deadline even
when no further event arrives (the real runner, pipeline, tracker and SQLite store)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from collector.envelope import Decoder, build_rules
from collector.flows.definition import parse_definition
from collector.flows.tracker import FlowTracker
from collector.live import LiveRunner
from collector.model import Location, Observation
from collector.pipeline import Pipeline
from collector.settings import load_settings
from collector.store.base import open_store

DEADLINE = timedelta(seconds=1.5)
QUICK = parse_definition({
    "flow_type": "quick", "version": 1, "start": ["Asked"], "terminal": {"success": ["Answered"]},
    "transitions": [{"from": "Asked", "to": ["Answered"], "deadline": "PT1.5S"}],
    "sla": "PT10S"})


def record(at: datetime, n: int) -> Observation:
    value = orjson.dumps({
        "specversion": "1.0", "id": f"ask-{n}", "source": "desk", "type": "Asked",
        "time": at.isoformat(), "subject": f"q{n}", "correlationid": f"q{n}", "data": {}})
    return Observation(location=Location("test", "asks", 0, n), received_at=at, value=value)


@pytest.mark.slow
def test_flagged_within_a_second_of_the_deadline_without_further_events(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    pipeline = Pipeline(store, Decoder(build_rules(load_settings())),
                        tracker=FlowTracker([QUICK]))
    runner = LiveRunner(pipeline, now=lambda: datetime.now(UTC), tick_every=0.5)
    stop = threading.Event()
    sent: list[datetime] = []

    def source() -> Iterator[Observation]:
        for n in range(3):
            at = datetime.now(UTC)
            sent.append(at)
            yield record(at, n)
            time.sleep(0.3)
        stop.wait(10)  # then silence: no further events

    thread = threading.Thread(target=runner.run, args=(source(), stop), daemon=True)
    thread.start()
    flagged: dict[str, datetime] = {}
    reader = open_store(store.url, read_only=True)
    try:
        limit = time.monotonic() + 10
        while len(flagged) < 3 and time.monotonic() < limit:
            for r in reader.query("SELECT correlation_id FROM flows WHERE status = 'stuck'"):
                flagged.setdefault(r["correlation_id"], datetime.now(UTC))
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
        reader.close()
        store.close()
    assert sorted(flagged) == ["q0", "q1", "q2"]
    for n, at in enumerate(sent):
        late = flagged[f"q{n}"] - (at + DEADLINE)
        assert timedelta(0) <= late <= timedelta(seconds=1), (n, late)
