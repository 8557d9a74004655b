"""``simulate --bootstrap-servers`` against the test session's real Kafka broker: what the
collector then reads from the domain topics is exactly what the truth says was delivered.

The session broker is shared (tests/kafka/test_simulated.py publishes 20,000 flows to the plain
domain topics), so this run publishes under a topic prefix of its own (``--topic-prefix``) and
reads only those topics.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main
from collector.simulator import TOPOLOGY
from collector.store.base import open_store
from tests.kafka._support import collect_until, make_collector

from .conftest import SCHEMAS

pytestmark = pytest.mark.kafka


@pytest.fixture
def topic() -> str:
    return f"simulator-{uuid.uuid4().hex[:12]}"


def test_published_records_are_what_the_truth_says(kafka: Any, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))
    out, truth, expect = (tmp_path / n for n in ("out.jsonl", "truth.jsonl", "expect.jsonl"))
    prefix = f"sim-{uuid.uuid4().hex[:8]}."
    assert main(["simulate", "--flows", "150", "--seed", "31", "--bootstrap-servers",
                 kafka.bootstrap, "--topic-prefix", prefix, "--out", str(out),
                 "--truth", str(truth), "--expectations", str(expect),
                 "--fault-rate", "duplicate=0.2", "--fault-rate", "undecodable=0.1",
                 "--fault-rate", "no-correlation=0.1"]) == 0
    published = len(out.read_bytes().splitlines())
    store = open_store(f"sqlite:///{tmp_path / 'kafka.db'}")
    try:
        run = make_collector(kafka.bootstrap, store, group=f"g-{prefix}",
                             topics=[prefix + t for t in TOPOLOGY.topics])
        collect_until(run, published)
        rows = [json.loads(line) for line in truth.read_text().splitlines()]
        stored = {(r["source"], r["id"]) for r in store.query("SELECT source, id FROM events")}
        assert stored == {tuple(e) for row in rows for e in row["events"]}
        dead = Counter(r["reason"] for r in store.query("SELECT reason FROM dead_letters"))
        expected = Counter(e["reason"] for e in map(json.loads, expect.read_text().splitlines())
                           if e["kind"] == "dead-letter")
        assert dead == expected
        topics = {r["topic"] for r in store.query("SELECT DISTINCT topic FROM events")}
        assert topics == {prefix + t for t in TOPOLOGY.topics}
        assert run.pipeline.stats.observations == published
    finally:
        store.close()


def test_paced_publishing_streams_about_a_second_at_a_time(
        kafka: Any, topic: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``publish`` takes a list; paced runs never end, so the command sends in chunks."""
    import time
    from datetime import UTC, datetime

    import collector.kafka.producer as producer
    from collector.commands.simulate import _publish_paced
    from collector.simulator import SimRecord

    sizes: list[int] = []
    real = producer.publish

    def counting(records: Any, *args: Any, **kwargs: Any) -> int:
        sizes.append(len(records))
        return real(records, *args, **kwargs)

    monkeypatch.setattr(producer, "publish", counting)

    def slow() -> Any:
        for i in range(8):
            time.sleep(0.35)
            yield SimRecord(topic, b"k", b'{"i": %d}' % i, (), datetime.now(UTC))

    _publish_paced(slow(), kafka.bootstrap, None)
    assert sum(sizes) == 8
    assert len(sizes) >= 2  # sent while the run went on, not at its end
    store = open_store(f"sqlite:///{tmp_path / 'paced.db'}")
    try:
        run = make_collector(kafka.bootstrap, store, group=f"g-{topic}", topics=[topic])
        collect_until(run, 8)
        assert run.pipeline.stats.observations == 8
    finally:
        store.close()


def test_the_generated_domain_publishes_to_kafka(kafka: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``--domain generated`` to a real broker: every record reaches the collector, on the
    generated domain's 15 topics."""
    from collector.simulator.generated import generate_domain

    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))
    out = tmp_path / "out.jsonl"
    prefix = f"gen-{uuid.uuid4().hex[:8]}."
    assert main(["simulate", "--domain", "generated", "--flows", "120", "--seed", "4",
                 "--bootstrap-servers", kafka.bootstrap, "--topic-prefix", prefix,
                 "--out", str(out)]) == 0
    published = len(out.read_bytes().splitlines())
    domain_topics = generate_domain(seed=4).topology.topics
    store = open_store(f"sqlite:///{tmp_path / 'gen.db'}")
    try:
        run = make_collector(kafka.bootstrap, store, group=f"g-{prefix}",
                             topics=[prefix + t for t in domain_topics])
        collect_until(run, published)
        topics = {r["topic"] for r in store.query("SELECT DISTINCT topic FROM events")}
        count = store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    finally:
        store.close()
    assert len(domain_topics) == 15
    assert topics == {prefix + t for t in domain_topics}
    assert count == published
