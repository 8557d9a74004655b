"""Bench ``scale_out_records_per_s``: one, two and three scale-out collector processes
(``choreoscope collect`` with ``[scale_out] enabled``) on the same topic and a PostgreSQL
store, in the same run; value = the three-process rate, baseline = the one-process rate.

Each run reads the same records (simulated flows, 6 partitions) as a consumer group of its own
into a new database; its rate is the records divided by the time from the first stored event
until every event is stored and every forwarded event tracked (start-up not counted). Beside
the figures: the machine's core count, which the broker and the database share with the
collectors (on 2 cores the figures show the scale-out path's overhead, not what more cores
give).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from _sim import simulated_records

from collector.kafka.producer import publish
from collector.store.base import open_store

ROOT = Path(__file__).resolve().parents[1]
RECORDS = int(os.environ.get("CHOREOSCOPE_BENCH_SCALE_OUT_RECORDS", "60000"))
TOPIC = "bench-scale-out"
PARTITIONS = 6


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"choreoscope_{name}_script",
                                                  ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _records(n: int) -> list[Any]:
    return simulated_records(n, TOPIC)


def _progress(url: str, group: str) -> tuple[int, int]:
    """(events stored, forwarded events tracked)."""
    try:
        store = open_store(url, read_only=True)
    except Exception:  # not migrated yet
        return 0, 0
    try:
        events = int(store.query("SELECT COUNT(*) AS n FROM events")[0]["n"])
        tracked = store.query("SELECT COALESCE(SUM(next_offset), 0) AS n FROM positions "
                              "WHERE reader = ?", (f"kafka:{group}.flows",))[0]["n"]
        return events, int(tracked)
    except Exception:
        return 0, 0
    finally:
        store.close()


def _rate(n: int, bootstrap: str, url: str, group: str, total: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    env.update(CHOREOSCOPE_SCALE_OUT__ENABLED="true", CHOREOSCOPE_SCALE_OUT__PARTITIONS="6")
    cmd = [sys.executable, "-m", "collector.cli", "--log-level", "WARNING", "collect",
           "--store", url, "--bootstrap-servers", bootstrap, "--topics", TOPIC,
           "--group-id", group, "--metrics-port", "0"]
    procs = [subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(n)]
    first = None
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            events, tracked = _progress(url, group)
            now = time.monotonic()
            if first is None and events:
                first = now
            if events >= total and tracked >= total:
                assert first is not None
                return total / max(now - first, 1e-3)
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"bench scale_out: a collector exited ({group})")
            time.sleep(0.1)
        raise SystemExit(f"bench scale_out: {n} collectors did not finish in 900 s")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=60)


def scale_out_records_per_s() -> dict[str, Any]:
    ks, pg = _script("kafka"), _script("postgres")
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as tmp:
        broker = ks.KafkaBroker(ks.fetch(), workdir=Path(tmp) / "kafka", partitions=PARTITIONS)
        broker.workdir.mkdir()
        server = pg.PostgresServer()
        broker.start()
        try:
            server.start()
            total = publish(_records(RECORDS), broker.bootstrap, partitions=PARTITIONS)
            rates = {}
            for n in (1, 2, 3):
                group = f"bench-{n}"
                url = server.create_database(f"scale{n}")
                rates[n] = _rate(n, broker.bootstrap, url, group, total)
                print(f"scale_out: {n} collector(s): {rates[n]:,.0f} records/s",
                      file=sys.stderr, flush=True)
        finally:
            server.close()
            broker.close()
    return {"bench": "scale_out_records_per_s", "value": round(rates[3], 1),
            "unit": "records/s", "baseline": round(rates[1], 1),
            "ratio": round(rates[3] / rates[1], 3),
            "rates": {str(n): round(r, 1) for n, r in rates.items()},
            "ratios_to_one": {str(n): round(r / rates[1], 3) for n, r in rates.items()},
            "cores": os.cpu_count(), "records": total, "partitions": PARTITIONS}


BENCHES = {"scale_out_records_per_s": scale_out_records_per_s}
