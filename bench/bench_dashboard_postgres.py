"""Bench ``dashboard_page_seconds_max_postgres``: every dashboard page on a PostgreSQL store of
just over 1,000,000 events (issue 19: under 2 s).

The store is the one of ``dashboard_page_seconds_max`` (bench_dashboard.py: 151,000 simulated
flows with the demo's faults, cached under var/bench/), moved into a PostgreSQL server from
Debian's packages (scripts/postgres.py, in a temporary folder, on a free 127.0.0.1 port) with
``choreoscope store migrate`` and ANALYZEd, as an operator would. Pages are rendered as
bench_dashboard.py renders them (AppTest, first visits, median of 3).

``value``: the slowest page's seconds on PostgreSQL. ``baseline``: the slowest page's seconds
on the same store in SQLite, in the same run; ``ratio`` = value / baseline. Per-page seconds of
both go to stderr and into ``pages`` / ``pages_sqlite``; ``copy_seconds`` is the migration's.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import bench_dashboard as dash

REPO = Path(__file__).resolve().parents[1]


def _postgres_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("choreoscope_postgres_script",
                                                  REPO / "scripts" / "postgres.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _migrate(source: str, target: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    started = time.monotonic()
    subprocess.run([str(Path(sys.executable).parent / "choreoscope"), "store", "migrate",
                    "--from", source, "--to", target], cwd=REPO, env=env, check=True,
                   stdout=sys.stderr)
    return time.monotonic() - started


def bench_dashboard_page_seconds_max_postgres() -> dict[str, Any]:
    import psycopg

    big = dash.build_store(dash.FLOWS)
    sqlite_url = f"sqlite:///{big}"
    server = _postgres_script().PostgresServer()
    try:
        server.start()
        url = server.create_database("bench")
        copy_seconds = _migrate(sqlite_url, url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")
        corr = dash._correlation_id(big)  # noqa: SLF001
        dash.render_pages(url, corr, repeat=1)  # warm-up: imports, the server's caches
        on_postgres = dash.render_pages(url, corr)
        dash._report("PostgreSQL", on_postgres)  # noqa: SLF001
        on_sqlite = dash.render_pages(sqlite_url, corr)
        dash._report("SQLite", on_sqlite)  # noqa: SLF001
    finally:
        server.close()
    slowest, value = dash._slowest(on_postgres)  # noqa: SLF001
    _, baseline = dash._slowest(on_sqlite)  # noqa: SLF001
    return {
        "bench": "dashboard_page_seconds_max_postgres", "value": round(value, 3), "unit": "s",
        "baseline": round(baseline, 3), "ratio": round(value / baseline, 2),
        "slowest_page": slowest, "events": dash.count(big, "events"),
        "copy_seconds": round(copy_seconds, 1),
        "pages": {t: r["seconds"] for t, r in on_postgres.items()},
        "pages_sqlite": {t: r["seconds"] for t, r in on_sqlite.items()},
        "pages_with_exceptions": sorted(t for t, r in on_postgres.items() if r["errors"]),
    }


BENCHES = {"dashboard_page_seconds_max_postgres": bench_dashboard_page_seconds_max_postgres}
