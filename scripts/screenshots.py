"""Regenerate the README's screenshots (docs/screenshots/*.png) from a running demo.

Runs the browser tests (tests/e2e/test_browser.py, test_flow_search_browser.py,
test_eventmap_browser.py, test_messages_browser.py) with
``CHOREOSCOPE_SCREENSHOTS`` pointing at docs/screenshots, after letting the demo gather data
for ``--warmup`` seconds so that stuck flows, breaches and violations have appeared. Needs
/usr/bin/chromium (scripts/ensure_chromium.sh) and the dev extras (``make install``)::

    .venv/bin/python scripts/screenshots.py [--warmup 120] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", type=float, default=120.0,
                        help="seconds the demo runs before the first page is opened")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    env = {**os.environ, "CHOREOSCOPE_SCREENSHOTS": str(args.out.resolve()),
           "CHOREOSCOPE_E2E_WARMUP": str(args.warmup)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "-k", "not postgresql",  # the README shows the demo's own SQLite store
           str(REPO / "tests" / "e2e" / "test_browser.py"),
           str(REPO / "tests" / "e2e" / "test_flow_search_browser.py"),
           str(REPO / "tests" / "e2e" / "test_eventmap_browser.py"),
           str(REPO / "tests" / "e2e" / "test_messages_browser.py")]
    return subprocess.run(cmd, cwd=REPO, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
