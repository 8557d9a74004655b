"""The collector's own health: lag per partition, records/s, dead letters/s, store write latency,
validation latency per event, and the seconds each pipeline stage took.

`Health` keeps the numbers in a private Prometheus registry (served in the text format on a
local port, so existing alerting can watch the collector) and turns them into store samples
(``Batch.metrics``) for the dashboard.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from collector.kafka.exceptions import KafkaEdgeError
from collector.pipeline import PipelineStats
from collector.store.dead_letters import DeadLetterUsage

__all__ = ["Health", "MetricsServer", "with_collector"]

Sample = tuple[str, dict[str, str], float, datetime]
_STAGES = {"decode": "decode_seconds", "validate": "validate_seconds", "track": "track_seconds",
           "write": "write_seconds"}
"""Pipeline stages as ``choreoscope_stage_seconds{stage}`` labels, from `PipelineStats`."""


def with_collector(samples: list[Sample], collector_id: str) -> list[Sample]:
    """The samples labelled with the collector process that took them (``collector``), so
    that the Collector health page draws each collector's series apart."""
    return [(name, {**labels, "collector": collector_id}, value, at)
            for name, labels, value, at in samples]


class Health:
    """Collector health, updated after each pipeline step and sampled every few seconds."""

    def __init__(self, *, monotonic: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records = Counter("choreoscope_records", "Records read from Kafka", registry=r)
        self.dead = Counter("choreoscope_dead_letters", "Records that became dead letters",
                            ["reason"], registry=r)
        self.lag = Gauge("choreoscope_consumer_lag", "Records not read yet",
                         ["topic", "partition"], registry=r)
        self.rate = Gauge("choreoscope_records_per_second", "Records read per second",
                          registry=r)
        self.dead_rate = Gauge("choreoscope_dead_letters_per_second",
                               "Dead letters per second", registry=r)
        self.write_latency = Histogram(
            "choreoscope_store_write_seconds", "Time of one store transaction", registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
        self.stage_seconds = Counter(
            "choreoscope_stage_seconds", "Seconds spent in each pipeline stage", ["stage"],
            registry=r)
        self.validation_latency = Gauge(
            "choreoscope_validation_seconds",
            "Mean time to validate one event against its schema, over the last sample interval",
            registry=r)
        self.kafka_up = Gauge("choreoscope_kafka_up", "1 when the broker is reachable",
                              registry=r)
        self.dead_dropped = Counter(
            "choreoscope_dead_letters_dropped",
            "Stored dead letters deleted by their bounds (bound: age or budget)", ["bound"],
            registry=r)
        self.dead_truncated = Counter(
            "choreoscope_dead_letters_truncated",
            "Dead letters whose raw bytes were cut to dead_letters.max_raw_bytes", registry=r)
        self.dead_bytes = Gauge("choreoscope_dead_letters_stored_bytes",
                                "Bytes of the stored dead letters, against dead_letters.max_bytes",
                                registry=r)
        self.tap_figure = Gauge(
            "choreoscope_tap", "A broker tap's own figure (e.g. rabbitmq_queue_depth, "
            "rabbitmq_dropped, nats_pending)", ["figure"], registry=r)
        self._seen_usage: dict[str, int] = {}
        self._monotonic = monotonic
        self._last_at = monotonic()
        self._last_records = 0
        self._last_dead = 0
        self._seen_dead: dict[str, int] = {}
        self._counted_records = 0
        self._stages = dict.fromkeys(_STAGES, 0.0)
        self._last_events = 0
        self._last_validate = 0.0

    def on_step(self, stats: PipelineStats, wrote: bool) -> None:
        """After a pipeline step: count what it did (from the pipeline's running totals)."""
        self.records.inc(stats.observations - self._counted_records)
        self._counted_records = stats.observations
        for reason, n in stats.dead_letters_by_reason.items():
            seen = self._seen_dead.get(reason, 0)
            if n > seen:
                self.dead.labels(reason).inc(n - seen)
                self._seen_dead[reason] = n
        if wrote:
            self.write_latency.observe(stats.last_write_seconds)
        for stage, attribute in _STAGES.items():
            total = getattr(stats, attribute)
            if total > self._stages[stage]:
                self.stage_seconds.labels(stage).inc(total - self._stages[stage])
                self._stages[stage] = total

    def sample(self, stats: PipelineStats, lag: Mapping[tuple[str, int], int | None],
               kafka_up: bool | None, at: datetime,
               usage: DeadLetterUsage | None = None,
               figures: Mapping[str, float] | None = None) -> list[Sample]:
        """Update the rates and gauges; the samples to store with the next batch. ``kafka_up``
        is None for a collector without a broker (the simulator's): no ``kafka_up`` sample.
        ``usage``: the store's dead-letter totals (what their bounds dropped and cut);
        ``figures``: the tap's own (`collector.tap.Tap.figures`), each a ``tap`` sample."""
        now = self._monotonic()
        elapsed = max(now - self._last_at, 1e-9)
        rate = (stats.observations - self._last_records) / elapsed
        dead_rate = (stats.dead_letters - self._last_dead) / elapsed
        events = stats.events - self._last_events
        spent = stats.validate_seconds - self._last_validate  # stays 0 without a registry
        validation = spent / events if events and spent > 0 else None
        self._last_at, self._last_records, self._last_dead = (
            now, stats.observations, stats.dead_letters)
        self._last_events, self._last_validate = stats.events, stats.validate_seconds
        self.rate.set(rate)
        self.dead_rate.set(dead_rate)
        samples: list[Sample] = [
            ("records_per_second", {}, rate, at),
            ("dead_letters_per_second", {}, dead_rate, at),
            ("store_write_seconds", {}, stats.last_write_seconds, at),
        ]
        if kafka_up is not None:
            self.kafka_up.set(1.0 if kafka_up else 0.0)
            samples.append(("kafka_up", {}, 1.0 if kafka_up else 0.0, at))
        if usage is not None:
            samples.extend(self._dead_letter_usage(usage, at))
        if validation is not None:  # no events in the interval: nothing was validated
            self.validation_latency.set(validation)
            samples.append(("validation_seconds", {}, validation, at))
        for figure, value in sorted((figures or {}).items()):
            self.tap_figure.labels(figure).set(value)
            samples.append(("tap", {"figure": figure}, float(value), at))
        for (topic, partition), n in sorted(lag.items()):
            if n is None:
                continue
            self.lag.labels(topic, str(partition)).set(n)
            samples.append(("consumer_lag", {"topic": topic, "partition": str(partition)},
                            float(n), at))
        return samples


    def _dead_letter_usage(self, usage: DeadLetterUsage, at: datetime) -> list[Sample]:
        """The store's running totals into the counters (by what grew since the last sample)
        and as samples for the Collector health page."""
        seen = self._seen_usage
        for name, total, counter in (
                ("age", usage.dropped_age, self.dead_dropped.labels("age")),
                ("budget", usage.dropped_budget, self.dead_dropped.labels("budget")),
                ("truncated", usage.truncated, self.dead_truncated)):
            if total > seen.get(name, 0):
                counter.inc(total - seen.get(name, 0))
            seen[name] = total
        self.dead_bytes.set(usage.bytes)
        return [("dead_letters_dropped", {"bound": "age"}, float(usage.dropped_age), at),
                ("dead_letters_dropped", {"bound": "budget"}, float(usage.dropped_budget), at),
                ("dead_letters_truncated", {}, float(usage.truncated), at),
                ("dead_letters_stored_bytes", {}, float(usage.bytes), at)]


class MetricsServer:
    """The Prometheus text endpoint (``GET /metrics``) on a local port, in a daemon thread."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self._server: Any
        self._thread: threading.Thread
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        except OSError as exc:  # e.g. another collector's health endpoint on the same port
            raise KafkaEdgeError(
                f"cannot serve the collector's health on {host}:{port}: "
                f"{exc.strerror or exc} (set kafka.metrics_port to another port, or 0 for none)"
            ) from exc
        self.port: int = self._server.server_port

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
