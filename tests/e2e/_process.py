"""``choreoscope demo`` and ``choreoscope dashboard`` as subprocesses for the end-to-end tests:
started as a user starts them, stopped with SIGTERM, their process trees recorded from /proc so
that leftovers can be asserted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHOREOSCOPE = Path(sys.executable).parent / "choreoscope"
SERVE_WITHIN = 60.0
"""Seconds from start until the dashboard answers its health check (issue 2's acceptance)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, from /proc; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, ppid = text[text.rindex(")") + 2:].split()[:2]  # the command name may hold spaces
    return state, int(ppid)


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren ...), from /proc."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parent[int(entry.name)] = stat[1]
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier} - found
        found |= frontier
    return {p for p in found if alive(p)}


@dataclass
class Demo:
    """One running ``choreoscope demo`` and what the tests need to know about it."""

    proc: subprocess.Popen[bytes]
    port: int
    store_url: str
    log: Path
    registry_port: int = 0
    """Where the demo's schema registry (Confluent REST API) listens."""
    children: set[int] = field(default_factory=set)
    """Every process seen below the demo while it ran (the Streamlit server among them)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def health(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                body: bytes = r.read()
                return body.decode()
        except (urllib.error.URLError, OSError):
            return None

    def wait_serving(self, timeout: float = SERVE_WITHIN) -> float:
        """Seconds until /_stcore/health said ok; fails the test past ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"choreoscope demo exited with {self.proc.returncode}:\n"
                            f"{self.output()}")
            self.children |= descendants(self.proc.pid)
            if self.health() == "ok":
                return time.monotonic() - started
            time.sleep(0.3)
        pytest.fail(f"the dashboard did not serve within {timeout:.0f} s:\n{self.output()}")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM to the demo alone (not its group): its own cleanup must stop its children."""
        self.children |= descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill_leftovers(self) -> None:
        """Last resort after a failed test, so that one failure does not leak processes."""
        for pid in {self.proc.pid, *self.children}:
            if alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


@contextmanager
def serving(demo: Demo) -> Iterator[Demo]:
    """``demo`` once it serves; afterwards SIGTERM if it still runs, and SIGKILL for whatever
    is left, whether the test passed or not."""
    try:
        demo.wait_serving()
        yield demo
    finally:
        try:
            if demo.proc.poll() is None:
                demo.terminate()
        finally:
            demo.kill_leftovers()


def _start(workdir: Path, command: str, store_url: str) -> Demo:
    """``choreoscope COMMAND --port P --store STORE_URL`` in its own process group, in
    ``workdir`` (so no ``choreoscope.toml`` of the developer's is read; a relative SQLite path
    is a file there), with the repository's schemas and every CHOREOSCOPE_* variable dropped."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOSCOPE_")}
    env["CHOREOSCOPE_SCHEMAS_DIR"] = str(REPO / "schemas")
    registry_port = free_port()
    env["CHOREOSCOPE_REGISTRY__LISTEN"] = f"127.0.0.1:{registry_port}"
    log = workdir / f"{command}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CHOREOSCOPE), command, "--port", str(port), "--store", store_url],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if store_url.startswith("sqlite:///") and not store_url.startswith("sqlite:////"):
        store_url = f"sqlite:///{workdir / store_url.removeprefix('sqlite:///')}"
    return Demo(proc, port, store_url, log, registry_port)


def start_demo(workdir: Path, store_url: str = "sqlite:///demo.db") -> Demo:
    """``choreoscope demo --store STORE_URL`` in ``workdir``: by default ``sqlite:///demo.db``,
    the short URL the pages show (the README's screenshots); ``Demo.store_url`` is the
    absolute one for the tests."""
    return _start(workdir, "demo", store_url)


def start_dashboard(workdir: Path, store_url: str) -> Demo:
    """``choreoscope dashboard`` (read-only) over an existing store: a server no browser has
    visited yet."""
    return _start(workdir, "dashboard", store_url)
