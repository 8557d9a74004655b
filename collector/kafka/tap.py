"""The Kafka tap: records of the watched topics in, `Observation` values and positions out.

It reads with its own consumer group and never writes to the topics. Where to read from is the
store's business: when partitions are assigned, each is positioned at the next offset stored
with the events read from it (``Store.positions``), or by the start policy if none is stored.
Offsets are committed to Kafka only after the store commit, so lag tools keep working.

A broker that goes away is not an error: kafka-python reconnects with backoff, and the tap logs
one line when the link is lost and one when it is back. Starting is different: brokers that
cannot be reached within ``TapOptions.connect_timeout`` raise `KafkaUnreachable` (with the
reason, e.g. "connection refused"), and brokers that refuse the credentials raise
`KafkaAuthFailed` at once, since retrying cannot help.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)

from collector.kafka._client import (
    REFUSED,
    client_config,
    reason_of,
    unreachable_reason,
    watch_client,
)
from collector.kafka.exceptions import KafkaAuthFailed, KafkaEdgeError, KafkaUnreachable
from collector.model import Location, Observation
from collector.settings import KafkaSettings
from collector.store.base import ConsumerSeen, Position

__all__ = ["KafkaTap", "TapOptions", "consumer_config"]

logger = logging.getLogger(__name__)

StartPolicy = Literal["earliest", "latest"] | datetime
StoredPositions = Callable[[str], Mapping[tuple[str, int], int]]


@dataclass(frozen=True, slots=True)
class TapOptions:
    """What the tap reads and how it connects (plain values, built from `KafkaSettings`)."""

    topics: tuple[str, ...] = ()
    pattern: str | None = None
    group_id: str = "choreoscope"
    start: StartPolicy = "earliest"
    max_poll_records: int = 5000
    metadata_max_age_ms: int = 10_000
    """How soon new topics matching the pattern are found."""
    client: Mapping[str, Any] = field(default_factory=dict)
    """Connection and security arguments for kafka-python (see ``_client.client_config``)."""
    connect_timeout: float | None = None
    """At start-up, seconds to reach the brokers before `KafkaUnreachable` (None: until
    stopped)."""
    session_timeout_ms: int = 10_000
    """How long the group waits for a silent member before its partitions move (scale-out's
    fail-over bound sets it)."""

    @classmethod
    def from_settings(cls, kafka: KafkaSettings) -> TapOptions:
        start: StartPolicy = "earliest"
        if kafka.start == "latest":
            start = "latest"
        elif kafka.start != "earliest":
            start = datetime.fromisoformat(kafka.start)
        return cls(topics=kafka.topics, pattern=kafka.topic_pattern, group_id=kafka.group_id,
                   start=start, max_poll_records=kafka.max_poll_records,
                   client=client_config(kafka), connect_timeout=kafka.connect_timeout_s)

    @property
    def source(self) -> str:
        """The reader name positions are stored under."""
        return f"kafka:{self.group_id}"


def consumer_config(options: TapOptions) -> dict[str, Any]:
    """The consumer configuration; the benchmark's raw baseline uses exactly the same."""
    return {
        **options.client,
        "group_id": options.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest" if options.start == "earliest" else "latest",
        "max_poll_records": options.max_poll_records,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        "metrics_enabled": False,
        "allow_auto_create_topics": False,
        "metadata_max_age_ms": options.metadata_max_age_ms,
        # a collector that died is replaced within seconds, not after the 45 s default
        "session_timeout_ms": options.session_timeout_ms,
        "heartbeat_interval_ms": min(2_000, options.session_timeout_ms // 5),
    }


class _Link:
    """The broker link's state: logs one line per change, and how long to back off."""

    def __init__(self, where: str, monotonic: Callable[[], float]) -> None:
        self.where = where
        self.up = True
        self._monotonic = monotonic
        self._since = monotonic()
        self.backoff = 0.5

    def ok(self) -> None:
        if not self.up:
            logger.warning("Kafka at %s reachable again after %.1f s; resuming", self.where,
                           self._monotonic() - self._since)
            self.up, self._since = True, self._monotonic()
        self.backoff = 0.5

    def failed(self, exc: BaseException) -> None:
        if self.up:
            logger.warning("Kafka at %s unreachable (%s); retrying with backoff", self.where,
                           type(exc).__name__)
            self.up, self._since = False, self._monotonic()
        self.backoff = min(self.backoff * 2, 30.0)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, tap: KafkaTap) -> None:
        self.tap = tap

    def on_partitions_revoked(self, revoked: Any) -> None:
        logger.info("partitions revoked: %s", _names(revoked))
        if self.tap.on_revoke is not None:
            self.tap.on_revoke()

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.tap.position(list(assigned))


_UNREACHABLE = (KafkaTimeoutError, KafkaConnectionError, NodeNotReadyError, RequestTimedOutError)
"""Errors that mean the broker cannot be reached (others are about what was asked)."""


def _headers(headers: Sequence[tuple[str, bytes | None]]) -> tuple[tuple[str, bytes], ...]:
    """A record's headers as a tuple, a null value as b"". kafka-python's own (key, value)
    pairs are kept: allocating new ones per record cost more than the rest of the tap."""
    kept = tuple(headers)
    for _, v in kept:
        if v is None:
            return tuple((k, b"" if v is None else v) for k, v in kept)
    return kept  # type: ignore[return-value]  # no None in it


def _names(partitions: Any) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"


class KafkaTap:
    """Reads the watched topics; `poll` answers observations and the positions after them."""

    def __init__(
        self,
        options: TapOptions,
        stored_positions: StoredPositions,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not options.topics and not options.pattern:
            raise KafkaEdgeError("no topics to read: set kafka.topics or kafka.topic_pattern")
        self.options = options
        self._stored = stored_positions
        self._now = now
        self._monotonic = monotonic
        where = ",".join(options.client.get("bootstrap_servers", ["?"]))
        self.link = _Link(where, monotonic)
        self._consumer: KafkaConsumer | None = None
        self._next_probe = 0.0
        self._by_time: list[Any] = []
        self._sent: dict[Any, Any] = {}
        """The last offsets sent to Kafka per partition (TopicPartition -> OffsetAndMetadata)."""
        self._due: dict[tuple[str, int], Position] = {}
        """Positions to send to Kafka again: commits the broker failed, and the stored positions
        of partitions resumed from the store (a crash between the store's commit and Kafka's
        leaves Kafka behind, and a partition read to its end is never committed otherwise)."""
        self.on_open: Callable[[], object] | None = None
        """Called once `open` has connected (e.g. to let the client's own logging through)."""
        self.on_revoke: Callable[[], object] | None = None
        """Called before partitions are taken away, so the store holds what was read from them
        (the collector waits for its writes in flight) before their next owner resumes."""
        self.on_assign: Callable[[list[tuple[str, int]]], object] | None = None
        """Called with the partitions just assigned, once they are positioned (scale-out's
        tracker restores their open flows here, before reading on)."""

    @property
    def source(self) -> str:
        return self.options.source

    @property
    def delivery(self) -> str:
        return "effectively once (offsets stored with each batch)"

    def figures(self) -> Mapping[str, float]:
        """Kafka's health is its lag (`lag`); no other figures."""
        return {}

    def consumers(self) -> list[ConsumerSeen]:
        """Kafka's consumer groups are not read here: none."""
        return []

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self, stop: threading.Event | None = None) -> None:
        """Connect and subscribe. While the brokers are unreachable, retry with backoff until
        ``stop`` is set or ``options.connect_timeout`` has passed (then `KafkaUnreachable`,
        with the reason); without ``stop``, the first failure raises. Credentials the brokers
        refuse raise `KafkaAuthFailed` at once."""
        limit = self.options.connect_timeout
        give_up = None if limit is None else self._monotonic() + limit
        with watch_client() as watch:
            while True:
                try:
                    consumer = KafkaConsumer(**consumer_config(self.options),
                                             bootstrap_timeout_ms=self._attempt_ms(give_up))
                    break
                except KafkaError as exc:
                    refused = exc if isinstance(exc, REFUSED) else watch.refused
                    if refused is not None:
                        raise KafkaAuthFailed(self.link.where, reason_of(refused)) from exc
                    if watch.untrusted is not None:
                        raise KafkaAuthFailed(self.link.where, reason_of(watch.untrusted),
                                              tls=True) from exc
                    late = give_up is not None and self._monotonic() >= give_up
                    if stop is None or late:
                        reason = unreachable_reason(self.options.client, watch.last or exc)
                        raise KafkaUnreachable(self.link.where, limit or 0.0, reason) from exc
                    self.link.failed(exc)
                    wait = self.link.backoff if give_up is None else max(
                        0.0, min(self.link.backoff, give_up - self._monotonic()))
                    if stop.wait(wait):
                        raise KafkaEdgeError("stopped before Kafka was reachable") from exc
        self.link.ok()
        if self.on_open is not None:
            self.on_open()
        listener = _Rebalance(self)
        if self.options.pattern:
            consumer.subscribe(pattern=self.options.pattern, listener=listener)
        else:
            consumer.subscribe(topics=list(self.options.topics), listener=listener)
        self._consumer = consumer
        logger.info("reading %s as group %s from %s", self.options.pattern or
                    ",".join(self.options.topics), self.options.group_id, self.link.where)

    def _attempt_ms(self, give_up: float | None) -> int:
        """One bootstrap attempt's time: 5 s, or what is left before giving up."""
        if give_up is None:
            return 5000
        return max(100, min(5000, int((give_up - self._monotonic()) * 1000)))

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            self._flush_commits(consumer)
            consumer.close(autocommit=False)

    def __enter__(self) -> KafkaTap:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require(self) -> KafkaConsumer:
        if self._consumer is None:
            raise KafkaEdgeError("the tap is not open")
        return self._consumer

    # -- positions ------------------------------------------------------------------------------

    def position(self, partitions: list[Any]) -> None:
        """Seek newly assigned partitions to their stored positions, else by the start policy."""
        consumer = self._require()
        stored = self._stored(self.source)
        resumed, fresh = [], []
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, offset)
                resumed.append(tp)
                self._due[(tp.topic, tp.partition)] = Position(self.source, tp.topic,
                                                               tp.partition, offset)
        if fresh:
            self._start(consumer, fresh)
        logger.info("assigned: resumed %s from the store; %s from %s", _names(resumed),
                    _names(fresh), self._start_name())
        if self.on_assign is not None:
            self.on_assign([(tp.topic, tp.partition) for tp in partitions])

    def _start_name(self) -> str:
        start = self.options.start
        return start if isinstance(start, str) else start.isoformat()

    def _start(self, consumer: KafkaConsumer, partitions: list[Any]) -> None:
        start = self.options.start
        if start == "earliest":
            consumer.seek_to_beginning(*partitions)
        elif start == "latest":
            consumer.seek_to_end(*partitions)
        else:
            # The listener runs on kafka-python's IO thread, where looking up offsets by time
            # would block it: pause the partitions and seek them after the poll returns.
            consumer.pause(*partitions)
            self._by_time.extend(partitions)

    def _seek_by_time(self, consumer: KafkaConsumer) -> None:
        pending, self._by_time = self._by_time, []
        start = self.options.start
        assert isinstance(start, datetime)
        assigned = consumer.assignment()
        pending = [tp for tp in pending if tp in assigned]
        if not pending:
            return
        ms = int(start.timestamp() * 1000)
        try:
            found = consumer.offsets_for_times(dict.fromkeys(pending, ms), timeout_ms=10_000)
        except KafkaError as exc:
            self.link.failed(exc)
            self._by_time.extend(pending)
            return
        for tp in pending:
            hit = found.get(tp)
            if hit is None:
                consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, hit.offset)
        consumer.resume(*pending)

    # -- reading --------------------------------------------------------------------------------

    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]:
        """The next records as observations, and for each partition the offset after them."""
        consumer = self._require()
        try:
            polled = consumer.poll(timeout_ms=timeout_ms,
                                   max_records=self.options.max_poll_records)
        except _UNREACHABLE as exc:
            self.link.failed(exc)
            return [], []
        except KafkaError as exc:  # not transient: authorization, configuration, ...
            raise KafkaEdgeError(f"reading from Kafka at {self.link.where} failed: {exc}") from exc
        if self._by_time:
            self._seek_by_time(consumer)
        if polled:
            self.link.ok()
        elif self._monotonic() >= self._next_probe:
            self.probe()
        return self._convert(polled)

    def _convert(self, polled: Mapping[Any, Sequence[Any]]) -> tuple[
            list[Observation], list[Position]]:
        observations: list[Observation] = []
        positions: list[Position] = []
        received = self._now()
        source = self.source
        append = observations.append
        last_ts: int | None = None
        last_at: datetime | None = None
        for tp, records in polled.items():
            if not records:
                continue
            topic, partition = tp.topic, tp.partition
            for r in records:
                ts, value = r.timestamp, r.value
                if ts != last_ts:  # a producer batch's records share their millisecond
                    last_ts = ts
                    last_at = (datetime.fromtimestamp(ts / 1000, UTC)
                               if ts is not None and ts >= 0 else None)
                append(Observation(
                    Location("kafka", topic, partition, r.offset), received,
                    value if value is not None else b"", r.key,
                    _headers(r.headers) if r.headers else (), last_at,
                ))
            positions.append(Position(source, topic, partition, records[-1].offset + 1))
        return observations, positions

    def probe(self) -> bool:
        """Ask the broker for the end offsets of the assignment: whether the link is up."""
        consumer = self._require()
        try:
            assigned = list(consumer.assignment())
            if assigned:
                consumer.end_offsets(assigned, timeout_ms=2000)
            else:
                consumer.bootstrap(timeout_ms=2000, refresh=True)
        except _UNREACHABLE as exc:
            self.link.failed(exc)
            self._next_probe = self._monotonic() + self.link.backoff
            return False
        self.link.ok()
        self._next_probe = self._monotonic() + 1.0  # idle: one cheap ListOffsets a second
        return True

    def commit(self, positions: Sequence[Position]) -> bool:
        """Send positions (already in the store) to Kafka without waiting for the reply.

        The stored positions are what a restart reads from; Kafka's committed offsets are for
        lag tools, so the loop does not wait for the broker. False when the commit could not be
        sent; a commit the broker then fails is logged and its positions come back from
        `due_commits` (unless a later commit of the partition was sent meanwhile).
        """
        if not positions:
            return True
        consumer = self._require()
        offsets = {TopicPartition(p.topic, p.partition): OffsetAndMetadata(p.next_offset, "", -1)
                   for p in positions}
        try:
            consumer.commit_async(offsets, callback=self._on_committed)
        except KafkaError as exc:
            self._commit_failed(exc)
            return False
        self._sent.update(offsets)
        return True

    def _on_committed(self, offsets: Mapping[Any, Any], response: object) -> None:
        """kafka-python's callback for an async commit (run on the polling thread)."""
        if not isinstance(response, BaseException):
            return
        self._commit_failed(response)
        sent = self._sent
        for tp, meta in offsets.items():
            if sent.get(tp) != meta:  # superseded by a later commit
                continue
            self._due[(tp.topic, tp.partition)] = Position(
                self.source, tp.topic, tp.partition, meta.offset)

    def _commit_failed(self, exc: BaseException) -> None:
        if isinstance(exc, _UNREACHABLE):
            self.link.failed(exc)
        else:  # e.g. a rebalance took the partitions meanwhile
            logger.info("offset commit to Kafka failed (%s); the store has the positions",
                        type(exc).__name__)

    def due_commits(self) -> list[Position]:
        """Positions to send (again) since the last call: commits the broker failed, and the
        stored positions of partitions just resumed from the store."""
        due, self._due = self._due, {}
        return list(due.values())

    def _flush_commits(self, consumer: KafkaConsumer) -> None:
        """On close, wait for the last offsets sent of the partitions still assigned, so lag
        tools see where the collector stopped (skipped while the broker is unreachable)."""
        assigned = consumer.assignment()
        last = {tp: meta for tp, meta in self._sent.items() if tp in assigned}
        for p in self.due_commits():  # e.g. resumed, then closed before the loop sent them
            tp = TopicPartition(p.topic, p.partition)
            if tp in assigned and tp not in last:
                last[tp] = OffsetAndMetadata(p.next_offset, "", -1)
        self._sent.clear()
        if not last or not self.link.up:
            return
        try:
            consumer.commit(last, timeout_ms=5000)
        except KafkaError as exc:
            self._commit_failed(exc)

    def caught_up(self) -> bool:
        """Whether partitions are assigned and every one of them has been read to its end."""
        lag = self.lag()
        return bool(lag) and all(n == 0 for n in lag.values())

    def read_to_end(self, timeout_ms: int = 2000) -> bool | None:
        """Whether partitions are assigned and each has been read to the end offset the broker
        gives now (one ListOffsets request; `caught_up` answers from the last fetch, which
        misses records produced since). None when the broker cannot tell."""
        consumer = self._require()
        assigned = list(consumer.assignment())
        if not assigned:
            return False
        try:
            ends = consumer.end_offsets(assigned, timeout_ms=timeout_ms)
            at = {tp: consumer.position(tp, timeout_ms=0) for tp in assigned}
        except KafkaError as exc:
            if isinstance(exc, _UNREACHABLE):
                self.link.failed(exc)
            return None
        return all(at[tp] is not None and ends.get(tp) is not None and at[tp] >= ends[tp]
                   for tp in assigned)

    def subscribed(self) -> set[tuple[str, int]]:
        """Every partition of the topics subscribed to, as the consumer's metadata cache knows
        them (those a rebalance assigns from), whoever of the group reads them. Never a
        request: it is asked in the rebalance callback, where kafka-python cannot wait for
        one (`partitions_for_topic` asks the cluster for a topic it does not know yet)."""
        consumer = self._require()
        cluster = getattr(consumer, "_cluster", None)
        if cluster is None:
            return set()
        return {(t, p) for t in consumer.subscription() or ()
                for p in cluster.partitions_for_topic(t) or ()}

    def highwaters(self) -> dict[tuple[str, int], int | None]:
        """The end offset of each assigned partition as of the last fetch (None: not known)."""
        consumer = self._require()
        return {(tp.topic, tp.partition): consumer.highwater(tp)
                for tp in consumer.assignment()}

    def lag(self) -> dict[tuple[str, int], int | None]:
        """Records not read yet per assigned partition, from the last fetch (no request);
        None for a partition not fetched from yet."""
        consumer = self._require()
        lag: dict[tuple[str, int], int | None] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            try:
                pos = consumer.position(tp, timeout_ms=0)
            except KafkaError:
                pos = None
            known = high is not None and pos is not None
            lag[(tp.topic, tp.partition)] = max(0, high - pos) if known else None
        return lag
