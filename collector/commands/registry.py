"""``choreoscope registry serve``: the schema folder as a Confluent-compatible registry.

Producers' serializers, kafka-ui, Redpanda Console and CI plugins that speak the Confluent
Schema Registry REST API can use Choreoscope as their registry: subjects are the folders of
``<schemas_dir>/events``, versions their ``v<N>.json`` files, and ids live beside them in
``registry.json``, so they survive restarts and travel with the repository.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from collector.exceptions import ConfigError

__all__ = ["register", "split_listen"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "registry", help="serve the schema folder as a Confluent-compatible schema registry")
    sub = p.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", help="the Confluent Schema Registry REST API (JSON schemas) "
                                         "over the schema folder")
    serve.add_argument("--listen", metavar="HOST:PORT",
                       help="address to listen on (registry.listen, default 127.0.0.1:8081)")
    serve.add_argument("--read-only", action="store_true", default=None,
                       help="answer reads only; writes get 42205 (registry.read_only)")
    serve.set_defaults(handler=_serve)


def split_listen(value: str, key: str = "registry.listen") -> tuple[str, int]:
    """``"127.0.0.1:8081"`` -> ``("127.0.0.1", 8081)``; anything else is a `ConfigError`."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(key, value, "HOST:PORT, e.g. 127.0.0.1:8081")
    return host.strip("[]"), int(port)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from catalog.changes import Mode, Policy
    from catalog.exceptions import CatalogError
    from collector.registry_api.app import build_app
    from collector.registry_api.service import RegistryService
    from collector.settings import load_settings

    settings = load_settings(getattr(args, "config", None))
    conf = settings.registry
    host, port = split_listen(args.listen or conf.listen,
                              "--listen" if args.listen else "registry.listen")
    folder = settings.schemas_dir / "events"
    try:
        service = RegistryService(folder, mode=Mode(conf.mode), policy=Policy(conf.policy),
                                  default_draft=conf.default_draft,
                                  read_only=bool(args.read_only or conf.read_only))
    except CatalogError as exc:
        print(f"choreoscope registry serve: {exc}", file=sys.stderr)
        return 2
    password = conf.serve_password.get_secret_value() if conf.serve_password else None
    if (conf.serve_user is None) != (password is None):
        raise ConfigError("registry.serve_user", "***", "set both serve_user and "
                          "serve_password, or neither")
    app = build_app(service, user=conf.serve_user, password=password)
    count = sum(len(s.versions) for s in service.registry)
    print(f"schema registry on http://{host}:{port} ({count} versions of "
          f"{len(list(service.registry))} subjects from {folder}"
          f"{', read-only' if service.read_only else ''})", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            http="httptools", loop="uvloop", lifespan="off")
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:  # uvicorn exits 1 when the port is taken
        if exc.code:
            print(f"choreoscope registry serve: cannot listen on {host}:{port} (address "
                  "already in use?)", file=sys.stderr)
            return 2
    return 0
