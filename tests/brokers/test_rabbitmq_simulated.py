"""Acceptance: simulated flows with every fault on, published to a real RabbitMQ with
``simulate --amqp-url`` and collected with ``collect --amqp-url`` alone, against the truth file.

2,000 flows (not the issue's 20,000: publishing with confirms on the shared two-core test
machine takes about a minute per 2,000 flows); the same checks as the Kafka acceptance test.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from collector.flows.tracker import instance_id
from tests.brokers._rabbit import cli, declare_exchanges, declare_tap, query
from tests.brokers._servers import RabbitNode

pytestmark = [pytest.mark.brokers, pytest.mark.slow]

FLOWS = 2000
FAULTS = ["duplicate=0.05", "reorder=0.05", "lost=0.02", "undecodable=0.01",
          "no-correlation=0.01"]


@dataclass
class Outcome:
    truth: list[dict[str, Any]]
    events: list[dict[str, Any]]
    flows: dict[str, dict[str, Any]]
    dead_letters: list[dict[str, Any]]
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def simulated(rabbitmq_node: RabbitNode, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    tmp = tmp_path_factory.mktemp("rabbit-simulated")
    declare_exchanges(rabbitmq_node.url)
    declare_tap(rabbitmq_node.url, "acceptance")
    truth_file = tmp / "truth.jsonl"
    faults = [arg for f in FAULTS for arg in ("--fault-rate", f)]
    cli("simulate", "--flows", str(FLOWS), "--seed", "11", *faults, "--truth", str(truth_file),
        "--amqp-url", rabbitmq_node.url)
    url = f"sqlite:///{tmp / 'store.db'}"
    done = cli("collect", "--store", url, "--amqp-url", rabbitmq_node.url, "--group-id",
               "acceptance", "--metrics-port", "0", "--until-idle", "2")
    truth = [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]
    return Outcome(
        truth,
        query(url, "SELECT source, id, type, correlation_id, instance_id, topic FROM events"),
        {r["instance_id"]: r for r in query(url, "SELECT * FROM flows")},
        query(url, "SELECT reason, topic FROM dead_letters"), done.stdout, done.stderr)


def test_collect_says_which_broker_and_what_it_promises(simulated: Outcome) -> None:
    line = next(line for line in simulated.stderr.splitlines() if "loaded " in line)
    assert "; reading rabbitmq:acceptance: effectively once" in line


def test_every_truth_flow_has_exactly_its_events(simulated: Outcome) -> None:
    assert len(simulated.truth) == FLOWS
    by_correlation: dict[str, set[tuple[str, str]]] = {}
    for e in simulated.events:
        by_correlation.setdefault(e["correlation_id"], set()).add((e["source"], e["id"]))
    wrong = [t["correlation_id"] for t in simulated.truth
             if by_correlation.get(t["correlation_id"]) != {tuple(i) for i in t["events"]}]
    assert wrong == [], f"{len(wrong)} flows differ, e.g. {wrong[:3]}"
    assert sum(len(t["events"]) for t in simulated.truth) == len(simulated.events)


def test_sources_are_named_by_exchange_and_routing_key(simulated: Outcome) -> None:
    topics = {e["topic"] for e in simulated.events}
    assert "rabbitmq:orders/OrderPlaced" in topics
    assert all(t.startswith("rabbitmq:") for t in topics)


def test_outcomes_match_the_truth_with_full_precision_and_recall(simulated: Outcome) -> None:
    wrong = [t["correlation_id"] for t in simulated.truth
             if simulated.flows[instance_id(*t["instance"])]["status"] != t["outcome"]]
    assert wrong == [], f"{len(wrong)} outcomes differ, e.g. {wrong[:3]}"
    stuck = {t["correlation_id"] for t in simulated.truth if t["outcome"] == "stuck"}
    assert stuck
    assert {f["correlation_id"] for f in simulated.flows.values() if f["status"] == "stuck"} == (
        stuck)
    breached = {t["correlation_id"] for t in simulated.truth if t["sla_breached"]}
    assert breached
    assert {f["correlation_id"] for f in simulated.flows.values() if f["sla_breached"]} == (
        breached)


def test_undecodable_and_uncorrelated_records_are_dead_letters(simulated: Outcome) -> None:
    faults = Counter(f["name"] for t in simulated.truth for f in t["faults"])
    reasons = Counter(d["reason"] for d in simulated.dead_letters)
    assert reasons["no-correlation"] == faults["no-correlation"] > 0
    assert reasons["not-utf8"] + reasons["not-json"] == faults["undecodable"] > 0
