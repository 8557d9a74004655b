"""``choreoscope dashboard``: serve the dashboard over an existing store until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "dashboard", help="serve the dashboard (read-only) over a store")
    p.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8501)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from collector.dashboard_process import DashboardProcess
    from collector.settings import load_settings

    settings = load_settings(args.config, store=args.store,
                             dashboard={"host": args.host, "port": args.port})
    dash = DashboardProcess(settings.store, settings.dashboard.host, settings.dashboard.port,
                            config=args.config)
    dash.start()
    try:
        if dash.wait_ready():
            print(f"Choreoscope dashboard on {dash.url} (Ctrl-C to stop)", flush=True)
        threading.Event().wait()
    finally:
        dash.stop()
    return 0
