"""Issue 19's Collector health page, with real processes: each ``choreoscope collect`` upserts
its row in ``collectors``; in scale-out mode two collectors of a group show two rows (a reader
and a tracker each) and one killed with SIGKILL shows as silent while the other keeps beating;
one stopped with SIGTERM shows as stopped. A single collector shows one row, stopped once it
is done; run again, it is listed once (the first run replaced)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.member import Status
from collector.store import open_store
from dashboard.collector_queries import collectors, list_collectors

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

PREFIX = "members."
TOPICS = f"{PREFIX}orders,{PREFIX}payments"
BEAT_S = "0.5"


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "collector.cli", "--log-level", "WARNING", *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    return {**env, "CHOREOSCOPE_KAFKA__METRICS_EVERY_S": BEAT_S, **extra}


def _rows(url: str) -> list[dict[str, Any]]:
    try:
        store = open_store(url, read_only=True)
    except Exception:  # not migrated yet
        return []
    try:
        return collectors(store, now=datetime.now(UTC))
    except Exception:
        return []
    finally:
        store.close()


def _beating(url: str, n: int) -> list[dict[str, Any]] | None:
    rows = _rows(url)
    return rows if len(rows) == n and not any(r["silent"] for r in rows) else None


def _silent(url: str, collector_id: str) -> list[dict[str, Any]] | None:
    rows = _rows(url)
    return rows if any(r["silent"] and r["collector_id"] == collector_id for r in rows) else None


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="module")
def published(kafka_broker: Any) -> Any:
    if not kafka_broker.running:
        kafka_broker.start()
    done = subprocess.run(_command(
        "simulate", "--flows", "30", "--seed", "19", "--bootstrap-servers",
        kafka_broker.bootstrap, "--topic-prefix", PREFIX), capture_output=True, text=True,
        timeout=300, env=_env(), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return kafka_broker


def _collect_until_idle(url: str, bootstrap: str) -> None:
    done = subprocess.run(_command(
        "collect", "--store", url, "--bootstrap-servers", bootstrap, "--topics",
        TOPICS, "--group-id", "members-single", "--metrics-port", "0", "--until-idle", "2"),
        env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_single_collector_shows_one_row_stopped_when_done_and_once_when_run_again(
        published: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'single.db'}"
    _collect_until_idle(url, published.bootstrap)
    (row,) = _rows(url)
    assert (row["group"], row["roles"]) == ("members-single", "single")
    assert row["status"] is Status.STOPPED  # it said so: not flagged silent, ever
    assert row["records"] > 0
    assert (row["records_per_second"], row["partitions"]) == (None, "")
    _collect_until_idle(url, published.bootstrap)
    store = open_store(url, read_only=True)
    try:
        found = list_collectors(store, now=datetime.now(UTC))
    finally:
        store.close()
    (again,) = found.listed
    assert again["collector_id"] != row["collector_id"]
    assert [(r["collector_id"], r["replaced_by"]) for r in found.replaced] == [
        (row["collector_id"], again["collector_id"])]
    assert again["status"] is Status.STOPPED


def test_two_scale_out_collectors_and_a_killed_one_shows_as_silent(
        published: Any, postgres_server: Any, tmp_path: Path) -> None:
    url = postgres_server.create_database("members")
    collect = _command("collect", "--store", url, "--bootstrap-servers", published.bootstrap,
                       "--topics", TOPICS, "--group-id", "members-group", "--metrics-port", "0")
    env = _env(CHOREOSCOPE_SCALE_OUT__ENABLED="true", CHOREOSCOPE_SCALE_OUT__PARTITIONS="2")
    logs = [(tmp_path / f"{n}.log").open("wb") for n in "ab"]
    procs = [subprocess.Popen(collect, env=env, stdout=subprocess.DEVNULL, stderr=log)
             for log in logs]
    try:
        rows = _wait("both collectors beating", lambda: _beating(url, 2), 120)
        assert {(r["group"], r["roles"]) for r in rows} == {("members-group",
                                                              "reader, tracker")}
        killed, alive = procs
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        (gone,) = [r["collector_id"] for r in rows if f":{killed.pid}:" in r["collector_id"]]
        after = _wait("the killed collector silent", lambda: _silent(url, gone), 30)
        assert [(r["collector_id"] == gone, r["silent"]) for r in after] in (
            [(True, True), (False, False)], [(False, False), (True, True)]), after
        assert alive.poll() is None
        alive.send_signal(signal.SIGTERM)
        assert alive.wait(timeout=60) == 0
        stopped = {r["collector_id"]: r["status"] for r in _rows(url)}
        assert sorted(stopped.values()) == [Status.SILENT, Status.STOPPED], stopped
        assert stopped[gone] is Status.SILENT
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        for log in logs:
            log.close()
