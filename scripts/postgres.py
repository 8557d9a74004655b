"""A throwaway PostgreSQL server for tests: initdb into a temporary folder, pg_ctl start on a free
127.0.0.1 port, stop and remove at the end. Debian's binaries (scripts/ensure_postgres.sh).

initdb refuses to run as root: as root, the server runs as the ``postgres`` system user (the
Debian package creates it) and the folder is handed to that user.

``python scripts/postgres.py run`` starts one until Ctrl-C and prints its URL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresError", "PostgresServer", "bindir"]

SUPERUSER = "choreoscope"


class PostgresError(Exception):
    """The server could not be set up or started (the message says why, with its log)."""


def bindir() -> Path:
    """The folder of Debian's initdb/pg_ctl (newest version installed)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise PostgresError("initdb not found: run scripts/ensure_postgres.sh "
                            "(Debian's postgresql package)")
    return Path(initdb).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One server: ``start()``, ``url(database)``, ``create_database(name)``, ``stop()``."""

    def __init__(self) -> None:
        self.bin = bindir()
        self.port = _free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="choreoscope-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresError("running as root and no 'postgres' user to run the "
                                    "server as: install Debian's postgresql package") from exc
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.running = False

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, check=False,
                              cwd=self.workdir)
        if done.returncode != 0:
            raise PostgresError(f"{Path(args[0]).name} failed ({done.returncode}): "
                                f"{done.stderr.strip() or done.stdout.strip()}\n{self.log_tail()}")

    def start(self) -> None:
        if not (self.data / "PG_VERSION").exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER,
                      "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.workdir} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", options, "-w", "-t", "60", "start")
        self.running = True

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(PostgresError):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if argv[1:] != ["run"]:
        print("usage: python scripts/postgres.py run", file=sys.stderr)
        return 2
    server = PostgresServer()
    try:
        server.start()
        print(server.url(), flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    except PostgresError as exc:
        print(f"postgres: {exc}", file=sys.stderr)
        return 1
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
