"""One scale-out collector on its own (SQLite): ``--until-idle`` ends it once reading and
tracking are both done, with every flow whole; a second run over the same store reads nothing
twice. And scale-out refuses RabbitMQ or NATS with the key to change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from collector.flows.tracker import instance_id
from collector.store import open_store

PREFIX = "scaleout1."
TOPICS = ",".join(PREFIX + t for t in ("orders", "payments", "inventory", "shipping",
                                       "notifications", "customers"))


def _run(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collector.cli", "--log-level", "WARNING",
                           *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    return {**env, **extra}


@pytest.mark.kafka
@pytest.mark.slow
def test_one_scale_out_collector_tracks_every_flow_whole_and_stops_when_idle(
        kafka: Any, tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.jsonl"
    done = _run("simulate", "--flows", "300", "--seed", "5", "--fault-rate", "duplicate=0.05",
                "--fault-rate", "reorder=0.05", "--truth", str(truth_file),
                "--bootstrap-servers", kafka.bootstrap, "--topic-prefix", PREFIX, env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    url = f"sqlite:///{tmp_path / 'one.db'}"
    env = _env(CHOREOSCOPE_SCALE_OUT__ENABLED="true", CHOREOSCOPE_SCALE_OUT__PARTITIONS="3")
    collect = ("collect", "--store", url, "--bootstrap-servers", kafka.bootstrap, "--topics",
               TOPICS, "--group-id", "scaleout-one", "--metrics-port", "0", "--until-idle", "3")
    first = _run(*collect, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "scale-out mode" in first.stderr
    truth = [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]
    store = open_store(url, read_only=True)
    try:
        rows = store.query("SELECT source, id, instance_id FROM events")
        statuses = {r["instance_id"]: r["status"]
                    for r in store.query("SELECT instance_id, status FROM flows")}
    finally:
        store.close()
    members: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        members.setdefault(r["instance_id"], set()).add((r["source"], r["id"]))
    assert len(rows) == sum(len(t["events"]) for t in truth)
    for t in truth:
        iid = instance_id(*t["instance"])
        assert members.get(iid) == {tuple(e) for e in t["events"]}, t["correlation_id"]
        assert statuses[iid] == t["outcome"], t["correlation_id"]
    again = _run(*collect, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "collected 0 records" in again.stdout


def test_scale_out_refuses_rabbitmq(tmp_path: Path) -> None:
    done = _run("collect", "--store", f"sqlite:///{tmp_path / 'x.db'}", "--amqp-url",
                "amqp://guest@127.0.0.1:1/", env=_env(CHOREOSCOPE_SCALE_OUT__ENABLED="true"),
                timeout=60)
    assert done.returncode == 2
    assert "scale_out.enabled" in done.stderr
