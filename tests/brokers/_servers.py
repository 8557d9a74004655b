"""Real RabbitMQ and NATS servers for the test session, from Debian's packages
(``scripts/ensure_brokers.sh``), each on free 127.0.0.1 ports with its own temporary
directories, stopped (with the node's epmd) at the end.

RabbitMQ beside any other Erlang node needs its own node name, AMQP port, distribution port,
epmd port, ``HOME`` (the Erlang cookie) and mnesia and log directories. The node is started
through ``/usr/lib/rabbitmq/bin/rabbitmq-server`` as the current user (Debian's ``/usr/sbin``
wrapper would switch to the ``rabbitmq`` user, whose environment ``su`` resets).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["NatsServer", "RabbitNode", "ServerError", "free_port"]

RABBIT = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
RABBITMQCTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
NATS = "nats-server"


class ServerError(Exception):
    """A test server did not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Process:
    """A server process in its own session, its output in ``log``."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _spawn(self, argv: list[str], env: dict[str, str], port: int, within: float) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if _listening(port):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"{argv[0]} did not listen on 127.0.0.1:{port} within {within:.0f} s;"
                          f" its log:\n{self.log_tail(60)}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def log_tail(self, lines: int = 100) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class RabbitNode(_Process):
    """One RabbitMQ node: ``url`` is its AMQP URL (guest may log in from 127.0.0.1)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "rabbitmq")
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.nodename = f"choreoscope-test-{self.port}@localhost"
        for d in ("home", "mnesia", "log"):
            (workdir / d).mkdir(exist_ok=True)
        (workdir / "enabled_plugins").write_text("[].\n")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        w = self.workdir
        return {
            **os.environ,
            "HOME": str(w / "home"),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(w / "mnesia"),
            "RABBITMQ_LOG_BASE": str(w / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(w / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(w / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(w / "rabbitmq.pid"),
        }

    def start(self) -> None:
        if not RABBIT.exists():
            raise ServerError(f"{RABBIT} is missing: run scripts/ensure_brokers.sh")
        self._spawn([str(RABBIT)], self.env(), self.port, within=90)

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl ARGS`` against this node (e.g. ``trace_on``); its output."""
        done = subprocess.run([str(RABBITMQCTL), "-n", self.nodename, *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise ServerError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def stop(self) -> None:
        super().stop()
        env = self.env()
        # the node's own epmd (started on its port) outlives the node otherwise
        subprocess.run(["epmd", "-kill"], env=env, capture_output=True, timeout=10, check=False)


class NatsServer(_Process):
    """One ``nats-server`` with JetStream: ``url`` is its client URL."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, "nats")
        self.port = free_port()
        (workdir / "jetstream").mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [NATS, "-a", "127.0.0.1", "-p", str(self.port), "-js",
                "-sd", str(self.workdir / "jetstream"), "-n", f"choreoscope-test-{self.port}"]
        self._spawn(argv, dict(os.environ), self.port, within=30)
