"""``choreoscope collect``: run the collector against the configured broker.

Kafka by default. RabbitMQ when ``rabbitmq.url`` (``--amqp-url``) is set, NATS when
``nats.url`` (``--nats-url``) is: then Kafka only if a Kafka flag (``--bootstrap-servers``,
``--topics``, ``--topic-pattern``) is given as well. Several brokers are read at once
(`collector.tap.TapSet`). The start-up line says
which broker is read and what it promises.

Reads the watched topics with its own consumer group, writes events, flows, dead letters and
the positions they were read from in one store transaction per batch, serves its health in the
Prometheus text format, publishes the flow engine's alerts when ``[alerts]`` names a topic or a
webhook, and stops cleanly on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from collector.kafka.runner import CollectOptions, KafkaCollector
    from collector.member import Membership
    from collector.pipeline import Pipeline
    from collector.settings import Settings
    from collector.store.base import Store
from collector.commands._args import seconds

__all__ = ["build_collector", "build_pipeline", "describe_schemas", "register"]

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "collect", help="collect events from Kafka into the store")
    p.add_argument("--store", help="store URL, e.g. sqlite:///choreoscope.db")
    p.add_argument("--bootstrap-servers", metavar="HOST:PORT[,...]",
                   help="the Kafka cluster to read (default: the kafka section's, "
                   "127.0.0.1:9092)")
    p.add_argument("--topics", metavar="T1,T2", help="topics to read (comma-separated)")
    p.add_argument("--topic-pattern", metavar="REGEX", help="read every topic matching REGEX")
    p.add_argument("--group-id", help="the collector's own consumer group (RabbitMQ: its "
                   "queue is choreoscope.tap.GROUP)")
    p.add_argument("--nats-url", metavar="URL",
                   help="read NATS JetStream instead of Kafka: nats://HOST:PORT (streams from "
                   "nats.streams)")
    p.add_argument("--amqp-url", metavar="URL",
                   help="read RabbitMQ instead of Kafka: amqp://USER@HOST:PORT/VHOST (bindings "
                   "from rabbitmq.bindings)")
    p.add_argument("--start", metavar="earliest|latest|TIME",
                   help="where partitions without a stored position start")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="Prometheus endpoint port (0: off)")
    p.add_argument("--otlp", metavar="HOST:PORT",  # issue 6: traces beside the Kafka tap
                   help="also receive OpenTelemetry traces: OTLP/HTTP on HOST:PORT, OTLP/gRPC "
                   "on otlp.grpc_port (4317) unless otlp.grpc is false")
    p.add_argument("--until-idle", type=seconds, metavar="SECONDS",
                   help="exit once every partition is read to its end and no record has "
                        "arrived for SECONDS")
    p.set_defaults(handler=_collect)


def build_pipeline(settings: Settings, store: Store) -> Pipeline:
    """The pipeline the collector runs: envelope rules, live validation against the schemas in
    ``schemas_dir/events``, flow tracker restored from the store."""
    from collector.envelope import Decoder, build_rules
    from collector.flows.definition import load_definitions
    from collector.flows.query import restore_tracker
    from collector.pipeline import Pipeline
    from collector.validate import load_validator

    folder = settings.schemas_dir / "flows"
    definitions = load_definitions([folder]) if folder.is_dir() else ()
    tracker = restore_tracker(store, definitions) if definitions else None
    return Pipeline(store, Decoder(build_rules(settings)), tracker=tracker,
                    validate=load_validator(settings))


def build_collector(settings: Settings, store: Store, *,
                    now: Callable[[], datetime] | None = None,
                    monotonic: Callable[[], float] | None = None,
                    kafka_flags: bool = False) -> KafkaCollector:
    """The collector ``choreoscope collect`` runs: the tap on ``settings.kafka``, the pipeline
    of `build_pipeline`, its options, health (``collector.health``, served by the caller), the
    alert pump when ``[alerts]`` names a sink, and the catalog's traffic rollups on its ticks.

    The caller owns ``store`` and closes the alert publisher (``collector.alerts.publisher``)
    after the run; the publisher is built last, so nothing is left open when this raises.
    """
    import time
    from datetime import UTC, datetime

    from collector.catalog_source import RollupRefresher, rollup_store
    from collector.flows.publish import AlertPump, build_publisher
    from collector.kafka.health import Health
    from collector.kafka.runner import KafkaCollector
    from collector.kafka.tap import KafkaTap, TapOptions
    from collector.store.dead_letters import DeadLetterAging
    from collector.tap import Tap, TapSet

    clock = now if now is not None else lambda: datetime.now(UTC)
    mono = monotonic if monotonic is not None else time.monotonic
    pipeline = build_pipeline(settings, store)
    taps: list[Tap] = []
    if settings.rabbitmq.url is not None:
        from collector.rabbitmq.tap import RabbitTap, RabbitTapOptions

        taps.append(RabbitTap(RabbitTapOptions(settings.rabbitmq, settings.kafka.group_id),
                              now=clock, monotonic=mono))
    if settings.nats.url is not None:
        from collector.nats.tap import NatsTap, NatsTapOptions

        taps.append(NatsTap(NatsTapOptions(settings.nats, settings.kafka.group_id),
                            store.positions, now=clock, monotonic=mono))
    if not taps or kafka_flags:
        taps.insert(0, KafkaTap(TapOptions.from_settings(settings.kafka), store.positions))
    tap: Tap = taps[0] if len(taps) == 1 else TapSet(taps)
    # the catalog's traffic rollups (event map, catalog pages) kept current as we go
    rollups = RollupRefresher(rollup_store(store))
    publisher = build_publisher(settings, store, now=clock)
    alerts = None if publisher is None else AlertPump(publisher, monotonic=mono)
    return KafkaCollector(tap, pipeline, options=_options(settings),
                          health=Health(monotonic=mono), now=clock, monotonic=mono,
                          alerts=alerts,
                          housekeeping=(rollups.on_tick,
                                        DeadLetterAging(store.trim_dead_letters).on_tick))


def describe_schemas(settings: Settings) -> str:
    """What the collector works from, for its start-up line: ``loaded 12 event schemas (9 event
    types) and 3 flow definitions from /abs/schemas``."""
    from catalog.files import load_registry
    from collector.flows.definition import load_definitions

    folder = settings.schemas_dir
    registry = load_registry(folder / "events")
    versions = sum(len(subject.versions) for subject in registry)
    flows = folder / "flows"
    definitions = load_definitions([flows]) if flows.is_dir() else ()
    return (f"loaded {versions} event schemas ({len(registry.subjects)} event types) and "
            f"{len(definitions)} flow definitions from {folder.resolve()}")


def _settings(args: argparse.Namespace) -> Settings:
    from collector.settings import load_settings

    kafka = {
        "bootstrap_servers": args.bootstrap_servers,
        "topics": None if args.topics is None else tuple(
            t.strip() for t in args.topics.split(",") if t.strip()),
        "topic_pattern": args.topic_pattern,
        "group_id": args.group_id,
        "start": args.start,
        "metrics_port": args.metrics_port,
    }
    from collector.commands.otlp import otlp_flags

    otlp = otlp_flags(getattr(args, "otlp", None), flag="--otlp")
    return load_settings(args.config, store=args.store, kafka=kafka, otlp=otlp,
                         rabbitmq={"url": getattr(args, "amqp_url", None)},
                         nats={"url": getattr(args, "nats_url", None)})


def _kafka_flags(args: argparse.Namespace) -> bool:
    return any(getattr(args, f, None) for f in ("bootstrap_servers", "topics", "topic_pattern"))


def _collect(args: argparse.Namespace) -> int:
    import signal
    import threading
    import time

    from collector._config_file import secret_values
    from collector.catalog_source import refresh_rollups, rollup_store
    from collector.kafka._client import (
        KafkaNoiseFilter,
        SecretFilter,
        client_config,
        masked,
    )
    from collector.kafka.health import MetricsServer
    from collector.pipeline import settle_process
    from collector.settings import require_schemas_dir
    from collector.store.base import open_store
    from collector.store.dead_letters import bounds_of

    settings = _settings(args)
    require_schemas_dir(settings)
    store = open_store(settings.store, dead_letters=bounds_of(settings))  # bad URL: said first
    quiet = logging.getLogger().level > logging.DEBUG
    started = threading.Event()  # set once the tap is open: until then kafka-python is silent
    for handler in logging.getLogger().handlers:
        handler.addFilter(SecretFilter(secret_values(settings)))  # every secret, any logger
        if quiet:  # kafka-python logs every failed reconnect; the tap logs state changes
            handler.addFilter(KafkaNoiseFilter(started.is_set))
    if quiet:  # nats-py logs its reconnects with tracebacks; the NATS tap logs the link state
        logging.getLogger("nats").setLevel(logging.CRITICAL)
    if quiet:  # pika logs each connection step, and each failed one with a traceback; the
        # RabbitMQ tap logs the link's state changes and says why it gives up
        logging.getLogger("pika").setLevel(logging.CRITICAL)
    k = settings.kafka
    logger.info("kafka client %s", masked(client_config(k)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = None
    otlp = None
    collector = None
    if settings.scale_out.enabled:
        try:
            return _collect_scaled(args, settings, store, stop, started.set)
        finally:
            store.close()
    try:
        collector = build_collector(settings, store, kafka_flags=_kafka_flags(args))
        membership = _membership(settings)
        collector.role = membership.role("single")
        collector.tap.on_open = started.set
        # one start-up line: what it works from, what it reads and what that broker promises
        print(f"choreoscope: {describe_schemas(settings)}; reading {collector.tap.source}: "
              f"{collector.tap.delivery}", file=sys.stderr, flush=True)
        if args.otlp:
            from collector.otlp.receiver import OtlpService

            otlp = OtlpService(settings.otlp, store, kafka=settings.kafka).start()
        if k.metrics_port:
            assert collector.health is not None
            server = MetricsServer(collector.health.registry, k.metrics_host, k.metrics_port)
            logger.info("health at http://%s:%d/metrics", k.metrics_host, server.port)
        settle_process()
        collector.run(stop, _idle_check(args.until_idle, time.monotonic))
        refresh_rollups(rollup_store(store))  # what the last ticks did not roll up yet
        _sign_off(store, membership)
    finally:
        publisher = None if collector is None or collector.alerts is None else (
            collector.alerts.publisher)
        if publisher is not None:
            publisher.close()
        if otlp is not None:
            otlp.close()
        if server is not None:
            server.close()
        store.close()
    pipeline = collector.pipeline
    s = pipeline.stats
    sent = "" if publisher is None else f", {publisher.sent} alerts published"
    print(f"collected {s.observations} records: {s.events} events, "
          f"{s.dead_letters} dead letters, {s.writes} store transactions{sent}")
    return 0


def _collect_scaled(args: argparse.Namespace, settings: Settings, store: Store,
                    stop: Any, on_open: Callable[[], object]) -> int:
    """``collect`` with ``[scale_out] enabled``: a reader and a tracker (docs/SCALE-OUT.md)."""
    from collector.exceptions import ConfigError
    from collector.kafka.health import MetricsServer
    from collector.pipeline import settle_process
    from collector.scaleout.process import build_scale_out

    if settings.rabbitmq.url is not None or settings.nats.url is not None:
        raise ConfigError("scale_out.enabled", True, "false while rabbitmq.url or nats.url "
                          "is set (scale-out reads Kafka only)")
    k = settings.kafka
    scaled = build_scale_out(settings, store)
    membership = _membership(settings)
    scaled.reader.role = membership.role("reader")
    scaled.tracker.role = membership.role("tracker")
    scaled.reader.tap.on_open = on_open
    server = None
    try:
        print(f"choreoscope: {describe_schemas(settings)}; reading "
              f"{scaled.reader.tap.source} in scale-out mode, tracking "
              f"{settings.scale_out.internal_topic(k.group_id)}", file=sys.stderr, flush=True)
        if k.metrics_port and scaled.reader.health is not None:
            server = MetricsServer(scaled.reader.health.registry, k.metrics_host,
                                   k.metrics_port)
        settle_process()
        scaled.run(stop, args.until_idle)
        _sign_off(store, membership)
    finally:
        if server is not None:
            server.close()
        alerts = scaled.tracker.alerts
        if alerts is not None:
            alerts.publisher.close()
        scaled.close()
    r, t = scaled.reader.pipeline.stats, scaled.tracker.pipeline.stats
    print(f"collected {r.observations} records: {r.events} events, {r.dead_letters} dead "
          f"letters; tracked {t.observations} forwarded events, {t.alerts} alerts")
    return 0


def _membership(settings: Settings) -> Membership:
    """This process in its group's ``collectors`` table (the Collector health page)."""
    import os
    import socket
    from datetime import UTC, datetime

    from collector.member import Membership, collector_id

    started, host = datetime.now(UTC), socket.gethostname()
    return Membership(collector_id(host, os.getpid(), started), settings.kafka.group_id,
                      started, settings.kafka.metrics_every_s, host=host)


def _sign_off(store: Store, membership: Membership) -> None:
    """A clean stop's last ``collectors`` row: the page shows it stopped, not silent (a
    process that dies without this is flagged silent once its heartbeats are overdue)."""
    from datetime import UTC, datetime

    from collector.store.base import Batch

    store.write(Batch(collectors=[membership.stop(datetime.now(UTC))]))


def _options(settings: Settings) -> CollectOptions:
    from datetime import timedelta

    from collector.kafka.runner import CollectOptions

    k, r = settings.kafka, settings.retention
    return CollectOptions(
        batch_max=k.batch_max, batch_wait=k.batch_wait_ms / 1000,
        health_every=k.metrics_every_s, retention_batch=r.batch_size, retention_every=r.every_s,
        retention=None if r.max_age_days is None else timedelta(days=r.max_age_days))


def _idle_check(seconds: float | None, monotonic: Any) -> Any:
    if seconds is None:
        return None
    state = {"seen": -1, "since": monotonic()}

    def idle(collector: Any) -> bool:
        seen = collector.pipeline.stats.observations
        if seen != state["seen"]:
            state["seen"], state["since"] = seen, monotonic()
            return False
        return bool(monotonic() - state["since"] >= seconds and collector.tap.caught_up())

    return idle
