"""Start and stop the Streamlit dashboard as a child process (the collector never imports it)."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from collector.exceptions import CollectorError
from collector.settings import CONFIG_ENV

__all__ = ["DashboardProcess"]

logger = logging.getLogger(__name__)


def _app_path() -> Path:
    spec = importlib.util.find_spec("dashboard")
    if spec is None or spec.origin is None:
        raise CollectorError("the dashboard package is not installed: run `make demo` or "
                             "`pip install -e .` first")
    return Path(spec.origin).parent / "app.py"


class DashboardProcess:
    """``streamlit run dashboard/app.py`` on host:port, reading the store at ``store_url``."""

    def __init__(self, store_url: str, host: str = "127.0.0.1", port: int = 8501,
                 config: str | None = None) -> None:
        self.store_url, self.host, self.port = store_url, host, port
        self.config = None if config is None else str(Path(config).resolve())
        """The command's ``--config``: the dashboard reads the same file (schemas_dir, ...)."""
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The dashboard's environment: the store, and the configuration file it was given."""
        env = {**os.environ, "CHOREOSCOPE_STORE": self.store_url}
        if self.config is not None:
            env[CONFIG_ENV] = self.config
        return env

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(_app_path()),
            "--server.address", self.host, "--server.port", str(self.port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
            "--client.toolbarMode", "viewer",  # no Deploy button: users view, they do not develop
        ]
        self.proc = subprocess.Popen(cmd, env=self.environment(), start_new_session=True)
        logger.info("dashboard starting on %s", self.url)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise CollectorError(f"the dashboard exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        return False

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
