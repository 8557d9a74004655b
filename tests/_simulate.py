"""The simulation the end-to-end collect tests publish to the session broker and judge the store
against (tests/scale_out/test_acceptance.py, tests/store/test_collect_postgres.py):
``choreoscope simulate`` run as users run it, its truth file read back."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

__all__ = ["clean_env", "cli", "read_truth", "simulate"]


def cli(*args: str, level: str = "WARNING") -> list[str]:
    """The ``choreoscope`` command line, run by this interpreter."""
    return [sys.executable, "-m", "collector.cli", "--log-level", level, *args]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without the caller's CHOREOSCOPE_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    return {**env, **extra}


def simulate(bootstrap: str, truth_file: Path, *, flows: int, seed: int,
             faults: Sequence[str], prefix: str, timeout: float = 1200) -> Path:
    """Publish ``flows`` simulated flows (``faults``: ``name=rate``) to topics named
    ``prefix``+service and write their truth to ``truth_file`` (returned)."""
    rates = [arg for f in faults for arg in ("--fault-rate", f)]
    done = subprocess.run(cli("simulate", "--flows", str(flows), "--seed", str(seed), *rates,
                              "--truth", str(truth_file), "--bootstrap-servers", bootstrap,
                              "--topic-prefix", prefix),
                          capture_output=True, text=True, timeout=timeout, env=clean_env(),
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return truth_file


def read_truth(truth_file: Path) -> list[dict[str, Any]]:
    """One record per flow: its correlation id, instance, events, outcome and faults."""
    return [orjson.loads(line) for line in truth_file.read_bytes().splitlines()]
