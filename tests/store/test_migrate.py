"""``choreoscope store migrate``: a simulated SQLite store moved to PostgreSQL, every row kept."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collector.catalog_source import refresh_rollups, rollup_store
from collector.model import DeadLetter, DeadLetterReason, Location
from collector.store import Batch, open_store
from collector.store.copy import table_columns

ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "choreoscope")
FAULTS = ("bad-schema=0.1", "unknown-type=0.05", "orphan=0.05", "lost=0.05", "slow=0.05")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'sim.db'}"
    command = [CLI, "simulate", "--store", url, "--flows", "120", "--seed", "3"]
    for fault in FAULTS:
        command += ["--fault-rate", fault]
    subprocess.run(command, check=True, cwd=ROOT, env=_env(), capture_output=True, timeout=300)
    store = open_store(url)
    try:
        refresh_rollups(rollup_store(store))
        store.write(Batch(dead_letters=[DeadLetter(  # raw bytes that are no text
            DeadLetterReason.NOT_JSON, "expected JSON", Location("kafka", "orders", 1, 9),
            datetime(2026, 1, 1, tzinfo=UTC), b"\xff\x00raw", key=b"\xfe",
            headers=(("h", b"\xff"),))]))
    finally:
        store.close()
    return url


def migrate(source: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "store", "migrate", "--from", source, "--to", target],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300,
                          check=False)


def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    store = open_store(url, read_only=True)
    try:
        out = {}
        for table, columns in table_columns(store).items():
            if table == "schema_migrations":
                continue
            listed = ", ".join(f'"{c}"' for c in columns)
            rows = store.query(f"SELECT {listed} FROM {table}")
            out[table] = sorted((tuple(r[c] for c in columns) for r in rows), key=repr)
        return out
    finally:
        store.close()


def test_every_row_of_every_table_reaches_postgres(simulated: str, postgres_url: str) -> None:
    done = migrate(simulated, postgres_url)
    assert done.returncode == 0, done.stderr
    assert "events:" in done.stdout
    before, after = contents(simulated), contents(postgres_url)
    assert set(before) == set(after)
    assert before["events"], "the simulation stored no events"
    assert before["dead_letters"], "the simulation stored no dead letters"
    for table in before:
        assert after[table] == before[table], table


def test_the_migrated_store_takes_new_rows_and_keeps_rollup_marks(
        simulated: str, postgres_url: str) -> None:
    assert migrate(simulated, postgres_url).returncode == 0
    source, target = open_store(simulated, read_only=True), open_store(postgres_url)
    marks = "SELECT source_table, last_rowid FROM catalog_rollup_marks ORDER BY 1"
    assert target.query(marks) == source.query(marks)
    top = "SELECT MAX(rowid) AS n FROM events"
    assert target.query(top) == source.query(top)
    letter = DeadLetter(DeadLetterReason.NOT_JSON, "x", Location("kafka", "new", 0, 1),
                        datetime(2026, 1, 1, tzinfo=UTC), b"{")
    target.write(Batch(dead_letters=[letter]))  # identity counters were moved past the copy
    n = "SELECT COUNT(*) AS n FROM dead_letters"
    assert target.query(n)[0]["n"] == source.query(n)[0]["n"] + 1
    source.close()
    target.close()


def test_a_target_that_holds_data_is_refused_in_one_line(simulated: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    assert migrate(simulated, target).returncode == 0  # SQLite to SQLite works too
    again = migrate(simulated, target)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1
    assert "already holds" in again.stderr
    assert "new, empty database" in again.stderr


def test_a_missing_source_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = migrate(f"sqlite:///{tmp_path / 'nope.db'}", f"sqlite:///{tmp_path / 'new.db'}")
    assert done.returncode == 2
    assert done.stderr.startswith("choreoscope store migrate: --from: ")
    assert "start the collector" in done.stderr
    assert done.stderr.count("\n") == 1


def _count(url: str, table: str) -> int:
    store = open_store(url, read_only=True)
    try:
        return int(store.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])
    finally:
        store.close()


def test_a_second_run_into_postgres_adds_nothing(simulated: str, postgres_url: str) -> None:
    assert migrate(simulated, postgres_url).returncode == 0
    before = contents(postgres_url)
    again = migrate(simulated, postgres_url)
    assert again.returncode == 2
    assert "already holds" in again.stderr
    assert contents(postgres_url) == before


def test_a_failed_migration_leaves_postgres_empty_and_a_rerun_copies_everything(
        simulated: str, postgres_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    shutil.copy(simulated.removeprefix("sqlite:///"), broken)
    with closing(sqlite3.connect(broken)) as db, db:  # SQLite keeps text in an INTEGER column
        db.execute("UPDATE violations SET schema_version = 'v2' "
                   "WHERE rowid = (SELECT MAX(rowid) FROM violations)")
    source = f"sqlite:///{broken}"
    failed = migrate(source, postgres_url)
    assert failed.returncode == 2
    assert "bigint" in failed.stderr, failed.stderr
    assert "nothing of this load was kept" in failed.stderr
    assert failed.stderr.count("\n") == 1
    assert _count(postgres_url, "events") == 0  # violations comes after events: rolled back
    with closing(sqlite3.connect(broken)) as db, db:
        db.execute("UPDATE violations SET schema_version = NULL WHERE schema_version = 'v2'")
    assert migrate(source, postgres_url).returncode == 0
    assert contents(postgres_url) == contents(source)


def test_the_indexes_dropped_for_the_load_are_built_again(
        simulated: str, postgres_url: str, postgres_server: Any) -> None:
    fresh = postgres_server.create_database("migrate_fresh_indexes")
    open_store(fresh).close()  # its migrations create every index
    assert migrate(simulated, postgres_url).returncode == 0
    listed = ("SELECT indexname AS name, indexdef AS definition FROM pg_indexes "
              "WHERE schemaname = current_schema() ORDER BY indexname")
    indexes = []
    for url in (fresh, postgres_url):
        store = open_store(url, read_only=True)
        try:
            indexes.append([(r["name"], r["definition"]) for r in store.query(listed)])
        finally:
            store.close()
    assert "events_correlation" in dict(indexes[0])
    assert indexes[1] == indexes[0]
