"""``simulate --bootstrap-servers`` against the test session's real Kafka broker: what the
collector then reads from the domain topics is exactly what the truth says was delivered.

Uses the domain topic names (orders, payments, …): no other test publishes to them.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from collector.cli import main
from collector.store.base import open_store
from tests.kafka._support import collect_until, make_collector
from tests.kafka.conftest import kafka, kafka_broker  # noqa: F401  (the session broker)

from .conftest import SCHEMAS

pytestmark = pytest.mark.kafka


def test_published_records_are_what_the_truth_says(kafka: Any, tmp_path: Path,  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))
    out, truth, expect = (tmp_path / n for n in ("out.jsonl", "truth.jsonl", "expect.jsonl"))
    assert main(["simulate", "--flows", "150", "--seed", "31", "--bootstrap-servers",
                 kafka.bootstrap, "--out", str(out), "--truth", str(truth),
                 "--expectations", str(expect), "--fault-rate", "duplicate=0.2",
                 "--fault-rate", "undecodable=0.1", "--fault-rate", "no-correlation=0.1"]) == 0
    published = len(out.read_bytes().splitlines())
    store = open_store(f"sqlite:///{tmp_path / 'kafka.db'}")
    try:
        run = make_collector(kafka.bootstrap, store, group="simulate-test", topics=[
            "orders", "payments", "inventory", "shipping", "notifications", "customers"])
        collect_until(run, published)
        rows = [json.loads(line) for line in truth.read_text().splitlines()]
        stored = {(r["source"], r["id"]) for r in store.query("SELECT source, id FROM events")}
        assert stored == {tuple(e) for row in rows for e in row["events"]}
        dead = Counter(r["reason"] for r in store.query("SELECT reason FROM dead_letters"))
        expected = Counter(e["reason"] for e in map(json.loads, expect.read_text().splitlines())
                           if e["kind"] == "dead-letter")
        assert dead == expected
        assert run.pipeline.stats.observations == published
    finally:
        store.close()
