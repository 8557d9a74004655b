"""``choreoscope collect`` from a real Kafka into PostgreSQL and, for comparison, SQLite: against
the simulator's truth every event is stored once, every flow has its events and outcome, every
dead letter is there, each stuck flow alerted once. Killed with SIGKILL mid-stream and started
again, the same holds (issue 19): every event is stored once (a batch and its positions commit
together), and the flows that span the kill are whole, with the outcome and the single FlowStuck
alert of the run that was never killed (the restarted tracker holds what the killed one held).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collector.flows.tracker import instance_id
from collector.store import open_store
from tests._simulate import clean_env, cli, read_truth, simulate

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FLOWS = 3000
PREFIX = "pgstore."
TOPICS = ",".join(PREFIX + t for t in ("orders", "payments", "inventory", "shipping",
                                       "notifications", "customers"))
FAULTS = ["duplicate=0.05", "reorder=0.05", "lost=0.03", "undecodable=0.01",
          "no-correlation=0.01"]


def _count(url: str, sql: str) -> int:
    store = open_store(url, read_only=True)
    try:
        return int(store.query(sql)[0]["n"])
    finally:
        store.close()


_PUBLISHED: list[Path] = []


def _published(kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulation, published once for both backends; its truth file."""
    if _PUBLISHED:
        return _PUBLISHED[0]
    truth_file = simulate(kafka_broker.bootstrap,
                          tmp_path_factory.mktemp("pgcollect") / "truth.jsonl", flows=FLOWS,
                          seed=21, faults=FAULTS, prefix=PREFIX, timeout=600)
    _PUBLISHED.append(truth_file)
    return truth_file


@dataclass(frozen=True, slots=True)
class Collected:
    url: str
    truth: list[dict[str, Any]]
    killed: bool


@pytest.fixture(scope="module", params=[("postgresql", False), ("postgresql", True),
                                        ("sqlite", False), ("sqlite", True)],
                ids=["postgresql", "postgresql-killed", "sqlite", "sqlite-killed"])
def collected(request: pytest.FixtureRequest, kafka_broker: Any, postgres_server: Any,
              tmp_path_factory: pytest.TempPathFactory) -> Collected:
    backend, kill = request.param
    if not kafka_broker.running:
        kafka_broker.start()
    truth_file = _published(kafka_broker, tmp_path_factory)
    group = f"pgstore-{backend}-{kill}"
    url = (postgres_server.create_database(f"collect_{int(kill)}") if backend == "postgresql"
           else f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'store.db'}")
    collect = cli("collect", "--store", url, "--bootstrap-servers", kafka_broker.bootstrap,
                       "--topics", TOPICS, "--group-id", group, "--metrics-port", "0",
                       "--until-idle", "3")
    if kill:
        first = subprocess.Popen(collect, env=clean_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        stored = 0
        while time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.2)
            try:
                stored = _count(url, "SELECT COUNT(*) AS n FROM events")
            except Exception:  # not migrated yet
                continue
            if stored > 2000:
                break
        assert first.poll() is None, "the first collector ended before it could be killed"
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert stored > 0
    again = subprocess.run(collect, env=clean_env(), capture_output=True, text=True, timeout=600,
                           check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    truth = read_truth(truth_file)
    return Collected(url, truth, kill)


def test_every_truth_event_is_stored_once(collected: Collected) -> None:
    url, truth = collected.url, collected.truth
    store = open_store(url, read_only=True)
    try:
        events = store.query("SELECT source, id, correlation_id, instance_id FROM events")
        flows = {r["instance_id"]: r for r in store.query("SELECT * FROM flows")}
        letters = Counter(r["reason"] for r in store.query("SELECT reason FROM dead_letters"))
    finally:
        store.close()
    assert len(truth) == FLOWS
    assert len(events) == sum(len(t["events"]) for t in truth)
    by_instance: dict[str, set[tuple[str, str]]] = {}
    for e in events:
        by_instance.setdefault(e["instance_id"], set()).add((e["source"], e["id"]))
    assert len({(e["source"], e["id"]) for e in events}) == len(events)
    faults = Counter(f["name"] for t in truth for f in t["faults"])
    assert letters["no-correlation"] == faults["no-correlation"] > 0
    assert letters["not-utf8"] + letters["not-json"] == faults["undecodable"] > 0
    held = [t["correlation_id"] for t in truth
            if by_instance.get(instance_id(*t["instance"])) != {tuple(i) for i in t["events"]}]
    assert held == [], f"{len(held)} flows hold other events, e.g. {held[:3]}"
    outcome = [(t["outcome"], flows[instance_id(*t["instance"])]["status"]) for t in truth
               if flows[instance_id(*t["instance"])]["status"] != t["outcome"]]
    assert outcome == [], f"{len(outcome)} outcomes differ, e.g. {Counter(outcome)}"


def test_alerts_are_in_the_outbox_once_each(collected: Collected) -> None:
    url, truth = collected.url, collected.truth
    once = "SELECT COUNT(*) - COUNT(DISTINCT instance_id) AS n FROM outbox WHERE kind = 'FlowStuck'"
    assert _count(url, once) == 0
    stuck = sum(1 for t in truth if t["outcome"] == "stuck")
    assert stuck > 0
    assert _count(url, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'FlowStuck'") == stuck


def test_positions_are_stored_per_partition(collected: Collected) -> None:
    url = collected.url
    assert _count(url, "SELECT COUNT(*) AS n FROM positions WHERE reader LIKE 'kafka:%'") > 0
