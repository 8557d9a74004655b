"""``rabbitmq_pipeline_records_per_s`` and ``nats_pipeline_records_per_s``: the collector's full
rate reading RabbitMQ (its tap queue) or NATS JetStream (its durable pull consumer), against the
raw client's consume rate of the same messages in the same run.

A real server is started here (``tests/brokers/_servers.py``: Debian's ``rabbitmq-server`` or
``nats-server -js``, ``scripts/ensure_brokers.sh``). 30,000 simulated records are published once;
two readers get a copy each (RabbitMQ: two tap queues bound alike; JetStream: two durable
consumers):

- baseline: the bare client (pika with manual acks of each 1,000, prefetch as the tap's;
  nats-py fetching 1,000 at a time and acknowledging each) until it has every message;
- value: the collector ``build_collector`` wires for ``collect --amqp-url`` / ``--nats-url``
  (decode, validate, track, one SQLite transaction per batch, acks after it) until it has every
  message. ``cpu_us_per_record``: this process's CPU time (all its threads) per record.

Both clocks run from the first message to the last. ``ratio`` = pipeline / raw.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

import nats
import pika

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from _sim import simulated_records  # noqa: E402

from collector.commands.collect import build_collector  # noqa: E402
from collector.nats.publisher import publish as publish_nats  # noqa: E402
from collector.pipeline import settle_process  # noqa: E402
from collector.rabbitmq.publisher import publish as publish_amqp  # noqa: E402
from collector.rabbitmq.tap import RabbitTap, RabbitTapOptions  # noqa: E402
from collector.settings import NatsSettings, RabbitMQSettings, Settings  # noqa: E402
from collector.store.base import open_store  # noqa: E402
from tests.brokers._servers import NatsServer, RabbitNode  # noqa: E402

RECORDS = 30_000
TOPIC = "bench"


def _records(n: int) -> list[Any]:
    return simulated_records(n, TOPIC)


def _pipeline(settings: Settings) -> tuple[float, dict[str, Any]]:
    store = open_store(settings.store)
    collector = build_collector(settings, store)
    gc_before, switch_before = gc.get_threshold(), sys.getswitchinterval()
    settle_process()
    started: list[tuple[float, float]] = []
    original = collector.step

    def timed_step(observations: Any, positions: Any) -> None:
        if not started:
            started.append((time.perf_counter(), time.process_time()))
        original(observations, positions)

    collector.step = timed_step  # type: ignore[method-assign]
    try:
        collector.run(threading.Event(),
                      until=lambda c: c.pipeline.stats.observations >= RECORDS)
        elapsed = time.perf_counter() - started[0][0]
        cpu = time.process_time() - started[0][1]
        stored = store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    finally:
        gc.unfreeze()
        gc.set_threshold(*gc_before)
        sys.setswitchinterval(switch_before)
        store.close()
    return RECORDS / elapsed, {"events_stored": stored, "elapsed_s": round(elapsed, 3),
                               "cpu_us_per_record": round(cpu / RECORDS * 1e6, 1),
                               "store_writes": collector.pipeline.stats.writes}


def _line(name: str, value: float, raw: float, extra: dict[str, Any],
          raw_extra: dict[str, Any]) -> dict[str, Any]:
    return {"bench": name, "value": round(value, 1), "unit": "records/s",
            "baseline": round(raw, 1), "ratio": round(value / raw, 4), "records": RECORDS,
            **extra, "raw": raw_extra}


# -- RabbitMQ -----------------------------------------------------------------------------------

def _raw_amqp(url: str, queue: str, prefetch: int) -> tuple[float, dict[str, Any]]:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    got = {"n": 0, "first": 0.0, "cpu": 0.0}

    def on_message(channel: Any, method: Any, _props: Any, _body: bytes) -> None:
        if got["n"] == 0:
            got["first"], got["cpu"] = time.perf_counter(), time.process_time()
        got["n"] += 1
        if got["n"] % 1000 == 0 or got["n"] == RECORDS:
            channel.basic_ack(method.delivery_tag, multiple=True)

    ch.basic_consume(queue, on_message, auto_ack=False)
    while got["n"] < RECORDS:
        conn.process_data_events(time_limit=1)
    elapsed = time.perf_counter() - got["first"]
    cpu = time.process_time() - got["cpu"]
    conn.close()
    return RECORDS / elapsed, {"elapsed_s": round(elapsed, 3),
                               "cpu_us_per_record": round(cpu / RECORDS * 1e6, 1)}


def rabbitmq_pipeline_records_per_s() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-rabbitmq-") as tmp:
        node = RabbitNode(Path(tmp))
        node.start()
        try:
            conn = pika.BlockingConnection(pika.URLParameters(node.url))
            conn.channel().exchange_declare(TOPIC, "topic", durable=True)
            conn.close()
            rabbit = RabbitMQSettings(url=node.url, bindings=(f"{TOPIC}:#",))
            for group in ("raw", "pipeline"):  # both queues exist before the publish
                tap = RabbitTap(RabbitTapOptions(rabbit, group))
                tap.open()
                tap.close()
            publish_amqp(_records(RECORDS), rabbit)
            raw, raw_extra = _raw_amqp(node.url, "choreoscope.tap.raw", rabbit.prefetch)
            settings = Settings(store=f"sqlite:///{Path(tmp) / 'p.db'}",
                                schemas_dir=ROOT / "schemas", rabbitmq=rabbit,
                                kafka={"group_id": "pipeline"})
            value, extra = _pipeline(settings)
        finally:
            node.stop()
    return _line("rabbitmq_pipeline_records_per_s", value, raw, extra, raw_extra)


# -- NATS JetStream -----------------------------------------------------------------------------

def _raw_nats(url: str) -> tuple[float, dict[str, Any]]:
    async def run() -> tuple[float, float]:
        nc = await nats.connect(url)
        try:
            sub = await nc.jetstream().pull_subscribe(f"{TOPIC}.>", durable="raw",
                                                      stream=TOPIC)
            n, first, cpu = 0, 0.0, 0.0
            while n < RECORDS:
                try:
                    msgs = await sub.fetch(1000, timeout=1)
                except nats.errors.TimeoutError:
                    continue
                if n == 0:
                    first, cpu = time.perf_counter(), time.process_time()
                for m in msgs:
                    await m.ack()
                n += len(msgs)
            return time.perf_counter() - first, time.process_time() - cpu
        finally:
            await nc.close()

    elapsed, cpu = asyncio.run(run())
    return RECORDS / elapsed, {"elapsed_s": round(elapsed, 3),
                               "cpu_us_per_record": round(cpu / RECORDS * 1e6, 1)}


def nats_pipeline_records_per_s() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        server = NatsServer(Path(tmp))
        server.start()
        try:
            ns = NatsSettings(url=server.url, streams=(TOPIC,))
            publish_nats(_records(RECORDS), ns)
            raw, raw_extra = _raw_nats(server.url)
            settings = Settings(store=f"sqlite:///{Path(tmp) / 'p.db'}",
                                schemas_dir=ROOT / "schemas", nats=ns,
                                kafka={"group_id": "pipeline"})
            value, extra = _pipeline(settings)
        finally:
            server.stop()
    return _line("nats_pipeline_records_per_s", value, raw, extra, raw_extra)


# -- the acceptance at 20,000 flows ------------------------------------------------------

ACCEPTANCE_FLOWS = 20_000


def _acceptance_line(broker: Literal["rabbitmq", "nats"]) -> dict[str, Any]:
    """The 20,000-flow run with every fault on (``tests/brokers/_acceptance.py``, as the suite's
    smaller one) on a fresh server: ``value`` is the lowest of the stuck and SLA-breach precision
    and recall (1.0 = an exact match); ``baseline``/``ratio`` are null (nothing to compare
    with); the extra keys say whether every flow has exactly its events and how long publishing
    (``simulate --amqp-url``/``--nats-url``, confirmed) and collecting took."""
    from tests.brokers import _acceptance

    with tempfile.TemporaryDirectory(prefix=f"bench-{broker}-acceptance-") as tmp:
        server: RabbitNode | NatsServer = (RabbitNode(Path(tmp)) if broker == "rabbitmq"
                                           else NatsServer(Path(tmp)))
        server.start()
        try:
            outcome = _acceptance.run(broker, server.url, Path(tmp), ACCEPTANCE_FLOWS)
        finally:
            server.stop()
    scores = outcome.scores()
    faults, reasons = outcome.fault_counts()
    records = int(outcome.stdout.split("collected ")[1].split(" ")[0])
    return {"bench": f"{broker}_acceptance_20000",
            "value": min(v for k, v in scores.items() if not k.endswith("_truth")),
            "unit": "min(stuck, SLA-breach precision and recall)", "baseline": None,
            "ratio": None, "flows": len(outcome.truth), "records": records,
            "events_exact": not outcome.wrong_events()
            and len(outcome.events) == sum(len(t["events"]) for t in outcome.truth),
            "wrong_outcomes": len(outcome.wrong_outcomes()), **scores,
            "dead_letters_match": reasons["no-correlation"] == faults["no-correlation"]
            and reasons["not-utf8"] + reasons["not-json"] == faults["undecodable"],
            **outcome.timings,
            "publish_records_per_s": round(records / outcome.timings["publish_s"], 1)}


def rabbitmq_acceptance_20000() -> dict[str, Any]:
    return _acceptance_line("rabbitmq")


def nats_acceptance_20000() -> dict[str, Any]:
    return _acceptance_line("nats")


BENCHES = {"rabbitmq_pipeline_records_per_s": rabbitmq_pipeline_records_per_s,
           "nats_pipeline_records_per_s": nats_pipeline_records_per_s,
           "rabbitmq_acceptance_20000": rabbitmq_acceptance_20000,
           "nats_acceptance_20000": nats_acceptance_20000}
