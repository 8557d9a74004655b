"""Every dashboard page on a PostgreSQL store: the simulated SQLite store moved with
``store migrate``, each page rendered with Streamlit's AppTest on both, the same tables and
figures on both."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from collector.catalog_source import refresh_rollups, rollup_store
from collector.store import open_store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
CLI = str(Path(sys.executable).parent / "choreoscope")
FAULTS = ("lost=0.06", "slow=0.06", "bad-schema=0.06", "undecodable=0.03", "no-correlation=0.03")
PAGES = sorted(f"views/{p.name}" for p in (ROOT / "dashboard" / "views").glob("*.py"))


@dataclass(frozen=True, slots=True)
class Stores:
    sqlite: str
    postgres: str


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, postgres_server: Any) -> Stores:
    url = f"sqlite:///{tmp_path_factory.mktemp('sim') / 'sim.db'}"
    command = [CLI, "simulate", "--store", url, "--flows", "200", "--seed", "4"]
    for fault in FAULTS:
        command += ["--fault-rate", fault]
    subprocess.run(command, check=True, cwd=ROOT, env=_env(), capture_output=True, timeout=300)
    store = open_store(url)
    try:
        refresh_rollups(rollup_store(store))
    finally:
        store.close()
    # the Collectors section reads "heard from 12 s ago" against the wall clock, so two renders
    # a second apart differ; it is compared on both backends in test_dashboard_collectors.py
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        db.execute("DELETE FROM collectors")
    target = postgres_server.create_database("dashboard_pages")
    done = subprocess.run([CLI, "store", "migrate", "--from", url, "--to", target], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return Stores(url, target)


def render(url: str, name: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CHOREOSCOPE_STORE", url)
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(ROOT / "schemas"))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page(name).run()
    return at


def shown(at: AppTest) -> dict[str, Any]:
    """What a page shows: its metrics, tables, headings and warnings."""
    return {
        "metrics": [(m.label, m.value) for m in at.metric],
        "tables": [d.value.astype(str).to_dict("records") for d in at.dataframe],
        "headings": [h.value for h in (*at.title, *at.header, *at.subheader)],
        "warnings": [w.value for w in (*at.warning, *at.error)],
    }


@pytest.mark.parametrize("name", PAGES)
def test_every_page_shows_the_same_on_postgres_as_on_sqlite(
        stores: Stores, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    on_sqlite = render(stores.sqlite, name, monkeypatch)
    assert not on_sqlite.exception, [e.value for e in on_sqlite.exception]
    on_postgres = render(stores.postgres, name, monkeypatch)
    assert not on_postgres.exception, [e.value for e in on_postgres.exception]
    assert shown(on_postgres) == shown(on_sqlite)
