"""A store populated by the simulator, shared by the dashboard tests of a session.

`simulated_store` runs ``choreoscope simulate --store`` once per test session (the real CLI,
the in-process collector, the repository's schemas and flows) with every kind of fault the
pages show, then brings the event map's rollups up to date as the collector does. Tests must
treat it as read-only. `simulated_env` points the dashboard's settings at it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector.catalog_source import refresh_rollups, rollup_store
from collector.store import open_store

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
SCHEMAS = ROOT / "schemas"
SIMULATED_FLOWS = 400
FAULTS = ("bad-schema=0.1", "unknown-type=0.05", "orphan=0.05", "lost=0.05", "slow=0.05")


@dataclass(frozen=True, slots=True)
class SimulatedStore:
    url: str
    path: Path
    flows: int


@pytest.fixture(scope="session")
def simulated_store(tmp_path_factory: pytest.TempPathFactory) -> SimulatedStore:
    path = tmp_path_factory.mktemp("simulated") / "sim.db"
    url = f"sqlite:///{path}"
    cli = Path(sys.executable).parent / "choreoscope"
    command = [str(cli), "simulate", "--store", url, "--flows", str(SIMULATED_FLOWS),
               "--seed", "8"]
    for fault in FAULTS:
        command += ["--fault-rate", fault]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    subprocess.run(command, check=True, cwd=ROOT, env=env, capture_output=True, timeout=300)
    store = open_store(url)
    try:
        refresh_rollups(rollup_store(store))
    finally:
        store.close()
    return SimulatedStore(url, path, SIMULATED_FLOWS)


@pytest.fixture
def simulated_env(simulated_store: SimulatedStore,
                  monkeypatch: pytest.MonkeyPatch) -> SimulatedStore:
    """The dashboard's settings pointed at the simulated store and the repository's schemas."""
    monkeypatch.setenv("CHOREOSCOPE_STORE", simulated_store.url)
    monkeypatch.setenv("CHOREOSCOPE_SCHEMAS_DIR", str(SCHEMAS))
    return simulated_store
