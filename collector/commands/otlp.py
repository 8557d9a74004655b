"""``choreoscope otlp``: receive OpenTelemetry traces over OTLP/HTTP and OTLP/gRPC into the store.

The same intake ``choreoscope collect --otlp HOST:PORT`` runs beside the Kafka tap; this
command runs it alone. The bearer token is read from the configuration or the environment
(``CHOREOSCOPE_OTLP__TOKEN``), never from the command line, where other users could see it.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from collector.exceptions import ConfigError

__all__ = ["otlp_flags", "parse_listen", "register"]


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "otlp", help="receive OpenTelemetry traces (OTLP/HTTP and OTLP/gRPC) into the store")
    p.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    p.add_argument("--listen", metavar="HOST:PORT",
                   help="where to listen (default 127.0.0.1:4318)")
    p.add_argument("--grpc-port", type=int, metavar="PORT",
                   help="OTLP/gRPC port on the same host (default 4317)")
    p.add_argument("--no-grpc", action="store_true", help="serve OTLP/HTTP only")
    p.add_argument("--kafka-topic", action="append", metavar="TOPIC", dest="kafka_topics",
                   help="also read OTLP span records from this Kafka topic (repeatable), e.g. "
                   "otlp_spans, where the OpenTelemetry Collector's Kafka exporter writes")
    p.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                   help="the Kafka cluster of --kafka-topic (default: the kafka section's)")
    p.add_argument("--max-body-bytes", type=int, metavar="N",
                   help="request size limit, also after decompression (default 20 MiB)")
    p.set_defaults(handler=_serve)


def parse_listen(value: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``, or ``[v6]:PORT``) as a pair; `ConfigError` if it is not."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(flag, value, "HOST:PORT, e.g. 127.0.0.1:4318")
    return host.strip("[]") or "127.0.0.1", int(port)


def otlp_flags(listen: str | None, max_body_bytes: int | None = None,
               flag: str = "--listen") -> dict[str, Any]:
    """The ``otlp`` settings given on the command line, for `load_settings`."""
    host, port = parse_listen(listen, flag) if listen is not None else (None, None)
    return {"host": host, "port": port, "max_body_bytes": max_body_bytes}


def _serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from collector.otlp.receiver import serve_otlp
    from collector.settings import load_settings

    flags = otlp_flags(args.listen, args.max_body_bytes)
    flags.update(grpc_port=args.grpc_port, grpc=False if args.no_grpc else None,
                 kafka_topics=None if args.kafka_topics is None else tuple(args.kafka_topics))
    settings = load_settings(args.config, store=args.store, otlp=flags,
                             kafka={"bootstrap_servers": args.bootstrap_servers})
    from collector._config_file import secret_values
    from collector.kafka._client import SecretFilter

    for handler in logging.getLogger().handlers:  # no log line holds the bearer token
        handler.addFilter(SecretFilter(secret_values(settings)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stats = serve_otlp(settings, stop=stop)
    print(f"received {stats.requests} OTLP requests: {stats.spans_stored} spans stored, "
          f"{stats.saturated} refused while saturated, {stats.failed_writes} failed writes")
    return 0
