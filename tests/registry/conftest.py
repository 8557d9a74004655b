"""``choreoscope registry serve`` started as a separate process over a temporary schema folder."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A registry process; `restart` keeps the folder and the port."""

    root: Path
    port: int
    extra: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events(self) -> Path:
        return self.root / "schemas" / "events"

    def start(self) -> None:
        config = self.root / "choreoscope.toml"
        config.write_text(f'schemas_dir = "schemas"\n[registry]\n{self.extra}\n')
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from collector.cli import main; "
             "sys.exit(main(sys.argv[1:]))", "--config", str(config), "registry", "serve",
             "--listen", f"127.0.0.1:{self.port}"],
            cwd=self.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode() if self.proc.stderr else "")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("registry serve did not start listening within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def running_server(root: Path) -> Iterator[Server]:
    """A registry process over an empty schema folder under ``root``, stopped after."""
    (root / "schemas" / "events").mkdir(parents=True)
    server = Server(root, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def registry_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path) as server:
        yield server
