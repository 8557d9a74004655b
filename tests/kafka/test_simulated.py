"""Acceptance: 20,000 simulated flows through a real Kafka into the store, against the truth file.

The simulator publishes with ``choreoscope simulate --bootstrap-servers`` and writes what it did
(``--truth``); ``choreoscope collect`` reads it back. The truth is derived from the simulation,
never from the collector's own logic.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.flows.tracker import instance_id
from collector.store.base import open_store

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TOPICS = "orders,payments,inventory,shipping,notifications,customers"
FAULTS = ["duplicate=0.05", "reorder=0.05", "lost=0.02", "undecodable=0.01",
          "no-correlation=0.01"]


@dataclass
class Outcome:
    truth: list[dict[str, Any]]
    events: list[dict[str, Any]]
    rolled_up: Counter[str]
    flows: dict[str, dict[str, Any]]
    dead_letters: Counter[str]
    collect_stdout: str


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "collector.cli", "--log-level", "WARNING",
                           *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def simulated(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    if not kafka_broker.running:
        kafka_broker.start()
    tmp = tmp_path_factory.mktemp("simulated")
    truth_file = tmp / "truth.jsonl"
    faults = [arg for f in FAULTS for arg in ("--fault-rate", f)]
    _cli("simulate", "--flows", "20000", "--seed", "11", *faults, "--truth", str(truth_file),
         "--bootstrap-servers", kafka_broker.bootstrap)
    url = f"sqlite:///{tmp / 'store.db'}"
    collected = _cli("collect", "--store", url, "--bootstrap-servers", kafka_broker.bootstrap,
                     "--topics", TOPICS, "--group-id", "acceptance", "--metrics-port", "0",
                     "--until-idle", "2")
    store = open_store(url, read_only=True)
    try:
        events = store.query("SELECT source, id, type, correlation_id, instance_id FROM events")
        flows = {r["instance_id"]: r for r in store.query("SELECT * FROM flows")}
        letters = Counter(r["reason"] for r in store.query("SELECT reason FROM dead_letters"))
        rolled_up = Counter({r["event_type"]: r["n"] for r in store.query(
            "SELECT event_type, SUM(count) AS n FROM catalog_traffic_minute "
            "WHERE kind = 'produce' GROUP BY event_type")})
    finally:
        store.close()
    truth = [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]
    return Outcome(truth, events, rolled_up, flows, letters, collected.stdout)


def test_every_truth_flow_has_exactly_its_events_each_stored_once(simulated: Outcome) -> None:
    assert len(simulated.truth) == 20_000
    by_correlation: dict[str, set[tuple[str, str]]] = {}
    stored = Counter((e["source"], e["id"]) for e in simulated.events)
    assert max(stored.values()) == 1
    for e in simulated.events:
        by_correlation.setdefault(e["correlation_id"], set()).add((e["source"], e["id"]))
    wrong = [t["correlation_id"] for t in simulated.truth
             if by_correlation.get(t["correlation_id"]) != {tuple(i) for i in t["events"]}]
    assert wrong == [], f"{len(wrong)} flows differ, e.g. {wrong[:3]}"
    assert sum(len(t["events"]) for t in simulated.truth) == len(simulated.events)


def test_every_truth_flow_is_an_instance_holding_its_events(simulated: Outcome) -> None:
    by_instance: dict[str, set[tuple[str, str]]] = {}
    for e in simulated.events:
        by_instance.setdefault(e["instance_id"], set()).add((e["source"], e["id"]))
    wrong = []
    for t in simulated.truth:
        instance = instance_id(*t["instance"])
        flow = simulated.flows.get(instance)
        if (flow is None or flow["flow_type"] != t["flow_type"]
                or flow["correlation_id"] != t["correlation_id"]
                or by_instance.get(instance) != {tuple(i) for i in t["events"]}):
            wrong.append(t["correlation_id"])
    assert wrong == [], f"{len(wrong)} flows differ, e.g. {wrong[:3]}"


def test_undecodable_and_uncorrelated_records_are_dead_letters(simulated: Outcome) -> None:
    faults = Counter(f["name"] for t in simulated.truth for f in t["faults"])
    assert simulated.dead_letters["no-correlation"] == faults["no-correlation"] > 0
    assert (simulated.dead_letters["not-utf8"] + simulated.dead_letters["not-json"]
            == faults["undecodable"] > 0)
    assert set(simulated.dead_letters) <= {"no-correlation", "not-utf8", "not-json"}


def test_outcomes_match_the_truth_once_caught_up(simulated: Outcome) -> None:
    # Caught up, the detection clock is wall time, past the simulation's settle time.
    wrong = [t["correlation_id"] for t in simulated.truth
             if simulated.flows[instance_id(*t["instance"])]["status"] != t["outcome"]]
    assert wrong == [], f"{len(wrong)} outcomes differ, e.g. {wrong[:3]}"


def test_records_are_read_once(simulated: Outcome, tmp_path: Path) -> None:
    records = int(simulated.collect_stdout.split("collected ")[1].split(" ")[0])
    events = len(simulated.events)
    dead = sum(simulated.dead_letters.values())
    duplicates = sum(1 for t in simulated.truth for f in t["faults"] if f["name"] == "duplicate")
    assert records == events + dead + duplicates


def test_the_catalogs_traffic_rollups_count_every_stored_event(simulated: Outcome) -> None:
    """collect keeps the event map's rollups current: each stored event counted once."""
    stored = Counter(e["type"] for e in simulated.events)
    assert simulated.rolled_up == stored
    assert simulated.rolled_up["OrderPlaced"] > 0
