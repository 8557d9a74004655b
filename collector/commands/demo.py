"""``choreoscope demo``: paced simulator -> in-process collector -> SQLite -> dashboard."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]

DEMO_RATE = 20.0


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="simulator -> collector -> SQLite -> dashboard, paced in real time")
    p.add_argument("--store", help="store URL (default sqlite:///choreoscope.db)")
    p.add_argument("--port", type=int, help="dashboard port (default 8501)")
    p.add_argument("--rate", type=float, default=DEMO_RATE, help="events per second")
    p.add_argument("--seed", type=int, default=1, help="simulator seed")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from collector.commands.collect import build_pipeline
    from collector.commands.simulate import run_simulation
    from collector.dashboard_process import DashboardProcess
    from collector.exceptions import ConfigError
    from collector.flows.definition import load_definitions
    from collector.pipeline import settle_process
    from collector.settings import load_settings
    from collector.simulator import DEMO_FAULT_RATES, Pacing, Simulation
    from collector.store.base import open_store
    from collector.store.dead_letters import bounds_of

    if args.rate <= 0:
        raise ConfigError("--rate", args.rate, "a positive number of events per second")
    settings = load_settings(args.config, store=args.store, dashboard={"port": args.port})
    folder = settings.schemas_dir / "flows"
    if not folder.is_dir():
        raise ConfigError("schemas_dir", str(settings.schemas_dir),
                          "a folder with the flow definitions in flows/*.json (run the demo "
                          "from the repository, or set CHOREOSCOPE_SCHEMAS_DIR)")
    definitions = load_definitions([folder])

    def now() -> datetime:
        return datetime.now(UTC)

    pipeline = build_pipeline(settings, open_store(settings.store,
                                                   dead_letters=bounds_of(settings)))
    sim = Simulation(definitions, flows=None, seed=args.seed, fault_rates=DEMO_FAULT_RATES,
                     pacing=Pacing(args.rate, now=now, sleep=time.sleep), spans=True)
    dash = DashboardProcess(settings.store, settings.dashboard.host, settings.dashboard.port,
                            config=args.config)
    dash.start()
    registry_url = _serve_registry(settings)
    settle_process()
    try:
        if dash.wait_ready():
            print(f"Choreoscope demo: dashboard on {dash.url} (Ctrl-C to stop)", flush=True)
        if registry_url:
            print(f"Choreoscope demo: schema registry (Confluent REST API) on {registry_url}",
                  flush=True)
        run_simulation(sim, store=pipeline, wall=now)
    except KeyboardInterrupt:
        print("choreoscope demo: stopped", file=sys.stderr)
    finally:
        dash.stop()
        pipeline.store.close()
    return 0


def _serve_registry(settings: Any) -> str | None:
    """``registry serve`` on ``[registry] listen`` in a background thread, over the demo's
    schemas; a port already taken is a warning, not a reason to stop the demo."""
    import socket
    import threading

    import uvicorn

    from catalog.changes import Mode, Policy
    from catalog.exceptions import CatalogError
    from collector.commands.registry import split_listen
    from collector.registry_api.app import build_app
    from collector.registry_api.service import RegistryService

    host, port = split_listen(settings.registry.listen)
    try:
        with socket.socket() as probe:
            probe.bind((host, port))
        service = RegistryService(settings.schemas_dir / "events",
                                  mode=Mode(settings.registry.mode),
                                  policy=Policy(settings.registry.policy),
                                  default_draft=settings.registry.default_draft)
    except (OSError, CatalogError) as exc:
        print(f"choreoscope demo: no schema registry on {host}:{port} ({exc})", file=sys.stderr)
        return None
    server = uvicorn.Server(uvicorn.Config(build_app(service), host=host, port=port,
                                          log_level="warning", access_log=False,
                                          lifespan="off"))
    threading.Thread(target=server.run, name="registry", daemon=True).start()
    return f"http://{host}:{port}"
