"""``kafka_pipeline_vs_raw_consume``: the collector's full rate against kafka-python's raw rate.

On one 200,000-record topic of simulated events (a real single-node broker started here), with
the same consumer configuration on both sides (`collector.kafka.tap.consumer_config`):

- baseline: a bare kafka-python consumer polling until it has every record, run before and
  after each collector pass, the mean of the two either side of it (this VM's speed drifts
  within a minute);
- value: the collector ``choreoscope collect`` runs, from the same `build_collector`
  (pipeline, options, health, alert pump and catalog rollups on its ticks; start-up heap
  frozen): tap -> decode -> validate -> correlate and track -> one SQLite transaction per
  batch with the positions -> offset commit, until it has every record. ``decode_s`` ..
  ``store_write_s`` say where its time went; the rest of ``elapsed_s`` is polling Kafka, the
  tap's conversion to observations and the collect loop (Kafka offset commits, ticks,
  rollups).

Both clocks run from the first poll that returns records to the last record, so group joins
and broker warm-up count on neither side. ``ratio`` = pipeline / raw. The collector makes
`PASSES` passes over the topic (a new store and consumer group each); a bench line is its
median pass, every pass's ratio in ``pass_ratios``.

``kafka_collector_cpu_per_record_vs_raw`` runs the same two sides and reports the figure that
does not depend on the machine's core count: the CPU µs per record of each process. Its
``raw_confluent_cpu_us`` is a bare confluent-kafka (librdkafka) consumer's, the client the tap
reads with, on the same topic in the same run: what the consumer library itself costs.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from _sim import kafka_script, simulated_records
from confluent_kafka import Consumer
from kafka import KafkaConsumer

from collector.commands.collect import build_collector
from collector.kafka.producer import publish
from collector.kafka.tap import TapOptions, consumer_config, rdkafka_config
from collector.pipeline import settle_process
from collector.settings import KafkaSettings, Settings
from collector.store.base import open_store

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 200_000
TOPIC = "bench-events"
PASSES = 3
"""Collector passes per bench line (its median pass is the line)."""


def _kafka_script() -> ModuleType:
    return kafka_script()


def _records(n: int) -> list[Any]:
    return simulated_records(n, TOPIC)


def _settings(tmp: Path, bootstrap: str, group: str) -> Settings:
    """``collect``'s settings for the bench topic, with a consumer group of its own."""
    return Settings(store=f"sqlite:///{tmp / f'{group}.db'}", schemas_dir=ROOT / "schemas",
                    kafka=KafkaSettings(bootstrap_servers=bootstrap, topics=(TOPIC,),
                                        group_id=group))


def _raw_rate(settings: Settings, broker_pid: int) -> tuple[float, dict[str, float]]:
    options = TapOptions.from_settings(settings.kafka)
    consumer = KafkaConsumer(**consumer_config(options))
    consumer.subscribe([TOPIC])
    seen, started = 0, None
    try:
        while seen < RECORDS:
            polled = consumer.poll(timeout_ms=500, max_records=options.max_poll_records)
            n = sum(len(records) for records in polled.values())
            if n and started is None:
                started, cpu = time.perf_counter(), _cpu_seconds(broker_pid)
            seen += n
    finally:
        consumer.close(autocommit=False)
    assert started is not None
    return RECORDS / (time.perf_counter() - started), _cpu_per_record(
        cpu, _cpu_seconds(broker_pid), "consumer")


def _raw_confluent_cpu(settings: Settings, broker_pid: int) -> dict[str, float]:
    """A bare confluent-kafka consumer (the tap's settings, librdkafka's threads included)
    consuming until it has every record."""
    options = TapOptions.from_settings(settings.kafka)
    consumer = Consumer(rdkafka_config(options))
    consumer.subscribe([TOPIC])
    seen, cpu = 0, None
    try:
        while seen < RECORDS:
            polled = consumer.consume(num_messages=options.max_poll_records, timeout=0.5)
            n = sum(1 for m in polled if m.error() is None)
            if n and cpu is None:
                cpu = _cpu_seconds(broker_pid)
            seen += n
    finally:
        consumer.close()
    assert cpu is not None
    return _cpu_per_record(cpu, _cpu_seconds(broker_pid), "consumer")


def _cpu_seconds(broker_pid: int) -> tuple[float, float]:
    """(the broker's, this process's with all its threads) CPU seconds so far."""
    fields = Path(f"/proc/{broker_pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return (int(fields[11]) + int(fields[12])) / tick, own.user + own.system


def _cpu_per_record(start: tuple[float, float], end: tuple[float, float],
                    name: str) -> dict[str, float]:
    """CPU microseconds per record (user + system) over the timed stretch: ours and the
    broker's, which share this machine's cores."""
    return {f"{name}_cpu_us": round((end[1] - start[1]) / RECORDS * 1e6, 1),
            "broker_cpu_us": round((end[0] - start[0]) / RECORDS * 1e6, 1)}


def _timed(fn: Any, spent: dict[str, float], key: str) -> Any:
    """``fn``, adding the seconds spent in it to ``spent[key]`` (one clock pair per batch)."""
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] += time.perf_counter() - started

    return timed


def _pipeline_rate(settings: Settings, broker_pid: int) -> tuple[float, dict[str, Any]]:
    """The collector `build_collector` wires for ``choreoscope collect`` (start-up heap frozen
    as collect freezes it), without the metrics port."""
    store = open_store(settings.store)
    collector = build_collector(settings, store)
    pipeline = collector.pipeline
    publisher = None if collector.alerts is None else collector.alerts.publisher
    gc_before, switch_before = gc.get_threshold(), sys.getswitchinterval()
    settle_process()
    started: list[float] = []
    cpu: list[tuple[float, float]] = []
    original = collector.step

    def timed_step(observations: Any, positions: Any) -> None:
        if not started:
            started.append(time.perf_counter())
            cpu.append(_cpu_seconds(broker_pid))
        original(observations, positions)

    collector.step = timed_step  # type: ignore[method-assign]
    spent = {"tap_poll_s": 0.0, "tap_convert_s": 0.0}
    collector.tap.poll = _timed(collector.tap.poll, spent, "tap_poll_s")  # type: ignore[method-assign]
    collector.tap._convert = _timed(  # type: ignore[method-assign]  # noqa: SLF001
        collector.tap._convert, spent, "tap_convert_s")  # noqa: SLF001
    try:
        collector.run(threading.Event(),
                      until=lambda c: c.pipeline.stats.observations >= RECORDS)
        elapsed = time.perf_counter() - started[0]
        cpu.append(_cpu_seconds(broker_pid))
        stored = store.query("SELECT COUNT(*) AS n FROM events")[0]["n"]
    finally:
        gc.unfreeze()  # the benches after this one run in the same process
        gc.set_threshold(*gc_before)
        sys.setswitchinterval(switch_before)
        if publisher is not None:
            publisher.close()
        store.close()
    s = pipeline.stats
    # where the time went: tap_poll_s is librdkafka's consume plus the tap's conversion
    # (tap_convert_s); decode_s .. store_write_s the pipeline; the rest of elapsed_s the loop
    return RECORDS / elapsed, {"events_stored": stored, "store_writes": s.writes,
                               "elapsed_s": round(elapsed, 3),
                               **{k: round(v, 3) for k, v in spent.items()},
                               "decode_s": round(s.decode_seconds, 3),
                               "validate_s": round(s.validate_seconds, 3),
                               "track_s": round(s.track_seconds, 3),
                               "store_write_s": round(s.write_seconds, 3),
                               **_cpu_per_record(cpu[0], cpu[1], "collector"),
                               "validation": pipeline._validate is not None}  # noqa: SLF001


_Pass = tuple[float, dict[str, Any], float, dict[str, Any]]
"""One collector pass and its bracket: (raw rate, raw CPU, collector rate, collector extras)."""


def _measure() -> list[_Pass]:
    """One broker, one topic, `PASSES` collector passes (each into a new store, with a consumer
    group of its own), a kafka-python run before the first, between passes and after the
    last: each pass's raw figures are the mean of the runs either side of it (`_bracketed`).
    The raw CPU has a bare confluent-kafka consumer's as ``confluent_cpu_us`` (one run)."""
    ks = _kafka_script()
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        broker = ks.KafkaBroker(ks.fetch(), workdir=Path(tmp) / "kafka", partitions=3)
        broker.workdir.mkdir()
        broker.start()
        try:
            publish(_records(RECORDS), broker.bootstrap)
            run = uuid.uuid4().hex[:8]

            def settings(group: str) -> Settings:
                return _settings(Path(tmp), broker.bootstrap, f"{group}-{run}")

            raws = [_raw_rate(settings("raw-0"), broker.pid)]
            confluent = _raw_confluent_cpu(settings("raw-confluent"), broker.pid)
            passes = []
            for n in range(PASSES):
                passes.append(_pipeline_rate(settings(f"pipeline-{n}"), broker.pid))
                raws.append(_raw_rate(settings(f"raw-{n + 1}"), broker.pid))
        finally:
            broker.close()
    out = []
    for n, (value, extra) in enumerate(passes):
        raw, raw_cpu = _bracketed(raws[n], raws[n + 1])
        raw_cpu["confluent_cpu_us"] = confluent["consumer_cpu_us"]
        out.append((raw, raw_cpu, value, extra))
    return out


def _median_pass(passes: list[_Pass], ratio: Any) -> tuple[_Pass, list[float]]:
    """The pass whose ``ratio(pass)`` is the median (of an odd number of passes), with every
    pass's ratio in run order: the one machine's noise moved a single pass's ratio by a
    fifth either way (3.4 to 4.7 for the same code), so a bench line is its median pass."""
    ratios = [ratio(p) for p in passes]
    ranked = sorted(range(len(passes)), key=ratios.__getitem__)
    return passes[ranked[len(ranked) // 2]], ratios


def _bracketed(before: tuple[float, dict[str, float]],
               after: tuple[float, dict[str, float]]) -> tuple[float, dict[str, Any]]:
    """The raw consumer's figures as the mean of a run before the collector's and one after
    it: this VM's speed drifts by 10-20 % within a minute, and a baseline taken on one side
    only moved the ratio with it. Both runs are kept (``*_runs``)."""
    rate = (before[0] + after[0]) / 2
    out: dict[str, Any] = {}
    for key in before[1]:
        pair = [before[1][key], after[1][key]]
        out[key] = round(sum(pair) / 2, 1)
        out[f"{key}_runs"] = pair
    out["records_per_s_runs"] = [round(before[0], 1), round(after[0], 1)]
    return rate, out


def kafka_pipeline_vs_raw_consume() -> dict[str, Any]:
    """The median of `PASSES` passes by rate ratio (each pass's ratio in ``pass_ratios``)."""
    (raw, raw_cpu, value, extra), ratios = _median_pass(_measure(), lambda p: p[2] / p[0])
    return {"bench": "kafka_pipeline_vs_raw_consume", "value": round(value, 1),
            "unit": "records/s", "baseline": round(raw, 1), "ratio": round(value / raw, 4),
            "records": RECORDS, "pass_ratios": [round(r, 4) for r in ratios], **extra,
            "raw": raw_cpu}


def kafka_collector_cpu_per_record_vs_raw() -> dict[str, Any]:
    """The collector's CPU per record against kafka-python's, which does not depend on how
    many cores the machine has: ``value`` = the collect process's user+sys CPU µs per record
    over the timed stretch (all its threads, SQLite store), ``baseline`` = the bare consumer's
    on the same topic in the same run, ``ratio`` = value / baseline; of the median of
    `PASSES` passes by that ratio (each pass's in ``pass_ratios``)."""
    def cpu_ratio(p: _Pass) -> float:
        return float(p[3]["collector_cpu_us"]) / float(p[1]["consumer_cpu_us"])

    (raw, raw_cpu, rate, extra), ratios = _median_pass(_measure(), cpu_ratio)
    extra = dict(extra)
    value, baseline = extra.pop("collector_cpu_us"), raw_cpu["consumer_cpu_us"]
    return {"bench": "kafka_collector_cpu_per_record_vs_raw", "value": value,
            "unit": "cpu_us/record", "baseline": baseline, "ratio": round(value / baseline, 3),
            "records": RECORDS, "pass_ratios": [round(r, 3) for r in ratios],
            "records_per_s": round(rate, 1), "raw_records_per_s": round(raw, 1), **extra,
            "raw_broker_cpu_us": raw_cpu["broker_cpu_us"],
            "baseline_runs": raw_cpu["consumer_cpu_us_runs"],
            "raw_confluent_cpu_us": raw_cpu["confluent_cpu_us"]}


BENCHES = {"kafka_pipeline_vs_raw_consume": kafka_pipeline_vs_raw_consume,
           "kafka_collector_cpu_per_record_vs_raw": kafka_collector_cpu_per_record_vs_raw}
