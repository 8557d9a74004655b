"""``choreoscope simulate``: run the built-in simulator and send its records somewhere.

Where the records go: ``--out FILE`` (JSON lines, format in `collector.simulator.record`),
``--store URL`` (the in-process collector, whose detection clock is advanced to settle time at
the end), ``--bootstrap-servers HOST:PORT`` (a real Kafka cluster; ``--topic-prefix P`` publishes
to P + each domain topic, e.g. ``sim.orders``, on a shared cluster), any together. ``--truth``
and ``--expectations`` write what the collector should find (format in
`collector.simulator.truth`). Unpaced by default; ``--rate R`` paces it at R events a second in
wall time (without ``--flows`` it then runs until Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from collector.exceptions import ConfigError

if TYPE_CHECKING:
    from collector.member import MemberRole
    from collector.model import Observation, Span
    from collector.pipeline import Pipeline
    from collector.settings import NatsSettings, RabbitMQSettings, Settings
    from collector.simulator import SimRecord, Simulation, TruthRow
    from collector.simulator.generated import GeneratedSimulation
from collector.commands._args import at_least

__all__ = ["register", "run_simulation"]

DEFAULT_FLOWS = 1000
_BATCH = 1000
DESCRIPTION = """Run the built-in simulator and send its records somewhere.

Where the records go: --out FILE (JSON lines), --store URL (the in-process collector, whose
detection clock is advanced to settle time at the end), --bootstrap-servers HOST:PORT (a real
Kafka cluster; --topic-prefix P publishes to P + each domain topic, e.g. sim.orders, on a shared
cluster), any together. --truth and --expectations write what the collector should find.
Unpaced by default; --rate R paces it at R events a second in wall time (without --flows it
then runs until Ctrl-C)."""
HEALTH_EVERY = timedelta(seconds=5)
"""How often the in-process collector samples its health (the Kafka collector: 10 s)."""


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="simulate a choreographed system, with faults and ground truth",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--flows", type=int, metavar="N",
                   help=f"flow instances to play (default {DEFAULT_FLOWS}; "
                        "with --rate, unbounded)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="random seed: the same seed gives the same records (default 0)")
    p.add_argument("--fault-rate", action="append", default=[], metavar="NAME=RATE",
                   help="share of flows that get the fault NAME (repeatable): lost, slow, "
                        "duplicate, reorder, bad-schema, unknown-type, orphan, undecodable, "
                        "no-correlation")
    p.add_argument("--out", metavar="FILE", help="write the records as JSON lines")
    p.add_argument("--truth", metavar="FILE", help="write the ground truth, one flow a line")
    p.add_argument("--expectations", metavar="FILE",
                   help="write the expected violations, dead letters, orphans and "
                        "undocumented events, one a line")
    p.add_argument("--store", metavar="URL",
                   help="feed the in-process collector storing into URL (sqlite:///PATH)")
    p.add_argument("--rate", type=float, metavar="R",
                   help="pace in wall time at about R events per second")
    p.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                   help="publish the records to this Kafka cluster")
    p.add_argument("--nats-url", metavar="URL",
                   help="publish the records to NATS JetStream: each topic a stream of its name, "
                        "subject TOPIC.<event type>")
    p.add_argument("--amqp-url", metavar="URL",
                   help="publish the records to RabbitMQ: each topic a topic exchange of its "
                        "name, the event type the routing key")
    p.add_argument("--domain", choices=("demo", "generated"), default="demo",
                   help="demo: the built-in shop and onboarding (default); generated: a seeded "
                        "topology of --types event types, --services services, --topics topics "
                        "(unpaced, no faults, no ground truth)")
    p.add_argument("--types", type=at_least(1), default=60, metavar="N",
                   help="event types of the generated domain (default 60)")
    p.add_argument("--services", type=at_least(1), default=25, metavar="N",
                   help="services of the generated domain (default 25)")
    p.add_argument("--topics", type=at_least(1), default=15, metavar="N",
                   help="topics of the generated domain (default 15)")
    p.add_argument("--write-schemas", metavar="DIR",
                   help="with --domain generated: write its event types' schemas into DIR "
                        "(events/TYPE/v1.json) for CHOREOSCOPE_SCHEMAS_DIR, and stop")
    p.add_argument("--topic-prefix", default="", metavar="PREFIX",
                   help="publish to PREFIX + each domain topic (e.g. sim. for sim.orders); "
                        "--out, --store and the truth keep the domain names")
    p.set_defaults(handler=_run)


def _check(args: argparse.Namespace) -> None:
    if args.flows is not None and args.flows < 0:
        raise ConfigError("--flows", args.flows, "a number of flows, 0 or more")
    if args.rate is not None and not args.rate > 0:
        raise ConfigError("--rate", args.rate, "events per second, more than 0")
    if args.rate is not None and args.flows is None and (args.truth or args.expectations):
        raise ConfigError("--flows", None, "a number of flows when --truth or --expectations "
                                           "is written in paced mode")
    if args.write_schemas and args.domain != "generated":
        raise ConfigError("--write-schemas", args.write_schemas, "--domain generated as well "
                                                                 "(the demo's are in schemas/)")
    if args.domain == "generated":
        for flag, value in (("--rate", args.rate), ("--truth", args.truth),
                            ("--expectations", args.expectations),
                            ("--fault-rate", args.fault_rate or None)):
            if value is not None:
                raise ConfigError(flag, value, "no such option with --domain generated "
                                               "(unpaced, no faults, no ground truth)")


def _generated(args: argparse.Namespace, spans: bool) -> GeneratedSimulation:
    from collector.simulator.exceptions import SimulatorError
    from collector.simulator.generated import GeneratedSimulation, generate_domain

    try:
        domain = generate_domain(event_types=args.types, services=args.services,
                                 topics=args.topics, seed=args.seed)
    except SimulatorError as exc:
        raise ConfigError("--types/--services/--topics",
                          f"{args.types}/{args.services}/{args.topics}", str(exc)) from exc
    if args.write_schemas:
        from collector.simulator.generated import write_schemas

        written = write_schemas(domain, Path(args.write_schemas))
        print(f"simulate: wrote {written} schemas into {args.write_schemas}", flush=True)
    flows = args.flows if args.flows is not None else DEFAULT_FLOWS
    return GeneratedSimulation(domain, flows=flows, seed=args.seed, spans=spans)


def _run(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC

    from collector.flows.definition import load_definitions
    from collector.settings import load_settings
    from collector.simulator import Pacing, Simulation, parse_fault_rates

    _check(args)
    if args.domain == "generated":
        return _run_generated(args)
    rates = parse_fault_rates(args.fault_rate)
    settings = load_settings(args.config, store=args.store,
                             kafka={"bootstrap_servers": args.bootstrap_servers},
                             rabbitmq={"url": args.amqp_url}, nats={"url": args.nats_url})
    folder = settings.schemas_dir / "flows"
    if not folder.is_dir():
        raise ConfigError("schemas_dir", str(settings.schemas_dir),
                          "a folder with the flow definitions in flows/*.json")
    definitions = load_definitions([folder])
    pacing = None
    if args.rate is not None:
        pacing = Pacing(args.rate, now=lambda: datetime.now(UTC), sleep=time.sleep)
    flows = args.flows if args.flows is not None else (None if pacing else DEFAULT_FLOWS)
    sim = Simulation(definitions, flows=flows, seed=args.seed, fault_rates=rates,
                     pacing=pacing, spans=bool(args.store))
    pipeline, kafka_client = _destinations(args, settings)
    started = time.perf_counter()
    try:
        run_simulation(sim, out=args.out, store=pipeline, kafka=args.bootstrap_servers,
                       kafka_client=kafka_client, progress=sys.stderr.isatty(),
                       wall=lambda: datetime.now(UTC), topic_prefix=args.topic_prefix,
                       rabbitmq=settings.rabbitmq if args.amqp_url else None,
                       nats=settings.nats if args.nats_url else None)
    except KeyboardInterrupt:
        print("simulate: stopped", file=sys.stderr)
        _summary(sim, time.perf_counter() - started)
        return 130
    finally:
        if pipeline is not None:
            pipeline.store.close()
    if args.truth:
        _write_lines(args.truth, sim.truth())
    if args.expectations:
        _write_lines(args.expectations, sim.expectations())
    _summary(sim, time.perf_counter() - started)
    return 0


def _destinations(args: argparse.Namespace, settings: Settings
                  ) -> tuple[Pipeline | None, Mapping[str, Any] | None]:
    """The in-process collector (``--store``) and the Kafka client settings (``--bootstrap-
    servers``, security from the config), each when asked for."""
    pipeline = None
    if args.store:
        from collector.commands.collect import build_pipeline
        from collector.store.base import open_store
        from collector.store.dead_letters import bounds_of

        pipeline = build_pipeline(settings, open_store(settings.store,
                                                   dead_letters=bounds_of(settings)))
    kafka_client = None
    if args.bootstrap_servers:
        from collector.kafka._client import client_config

        kafka_client = client_config(settings.kafka)  # security settings from the config
    return pipeline, kafka_client


def _run_generated(args: argparse.Namespace) -> int:
    """``--domain generated``: the seeded topology's flows to the same destinations."""
    import time

    from collector.settings import load_settings

    sim = _generated(args, spans=bool(args.store))
    if args.write_schemas:
        return 0
    settings = load_settings(args.config, store=args.store,
                             kafka={"bootstrap_servers": args.bootstrap_servers})
    pipeline, kafka_client = _destinations(args, settings)
    started = time.perf_counter()
    try:
        run_simulation(sim, out=args.out, store=pipeline, kafka=args.bootstrap_servers,
                       kafka_client=kafka_client, progress=sys.stderr.isatty(),
                       topic_prefix=args.topic_prefix)
    finally:
        if pipeline is not None:
            pipeline.store.close()
    _summary(sim, time.perf_counter() - started)
    return 0


def run_simulation(sim: Simulation | GeneratedSimulation, *, out: str | Path | None = None,
                   store: Pipeline | None = None, kafka: str | None = None,
                   kafka_client: Mapping[str, Any] | None = None, progress: bool = False,
                   wall: Callable[[], datetime] | None = None, topic_prefix: str = "",
                   rabbitmq: RabbitMQSettings | None = None,
                   nats: NatsSettings | None = None) -> None:
    """Run ``sim`` to its end, sending every record to each destination given (to Kafka under
    ``topic_prefix`` + the domain topic; to RabbitMQ, exchanges named like the topics)."""
    with ExitStack() as stack:
        sinks: list[Callable[[SimRecord, int], None]] = []
        if out is not None:
            sinks.append(_file_sink(stack.enter_context(Path(out).open("wb"))))
        feed = None
        if store is not None:
            feed = _StoreFeed(store, wall if sim.paced else None, sim.take_spans)
            sinks.append(feed.add)
        records = _tapped(sim, sinks, progress)
        if kafka is not None and topic_prefix:
            records = _prefixed(records, topic_prefix)
        try:
            if nats is not None:
                from collector.nats.publisher import publish as publish_nats

                publish_nats(records, nats)
            elif rabbitmq is not None:
                from collector.rabbitmq.publisher import publish as publish_amqp

                publish_amqp(records, rabbitmq)
            elif kafka is not None and sim.paced:
                _publish_paced(records, kafka, kafka_client, topic_prefix)
            elif kafka is not None:
                from collector.kafka.producer import publish

                publish(records, kafka, client=kafka_client)
            else:
                for _ in records:
                    pass
        finally:  # stopped early (Ctrl-C) too: what was delivered reaches the store
            if feed is not None:
                feed.finish(sim.settle_time if sim.finished else None)


def _prefixed(records: Iterator[SimRecord], prefix: str) -> Iterator[SimRecord]:
    from dataclasses import replace

    for record in records:
        yield replace(record, topic=prefix + record.topic)


def _publish_paced(records: Iterator[SimRecord], kafka: str,
                   client: Mapping[str, Any] | None, topic_prefix: str = "") -> None:
    """Publish as records come: `publish` takes a whole list, so send about a second's worth
    at a time (the topics are created once, first)."""
    import time

    from collector.kafka.producer import ensure_topics, publish
    from collector.simulator import TOPOLOGY

    ensure_topics(kafka, [topic_prefix + t for t in TOPOLOGY.topics], client=client)
    chunk: list[SimRecord] = []
    since = time.monotonic()
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) >= _BATCH or time.monotonic() - since >= 1.0:
                publish(chunk, kafka, client=client, create_topics=False)
                chunk, since = [], time.monotonic()
    finally:  # stopped (Ctrl-C) too: what was delivered reaches the broker
        if chunk:
            publish(chunk, kafka, client=client, create_topics=False)


def _tapped(sim: Simulation | GeneratedSimulation,
            sinks: Iterable[Callable[[SimRecord, int], None]],
            progress: bool) -> Iterator[SimRecord]:
    from tqdm import tqdm

    sinks = tuple(sinks)
    with tqdm(total=sim.flows_wanted, unit="flow", disable=not progress) as bar:
        for seq, record in enumerate(sim.records()):
            for sink in sinks:
                sink(record, seq)
            if not seq & 1023:
                bar.update(sim.stats.flows - bar.n)
            yield record
        bar.update(sim.stats.flows - bar.n)


def _file_sink(f: IO[bytes]) -> Callable[[SimRecord, int], None]:
    from collector.simulator import encode_json_line

    def write(record: SimRecord, seq: int) -> None:
        f.write(encode_json_line(record))

    return write


class _StoreFeed:
    """Feeds the in-process collector in batches (and the simulation's spans, if it makes
    them); paced, it also ticks the detection clock."""

    def __init__(self, pipeline: Pipeline, wall: Callable[[], datetime] | None,
                 spans: Callable[[], list[Span]]) -> None:
        self._pipeline = pipeline
        self._spans = spans
        self._wall = wall
        self._batch: list[Observation] = []
        self._next: dict[str, int] = {}
        self._last_flush: datetime | None = None
        self._last_sample: datetime | None = None
        from collector.catalog_source import RollupRefresher, rollup_store
        from collector.kafka.health import Health

        # the same health samples as `collect` writes (no lag: no consumer group here)
        self._health = Health(monotonic=time.monotonic)
        # and the same heartbeat row on the Collector health page: this process is a collector
        self._member = _membership(wall)

        # the catalog's traffic rollups (event map, catalog pages), current within seconds
        self._rollups = RollupRefresher(rollup_store(pipeline.store))

    def add(self, record: SimRecord, seq: int) -> None:
        from collector.simulator import to_observation

        self._batch.append(to_observation(record, seq))
        self._next[record.topic] = seq + 1
        if len(self._batch) >= _BATCH or (self._wall is not None and self._due()):
            self._flush()

    def _due(self) -> bool:
        assert self._wall is not None
        now = self._wall()
        if self._last_flush is None or (now - self._last_flush).total_seconds() >= 0.5:
            self._last_flush = now
            return True
        return False

    def _flush(self) -> None:
        from collector.simulator.record import SOURCE
        from collector.store.base import Batch, Position

        if self._batch:
            positions = [Position(SOURCE, t, 0, n) for t, n in sorted(self._next.items())]
            self._pipeline.process(self._batch, positions)
            self._health.on_step(self._pipeline.stats, wrote=True)
            self._batch, self._next = [], {}
        self._sample_health()
        spans = self._spans()
        if spans:
            self._pipeline.store.write(Batch(spans=spans))
        if self._wall is not None:
            now = self._wall()
            self._pipeline.advance(now)
            self._rollups.on_tick(now)

    def _sample_health(self, *, last: bool = False) -> None:
        """Every `HEALTH_EVERY` of wall time (the first flush and the last too): records/s,
        dead letters/s, store write and validation time, straight to the store as `collect`
        writes them."""
        now = self._wall() if self._wall is not None else datetime.now(UTC)
        if not last and self._last_sample is not None and now - self._last_sample < HEALTH_EVERY:
            return
        self._last_sample = now
        from collector.kafka.health import with_collector
        from collector.store.base import Batch

        store = self._pipeline.store
        samples = self._health.sample(self._pipeline.stats, {}, None, now,
                                      store.dead_letter_usage())
        beat = self._member.beat({}, self._pipeline.stats.observations, now)
        store.write(Batch(metrics=with_collector(samples, beat.collector_id),
                          collectors=[beat]))

    def finish(self, settle: datetime | None) -> None:
        """Flush; at the end of a run, advance the detection clock to settle time and bring
        the catalog's rollups up to date."""
        from collector.catalog_source import refresh_rollups, rollup_store
        from collector.store.base import Batch

        self._flush()
        self._sample_health(last=True)
        if settle is not None:
            self._pipeline.advance(settle)
        refresh_rollups(rollup_store(self._pipeline.store))
        # a clean stop: the Collector health page shows this collector stopped, not silent
        now = self._wall() if self._wall is not None else datetime.now(UTC)
        self._pipeline.store.write(Batch(collectors=[self._member.membership.stop(now)]))


def _membership(wall: Callable[[], datetime] | None) -> MemberRole:
    """The in-process collector's role in table ``collectors`` (group and role ``simulator``)."""
    import os
    import socket

    from collector.member import Membership, collector_id

    started, host = wall() if wall is not None else datetime.now(UTC), socket.gethostname()
    membership = Membership(collector_id(host, os.getpid(), started), "simulator", started,
                            HEALTH_EVERY.total_seconds(), host=host)
    return membership.role("simulator")


def _write_lines(path: str, rows: list[TruthRow] | list[dict[str, Any]]) -> None:
    from collector.simulator.truth import encode_rows

    Path(path).write_bytes(encode_rows(rows))


def _summary(sim: Simulation | GeneratedSimulation, elapsed: float) -> None:
    s = sim.stats
    faults = ", ".join(f"{k}={v}" for k, v in sorted(s.faults.items())) or "none"
    print(f"simulated {s.flows} flows: {s.events} events in {s.records} records; "
          f"faults injected: {faults}; elapsed {elapsed:.1f} s", flush=True)
