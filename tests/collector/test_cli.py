"""The console script's own contract: exit codes for bad flags and a reader that goes away."""

from __future__ import annotations

import subprocess
import sys

CLI = [sys.executable, "-m", "collector.cli"]


def test_an_unknown_log_level_exits_2_naming_the_flag() -> None:
    done = subprocess.run([*CLI, "--log-level", "loud", "flows", "stuck"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "--log-level" in done.stderr
    assert "'loud'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_closed_pipe_ends_quietly() -> None:
    """`choreoscope simulate --out /dev/stdout | head -1`: no traceback when head exits."""
    proc = subprocess.Popen([*CLI, "simulate", "--flows", "3000", "--out", "/dev/stdout"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=60)
    assert first.startswith(b"{")
    assert code == 141
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
