#!/usr/bin/env python3
"""A real, single-node Apache Kafka (KRaft) for tests and for trying Choreoscope.

    scripts/kafka.py fetch              # resolve the broker's jars with Maven into a cache
    scripts/kafka.py run [--port 9092]  # start a broker on 127.0.0.1 until Ctrl-C

The jars come from Maven Central (``scripts/kafka/pom.xml``) into a cache outside the repository
(``$XDG_CACHE_HOME/choreoscope/kafka-VERSION/libs``, default ``~/.cache``); a second ``fetch`` is a
no-op. ``run`` formats fresh storage in a temporary directory, starts ``kafka.Kafka``, waits until
the broker serves requests and stops it cleanly on Ctrl-C or SIGTERM.

The test session imports this file and uses `KafkaBroker` (``start()``, ``stop()``,
``restart()``, ``bootstrap``, ``log_path``).
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

__all__ = ["KAFKA_VERSION", "BrokerError", "KafkaBroker", "fetch", "free_port", "libs_dir"]

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"
READY_LINE = "Kafka Server started"

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
"""


class BrokerError(Exception):
    """The broker's jars could not be fetched, or the broker did not start or stop."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "choreoscope" / f"kafka-{KAFKA_VERSION}"


def libs_dir() -> Path:
    return cache_root() / "libs"


def _pom_digest() -> str:
    return hashlib.sha256(POM.read_bytes()).hexdigest()


def fetch(*, quiet: bool = True) -> Path:
    """Resolve the broker's jars into the cache (once per pom version) and return the folder."""
    libs = libs_dir()
    marker = libs / ".complete"
    digest = _pom_digest()
    if marker.is_file() and marker.read_text().strip() == digest:
        return libs
    if shutil.which("mvn") is None:
        raise BrokerError("Maven (mvn) is not on PATH: install it to fetch the Kafka jars")
    libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent))
    cmd = ["mvn", "-B", "-f", str(POM), "dependency:copy-dependencies",
           f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
           f"-Dkafka.version={KAFKA_VERSION}"]
    if quiet:
        cmd.insert(1, "-q")
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BrokerError(f"mvn failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        (staging / ".complete").write_text(digest + "\n")
        if libs.exists():
            shutil.rmtree(libs)
        staging.rename(libs)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return libs


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: the broker simply outlives a killed parent
    _LIBC = None


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM the broker when its parent dies (nothing left behind).

    Runs between fork and exec, so it only calls into the already loaded libc (no imports).
    """
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class KafkaBroker:
    """One KRaft node (broker and controller) on ``host:port`` with its data in ``workdir``.

    Ports are chosen once, so a restarted broker has the same bootstrap address and keeps its data.
    """

    def __init__(
        self,
        libs: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        workdir: Path | None = None,
        heap: str = "512m",
        partitions: int = 1,
        sasl_users: dict[str, str] | None = None,
        ssl_keystore: Path | None = None,
    ) -> None:
        self.libs = libs or libs_dir()
        self.host = host
        self.port = port or free_port(host)
        self.controller_port = free_port(host)
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="choreoscope-kafka-"))
        self.heap = heap
        self.partitions = partitions
        self.sasl_users = dict(sasl_users or {})
        """SASL/PLAIN users (name: password) of a second, SASL_PLAINTEXT listener, if any."""
        self.sasl_port = free_port(host) if self.sasl_users else None
        self.ssl_keystore = ssl_keystore
        """A PEM file with the unencrypted private key and certificate chain of an SSL listener."""
        self.ssl_port = free_port(host) if ssl_keystore is not None else None
        self.log_path = self.workdir / "broker.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._formatted = False

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ssl_bootstrap(self) -> str:
        """The SSL listener (only with ``ssl_keystore``)."""
        if self.ssl_port is None:
            raise BrokerError("this broker has no SSL listener: pass ssl_keystore")
        return f"{self.host}:{self.ssl_port}"

    @property
    def sasl_bootstrap(self) -> str:
        """The SASL_PLAINTEXT listener (only with ``sasl_users``)."""
        if self.sasl_port is None:
            raise BrokerError("this broker has no SASL listener: pass sasl_users")
        return f"{self.host}:{self.sasl_port}"

    @property
    def pid(self) -> int:
        """The broker's process id (to read its resource use); it must be running."""
        if self._proc is None:
            raise BrokerError("the broker is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        if self.running:
            return
        if not (self.libs / ".complete").is_file():
            raise BrokerError(f"no Kafka jars in {self.libs}: run scripts/kafka.py fetch")
        props = self._write_config()
        if not self._formatted:
            # --cluster-id=ID: a base64url id may start with '-', which argparse takes for a flag
            self._java("kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id()}",
                       "--config", str(props), "--ignore-formatted")
            self._formatted = True
        start_at = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                self._java_cmd("kafka.Kafka", str(props)), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
            )
        finally:
            log.close()
        self._wait_ready(start_at, timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """Shut the broker down cleanly (SIGTERM), killing it only if it does not stop in time."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Stop the broker abruptly (SIGKILL), as a crash would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self, timeout: float = 90.0) -> None:
        self.stop()
        self.start(timeout)

    def close(self) -> None:
        """Stop the broker and remove its data unless the caller gave the working directory."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def log_tail(self, lines: int = 200) -> str:
        if not self.log_path.exists():
            return "(no broker log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ----------------------------------------------------------------------------

    def _write_config(self) -> Path:
        log4j = self.workdir / "log4j2.properties"
        log4j.write_text(_LOG4J2)
        props = self.workdir / "server.properties"
        h, p, c = self.host, self.port, self.controller_port
        listeners = [f"PLAINTEXT://{h}:{p}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        sasl: list[str] = []
        if self.sasl_port is not None:
            listeners.append(f"SASL_PLAINTEXT://{h}:{self.sasl_port}")
            protocols.append("SASL_PLAINTEXT:SASL_PLAINTEXT")
            users = " ".join(f'user_{u}="{pw}"' for u, pw in self.sasl_users.items())
            sasl = ["sasl.enabled.mechanisms=PLAIN",
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config="
                    f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"]
        if self.ssl_port is not None:
            listeners.append(f"SSL://{h}:{self.ssl_port}")
            protocols.append("SSL:SSL")
            sasl += ["listener.name.ssl.ssl.keystore.type=PEM",
                     f"listener.name.ssl.ssl.keystore.location={self.ssl_keystore}"]
        props.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@{h}:{c}",
            f"listeners={','.join(listeners)},CONTROLLER://{h}:{c}",
            f"advertised.listeners={','.join(listeners)}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            f"listener.security.protocol.map={','.join(protocols)}",
            *sasl,
            f"log.dirs={self.workdir / 'data'}",
            f"num.partitions={self.partitions}",
            "auto.create.topics.enable=true",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # keep every record: simulated event times lie in the past, and time-based
            # retention would otherwise delete them as soon as they are written
            "log.retention.ms=-1",
            "",
        ]))
        return props

    def _java_cmd(self, main: str, *args: str) -> list[str]:
        java = shutil.which("java") or "/usr/bin/java"
        return [java, f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
                "-cp", f"{self.libs}/*", main, *args]

    def _java(self, main: str, *args: str) -> None:
        with self.log_path.open("ab") as log:
            done = subprocess.run(self._java_cmd(main, *args), stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, check=False)
        if done.returncode != 0:
            raise BrokerError(f"{main} failed ({done.returncode}):\n{self.log_tail(40)}")

    def _wait_ready(self, start_at: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                code = None if proc is None else proc.returncode
                self._proc = None
                raise BrokerError(f"broker exited ({code}) while starting:\n{self.log_tail(60)}")
            if self._logged_ready(start_at) and self._accepts():
                return
            time.sleep(0.2)
        self.kill()
        raise BrokerError(f"broker not ready after {timeout:.0f}s:\n{self.log_tail(60)}")

    def _logged_ready(self, start_at: int) -> bool:
        with self.log_path.open("rb") as log:
            log.seek(start_at)
            return READY_LINE.encode() in log.read()

    def _accepts(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0):
                return True
        except OSError:
            return False


# -- command line ---------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    broker = KafkaBroker(fetch(), host=args.host, port=args.port, partitions=args.partitions)
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        broker.start()
        print(f"Kafka {KAFKA_VERSION} (KRaft) on {broker.bootstrap}; log {broker.log_path}. "
              "Ctrl-C stops it.", flush=True)
        while not stopping and broker.running:
            time.sleep(0.3)
        if not broker.running and not stopping:
            print(f"broker exited:\n{broker.log_tail(40)}", file=sys.stderr)
            return 1
        print("stopping Kafka ...", flush=True)
        return 0
    except BrokerError as exc:
        print(f"kafka.py: {exc}", file=sys.stderr)
        return 1
    finally:
        broker.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/kafka.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="resolve the broker's jars into the cache (idempotent)")
    run = sub.add_parser("run", help="start a single-node broker until Ctrl-C")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=9092, help="0 picks a free port (default 9092)")
    run.add_argument("--partitions", type=int, default=3, help="default partitions of new topics")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        try:
            print(fetch())
        except BrokerError as exc:
            print(f"kafka.py: {exc}", file=sys.stderr)
            return 1
        return 0
    args.port = args.port or None
    return _run(args)


if __name__ == "__main__":
    sys.exit(main())
