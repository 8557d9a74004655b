"""The collector's write path and every read command on PostgreSQL: one simulation run into a
SQLite store and into a PostgreSQL one (the in-process collector, rollups included), then each
read command on both, which must print the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from collector.store import open_store

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "choreoscope")
FAULTS = ("lost=0.06", "slow=0.06", "bad-schema=0.06", "undecodable=0.03", "no-correlation=0.03",
          "unknown-type=0.03", "orphan=0.03")


@dataclass(frozen=True, slots=True)
class Stores:
    sqlite: str
    postgres: str
    stuck: str
    """A correlation id of a stuck flow."""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=300, check=False)


def simulate(url: str) -> None:
    command = ["simulate", "--store", url, "--flows", "150", "--seed", "5"]
    for fault in FAULTS:
        command += ["--fault-rate", fault]
    done = run(*command)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> Stores:
    sqlite = f"sqlite:///{tmp_path_factory.mktemp('cmd') / 'sim.db'}"
    postgres = postgres_server.create_database("commands")
    simulate(sqlite)
    simulate(postgres)
    store = open_store(sqlite, read_only=True)
    try:
        stuck = store.query("SELECT correlation_id FROM flows WHERE status = 'stuck' "
                            "ORDER BY correlation_id LIMIT 1")[0]["correlation_id"]
    finally:
        store.close()
    return Stores(sqlite, postgres, stuck)


TABLES = ("events", "flows", "outbox", "violations", "dead_letters", "business_keys",
          "flow_rollups", "catalog_traffic_minute", "catalog_latency_hour", "detection_clock")


@pytest.mark.parametrize("table", TABLES)
def test_the_collector_stores_the_same_rows_on_both(stores: Stores, table: str) -> None:
    got = {}
    for url in (stores.sqlite, stores.postgres):
        store = open_store(url, read_only=True)
        try:
            rows = store.query(f"SELECT * FROM {table}")
        finally:
            store.close()
        got[url] = sorted((tuple(sorted((k, v) for k, v in r.items()
                                        if k not in {"rowid", "received_at", "dl_id"}))
                           for r in rows), key=repr)
    assert got[stores.sqlite], f"no {table} rows"
    assert got[stores.postgres] == got[stores.sqlite]


COMMANDS: tuple[tuple[str, ...], ...] = (
    ("flows", "stuck", "--json"), ("flows", "breaches", "--json"), ("flows", "list", "--json"),
    ("flows", "variants", "--json"), ("flows", "show", "{stuck}", "--json"),
    ("timeline", "{stuck}", "--json"), ("deadletters", "list"), ("messages",),
    ("messages", "--topic", "orders"), ("catalog", "report"), ("catalog", "entries"),
    ("schemas", "drift"),
)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_read_command_prints_the_same_on_both(stores: Stores,
                                                   command: tuple[str, ...]) -> None:
    args = [a.format(stuck=stores.stuck) for a in command]
    on_sqlite = run(*args, "--store", stores.sqlite)
    assert on_sqlite.returncode == 0, on_sqlite.stderr
    on_postgres = run(*args, "--store", stores.postgres)
    assert on_postgres.returncode == 0, on_postgres.stderr
    assert on_postgres.stdout == on_sqlite.stdout
    assert on_sqlite.stdout.strip()


def test_the_json_of_a_stuck_flow_names_it(stores: Stores) -> None:
    shown = run("flows", "show", stores.stuck, "--json", "--store", stores.postgres)
    assert json.loads(shown.stdout)["correlation_id"] == stores.stuck
