"""The issue's acceptance run, shared by the tests (at a count the shared test machine affords)
and the ``rabbitmq_acceptance_20000`` / ``nats_acceptance_20000`` bench lines (at the issue's
20,000 flows): simulated flows with every fault on, published with ``simulate --amqp-url`` or
``--nats-url`` to a real server, collected with ``collect`` reading that broker alone, and
compared with the truth file."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nats
import nats.js.errors
import orjson

from collector.flows.tracker import instance_id
from tests.brokers._rabbit import SIMULATED_EXCHANGES, cli, declare_exchanges, declare_tap, query

__all__ = ["FAULTS", "Outcome", "assert_flows_match", "reset_streams", "run", "stored",
           "stuck_alerts"]

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
    timings: dict[str, float] = field(default_factory=dict)

    def wrong_events(self) -> list[str]:
        """Correlation ids of truth flows whose stored events differ from the truth's."""
        by_correlation: dict[str, set[tuple[str, str]]] = {}
        for e in self.events:
            by_correlation.setdefault(e["correlation_id"], set()).add((e["source"], e["id"]))
        return [t["correlation_id"] for t in self.truth
                if by_correlation.get(t["correlation_id"]) != {tuple(i) for i in t["events"]}]

    def wrong_instances(self) -> list[str]:
        """Correlation ids of truth flows whose instance does not hold exactly its events (an
        event left unclaimed or in another instance: a flow split, e.g. across a restart)."""
        by_instance: dict[str | None, set[tuple[str, str]]] = {}
        for e in self.events:
            by_instance.setdefault(e["instance_id"], set()).add((e["source"], e["id"]))
        return [t["correlation_id"] for t in self.truth
                if by_instance.get(instance_id(*t["instance"])) != {tuple(i) for i in t["events"]}]

    def wrong_outcomes(self) -> list[str]:
        return [t["correlation_id"] for t in self.truth
                if self.flows[instance_id(*t["instance"])]["status"] != t["outcome"]
                or bool(self.flows[instance_id(*t["instance"])]["sla_breached"])
                != t["sla_breached"]]

    def scores(self) -> dict[str, float]:
        """Precision and recall of the stuck and SLA-breach verdicts against the truth."""
        out: dict[str, float] = {}
        for label, truth_set, found in (
                ("stuck", {t["correlation_id"] for t in self.truth if t["outcome"] == "stuck"},
                 {f["correlation_id"] for f in self.flows.values() if f["status"] == "stuck"}),
                ("sla_breach", {t["correlation_id"] for t in self.truth if t["sla_breached"]},
                 {f["correlation_id"] for f in self.flows.values() if f["sla_breached"]})):
            hits = len(truth_set & found)
            out[f"{label}_precision"] = hits / len(found) if found else 0.0
            out[f"{label}_recall"] = hits / len(truth_set) if truth_set else 0.0
            out[f"{label}_truth"] = len(truth_set)
        return out

    def fault_counts(self) -> tuple[Counter[str], Counter[str]]:
        """(faults injected by name, dead letters by reason)."""
        return (Counter(f["name"] for t in self.truth for f in t["faults"]),
                Counter(d["reason"] for d in self.dead_letters))


def stored(truth: list[dict[str, Any]], store: str) -> Outcome:
    """What a collect run stored, against its truth."""
    return Outcome(
        truth,
        query(store, "SELECT source, id, type, correlation_id, instance_id, topic FROM events"),
        {r["instance_id"]: r for r in query(store, "SELECT * FROM flows")},
        query(store, "SELECT reason, topic FROM dead_letters"), "", "")


def stuck_alerts(store: str) -> list[str]:
    """The instance id of each FlowStuck alert in the outbox."""
    return [r["instance_id"] for r in query(
        store, "SELECT instance_id FROM outbox WHERE kind = 'FlowStuck'")]


def assert_flows_match(outcome: Outcome, store: str) -> None:
    """Every truth flow's instance holds exactly its events, with the truth's outcome and SLA
    verdict, and each stuck flow is alerted once (also across a kill -9 and a restart)."""
    split = outcome.wrong_instances()
    assert split == [], f"{len(split)} flows hold other events, e.g. {split[:3]}"
    wrong = outcome.wrong_outcomes()
    assert wrong == [], f"{len(wrong)} outcomes differ, e.g. {wrong[:3]}"
    alerted = stuck_alerts(store)
    assert len(alerted) == len(set(alerted))
    stuck = {instance_id(*t["instance"]) for t in outcome.truth if t["outcome"] == "stuck"}
    assert stuck
    assert set(alerted) == stuck


def reset_streams(url: str) -> None:
    """Delete the simulator's JetStream streams (a fresh run in a shared server)."""
    async def go() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            for name in SIMULATED_EXCHANGES:
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await js.delete_stream(name)
        finally:
            await nc.close()
    asyncio.run(go())


def run(broker: Literal["rabbitmq", "nats"], url: str, workdir: Path, flows: int,
        group: str = "acceptance", seed: int = 11) -> Outcome:
    """Publish ``flows`` simulated flows (every fault on) to the broker, collect them into a
    fresh SQLite store in ``workdir`` until idle, and read back what was stored."""
    flag = "--amqp-url" if broker == "rabbitmq" else "--nats-url"
    if broker == "rabbitmq":
        declare_exchanges(url)
        declare_tap(url, group)  # the tap's queue is bound before the services publish
    else:
        reset_streams(url)
    truth_file = workdir / "truth.jsonl"
    faults = [arg for f in FAULTS for arg in ("--fault-rate", f)]
    started = time.perf_counter()
    cli("simulate", "--flows", str(flows), "--seed", str(seed), *faults, "--truth",
        str(truth_file), flag, url, timeout=1800)
    published = time.perf_counter()
    store = f"sqlite:///{workdir / 'store.db'}"
    done = cli("collect", "--store", store, flag, url, "--group-id", group, "--metrics-port",
               "0", "--until-idle", "2", timeout=1800)
    collected = time.perf_counter()
    truth = [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]
    outcome = stored(truth, store)
    outcome.stdout, outcome.stderr = done.stdout, done.stderr
    outcome.timings = {"publish_s": round(published - started, 1),
                       "collect_s": round(collected - published, 1)}
    return outcome
