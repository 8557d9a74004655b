"""registry_requests_per_s: the Confluent-compatible REST API (`choreoscope registry serve`).

value: cached ``GET /schemas/ids/{id}`` answered per second to two concurrent clients (two
processes, one keep-alive connection each, cycling over every id), served by a separate
``registry serve`` process over a copy of the demo's schema folder. baseline: the same look-up
in-process (`RegistryService`'s cached answer, no HTTP), per second. Field
``compatibility_per_s``: ``POST /compatibility/subjects/{subject}/versions/latest`` per second
from the same two clients (each a real comparison with the subject's latest version).
Aims: 3,000 look-ups and 1,000 compatibility checks per second on this machine.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 4.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(port: int, requests: list[tuple[str, str, bytes | None]], seconds: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    done, i = 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        method, path, body = requests[i % len(requests)]
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {resp.status}")
        done += 1
        i += 1
    conn.close()
    return done


def _rate(port: int, requests: list[tuple[str, str, bytes | None]]) -> float:
    """Requests answered per second to two client processes running at once."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([[m, p, b.decode() if b else None] for m, p, b in requests], f)
    try:
        procs = [subprocess.Popen([sys.executable, __file__, str(port), f.name, str(SECONDS)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
        counts = [int(p.communicate(timeout=SECONDS + 60)[0].strip()) for p in procs]
    finally:
        os.unlink(f.name)
    return sum(counts) / SECONDS


def _serve(root: Path, port: int) -> subprocess.Popen[bytes]:
    config = root / "choreoscope.toml"
    config.write_text('schemas_dir = "schemas"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from collector.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "--config", str(config), "registry", "serve",
         "--listen", f"127.0.0.1:{port}"], cwd=root, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("registry serve did not start")


def _in_process(folder: Path, ids: list[int]) -> float:
    sys.path.insert(0, str(ROOT))
    from collector.registry_api.service import RegistryService

    service = RegistryService(folder)
    done, i = 0, 0
    deadline = time.perf_counter() + SECONDS
    while time.perf_counter() < deadline:
        schema_id = ids[i % len(ids)]
        service.cached(("id", schema_id), lambda s=schema_id: service.schema_by_id(s))
        done += 1
        i += 1
    return done / SECONDS


def registry_requests_per_s() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "schemas" / "events", root / "schemas" / "events",
                        ignore=shutil.ignore_patterns("registry.json"))
        port = _free_port()
        proc = _serve(root, port)
        try:
            ids_file = root / "schemas" / "events" / "registry.json"
            table = json.loads(ids_file.read_text())
            ids = sorted(set(table["ids"].values()))
            lookups = [("GET", f"/schemas/ids/{i}", None) for i in ids]
            latest: dict[str, int] = {}
            for key in table["ids"]:
                subject, _, version = key.rpartition("/")
                latest[subject] = max(latest.get(subject, 0), int(version))
            checks = []
            for subject, version in sorted(latest.items()):
                schema = (root / "schemas" / "events" / subject / f"v{version}.json").read_text()
                body = json.dumps({"schema": schema, "schemaType": "JSON"}).encode()
                checks.append(("POST", f"/compatibility/subjects/{subject}/versions/latest",
                               body))
            value = _rate(port, lookups)
            compat = _rate(port, checks)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        baseline = _in_process(root / "schemas" / "events", ids)
    return {"bench": "registry_requests_per_s", "value": round(value), "unit": "requests/s",
            "baseline": round(baseline), "ratio": round(value / baseline, 4),
            "compatibility_per_s": round(compat), "ids": len(ids), "subjects": len(latest),
            "clients": 2}


BENCHES = {"registry_requests_per_s": registry_requests_per_s}


if __name__ == "__main__":  # one client process of `_rate`
    wanted = [(m, p, b.encode() if b else None)
              for m, p, b in json.loads(Path(sys.argv[2]).read_text())]
    print(_client(int(sys.argv[1]), wanted, float(sys.argv[3])))
