"""The Kafka tap: records of the watched topics in, `Observation` values and positions out.

It reads with its own consumer group and never writes to the topics. Where to read from is the
store's business: when partitions are assigned, each is positioned at the next offset stored
with the events read from it (``Store.positions``), or by the start policy if none is stored.
Offsets are committed to Kafka only after the store commit, so lag tools keep working.

The consumer is librdkafka's (confluent-kafka; see ``_rdkafka`` for why). A broker that goes
away is not an error: librdkafka reconnects with backoff, and the tap logs one line when the
link is lost and one when it is back. Starting is different: brokers that cannot be reached
within ``TapOptions.connect_timeout`` raise `KafkaUnreachable` (with the reason, e.g.
"connection refused"), and brokers that refuse the credentials raise `KafkaAuthFailed` at once,
since retrying cannot help.

Its parts: `_options` (what it reads, the consumer's configuration), `_start` (where partitions
nothing is stored for start), `_progress` (lag), `_commits` (offsets sent to Kafka), `_link`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from collector.kafka import _rdkafka
from collector.kafka._client import unreachable_reason, watch_client
from collector.kafka._commits import Commits
from collector.kafka._link import Link
from collector.kafka._options import TapOptions, consumer_config, rdkafka_config
from collector.kafka._progress import Progress, subscribed
from collector.kafka._start import Start
from collector.kafka.exceptions import KafkaAuthFailed, KafkaEdgeError, KafkaUnreachable
from collector.model import Location, Observation
from collector.store.base import ConsumerSeen, Position

# TapOptions and its configurations live in _options; they are imported from here, as before
__all__ = ["KafkaTap", "TapOptions", "attempt_end", "consumer_config", "rdkafka_config"]

logger = logging.getLogger(__name__)

StoredPositions = Callable[[str], Mapping[tuple[str, int], int]]


def _headers(headers: Sequence[tuple[str, bytes | None]]) -> tuple[tuple[str, bytes], ...]:
    """A record's headers as a tuple, a null value as b"". The client's own (key, value)
    pairs are kept: allocating new ones per record cost more than the rest of the tap."""
    kept = tuple(headers)
    for _, v in kept:
        if v is None:
            return tuple((k, b"" if v is None else v) for k, v in kept)
    return kept  # type: ignore[return-value]  # no None in it


def attempt_end(now: float, give_up: float | None) -> float:
    """When one connection attempt begun at ``now`` ends: 5 s on, or at ``give_up`` when that
    comes first (at least 0.1 s on). From one clock reading: the attempt that reaches
    ``give_up`` ends exactly there, so the check after it finds the time up, rather than a
    clock read a moment later leaving the end a hair short of it and a needless "retrying"
    warning logged before the one-line error (a flaky CI failure, stop 28)."""
    if give_up is None:
        return now + 5.0
    return min(now + 5.0, max(now + 0.1, give_up))


def _names(partitions: Any) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"


_AUTHORIZATION = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED,
                            KafkaError.GROUP_AUTHORIZATION_FAILED})


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
        servers = options.client.get("bootstrap_servers", ["?"])
        where = servers if isinstance(servers, str) else ",".join(servers)
        self.link = Link(where, monotonic)
        self._consumer: Consumer | None = None
        self._next_probe = 0.0
        self._closing = False
        self._opening: list[KafkaError] | None = None
        """While `open` connects: the errors librdkafka reported."""
        self._fatal: KafkaError | None = None
        self._start = Start(options.start, self.link)
        """Where partitions nothing is stored for start, and those waiting to start by time."""
        self._new: list[tuple[str, int]] | None = None
        """An assignment `on_assign` is still to hear of (see `_assigned`)."""
        self._started: dict[tuple[str, int], Position] = {}
        """Partitions just started at "latest" or a time, nothing stored for them: the offset
        they start at, handed out with the next poll's positions so the store keeps it. Their
        next owner (a restart, a rebalance) then resumes there rather than at the end again,
        which would skip what was published in between."""
        self._progress = Progress(self.link)
        """How far each assigned partition has been read, and its end offset."""
        self._commits = Commits(options.source, self.link, monotonic)
        """The offsets sent to Kafka after the store's commit, and those due again."""
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
        refuse, and a certificate that is not trusted, raise `KafkaAuthFailed` at once."""
        limit = self.options.connect_timeout
        give_up = None if limit is None else self._monotonic() + limit
        self._closing, self._fatal, self._opening = False, None, []
        with watch_client():  # librdkafka's log stays quiet while it connects
            try:
                consumer = Consumer({**rdkafka_config(self.options), "logger": _rdkafka.LOGGER,
                                     "error_cb": self._on_error,
                                     "on_commit": self._commits.on_committed})
            except KafkaException as exc:
                raise KafkaEdgeError(f"the Kafka tap's configuration was refused: "
                                     f"{_rdkafka.reason_of(_rdkafka.error_of(exc))}") from exc
            try:
                self._connect(consumer, stop, give_up)
            except BaseException:
                self._opening = None
                consumer.close()
                raise
            consumer.poll(0)  # what librdkafka said meanwhile, while its log is quiet
            self._opening = None
        self.link.ok()
        if self.on_open is not None:
            self.on_open()
        rebalance = {"on_assign": self._assigned, "on_revoke": self._revoked,
                     "on_lost": self._revoked}
        pattern = self.options.pattern
        if pattern:
            consumer.subscribe([pattern if pattern.startswith("^") else f"^{pattern}"],
                               **rebalance)
        else:
            consumer.subscribe(list(self.options.topics), **rebalance)
        self._consumer = consumer
        logger.info("reading %s as group %s from %s", self.options.pattern or
                    ",".join(self.options.topics), self.options.group_id, self.link.where)

    def _connect(self, consumer: Consumer, stop: threading.Event | None,
                 give_up: float | None) -> None:
        """Ask the brokers for metadata until they answer (see `open`)."""
        limit = self.options.connect_timeout
        while True:
            attempt_ends = attempt_end(self._monotonic(), give_up)
            while True:  # short asks, so a refusal is seen at once
                try:
                    consumer.list_topics(timeout=max(0.1, min(
                        0.5, attempt_ends - self._monotonic())))
                    return
                except KafkaException as exc:
                    failure: KafkaException = exc
                consumer.poll(0)  # librdkafka's error callbacks run here
                self._raise_refused(failure)
                if self._monotonic() >= attempt_ends:
                    break
            late = give_up is not None and self._monotonic() >= give_up
            if stop is None or late:
                said = self._opening[-1] if self._opening else _rdkafka.error_of(failure)
                reason = unreachable_reason(self.options.client,
                                            KafkaEdgeError(_rdkafka.reason_of(said)))
                raise KafkaUnreachable(self.link.where, limit or 0.0, reason) from failure
            self.link.failed(_rdkafka.error_of(failure).name())
            wait = self.link.backoff if give_up is None else max(
                0.0, min(self.link.backoff, give_up - self._monotonic()))
            if stop.wait(wait):
                raise KafkaEdgeError("stopped before Kafka was reachable") from failure

    def _raise_refused(self, exc: BaseException) -> None:
        """`KafkaAuthFailed` if librdkafka reported refused credentials or an untrusted
        certificate while connecting."""
        for err in self._opening or ():
            if err.code() in _rdkafka.REFUSED:
                raise KafkaAuthFailed(self.link.where, _rdkafka.reason_of(err)) from exc
            if _rdkafka.is_untrusted(err):
                raise KafkaAuthFailed(self.link.where, _rdkafka.reason_of(err),
                                      tls=True) from exc

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            self._closing = True  # leaving the group calls no callback of the collector's
            try:
                self._commits.flush(consumer)
            finally:  # never commits (enable.auto.commit is off); bounded: it can hang
                _rdkafka.close_within(consumer.close, _rdkafka.CLOSE_WITHIN, "the Kafka tap")

    def __enter__(self) -> KafkaTap:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require(self) -> Consumer:
        if self._consumer is None:
            raise KafkaEdgeError("the tap is not open")
        return self._consumer

    def _on_error(self, err: KafkaError) -> None:
        """librdkafka's error callback (run on the polling thread)."""
        if self._opening is not None:
            self._opening.append(err)
            return
        if err.fatal():
            self._fatal = err
        elif err.code() in _rdkafka.UNREACHABLE or err.code() in _rdkafka.REFUSED:
            self.link.failed(err.name())
            self._next_probe = min(self._next_probe, self._monotonic() + self.link.backoff)

    # -- positions ------------------------------------------------------------------------------

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """librdkafka's revoke (and lost) callback: the whole assignment goes (eager)."""
        if self._closing:
            return
        logger.info("partitions revoked: %s", _names(partitions))
        self._progress.revoked()
        self._start.revoked()
        self._new, self._started = None, {}
        if self.on_revoke is not None:
            self.on_revoke()

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """librdkafka's assign callback: each partition at its stored position, else by the
        start policy. `on_assign` hears of them once `consume` has returned, before `poll`
        does: confluent-kafka loses track of the running `consume` when a callback makes a
        call that waits for the broker in its own right (``list_topics``, which scale-out's
        `subscribed` makes), and aborts the process on the next callback."""
        if self._closing:
            return
        stored = self._stored(self.source)
        resumed, fresh = [], []
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                fresh.append(tp)
            else:
                tp.offset = offset
                resumed.append(tp)
                self._commits.resumed(Position(self.source, tp.topic, tp.partition, offset))
        if fresh:
            self._start.position(consumer, fresh)
            if self.options.start != "earliest":  # earliest stays earliest for the next owner
                self._started = {(tp.topic, tp.partition): Position(
                    self.source, tp.topic, tp.partition, tp.offset)
                    for tp in fresh if tp.offset >= 0}
        consumer.assign(partitions)
        if self._start.by_time:
            consumer.pause(self._start.by_time)
        self._progress.assigned(consumer, partitions)
        logger.info("assigned: resumed %s from the store; %s from %s", _names(resumed),
                    _names(fresh), self._start.name)
        self._new = [(tp.topic, tp.partition) for tp in partitions]

    # -- reading --------------------------------------------------------------------------------

    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]:
        """The next records as observations, and for each partition the offset after them."""
        consumer = self._require()
        try:
            polled = consumer.consume(num_messages=self.options.max_poll_records,
                                      timeout=timeout_ms / 1000)
        except KafkaException as exc:
            self._read_failed(_rdkafka.error_of(exc))
            return [], []
        if self._fatal is not None:
            self._read_failed(self._fatal)
        if self._new is not None:
            assigned, self._new = self._new, None
            if self.on_assign is not None:
                self.on_assign(assigned)
        if self._start.by_time:
            self._start.seek_by_time(consumer, self._progress.at)
        if polled:
            if any(m.error() is not None for m in polled):
                polled = self._without_errors(polled)
            self.link.ok()
        elif self._monotonic() >= self._next_probe:
            self.probe()
        observations, positions = self._convert(polled)
        if self._started:  # nothing read from them yet: where they start
            started, self._started = self._started, {}
            read = {(p.topic, p.partition) for p in positions}
            positions += [p for key, p in started.items() if key not in read]
        at = self._progress.at
        for p in positions:
            at[(p.topic, p.partition)] = p.next_offset
        self._progress.read_highs(consumer)
        return observations, positions

    def _read_failed(self, err: KafkaError) -> None:
        """A broker away is waited out; anything else stops the tap (authorization,
        configuration, a fatal error of the client)."""
        if not err.fatal() and err.code() in _rdkafka.UNREACHABLE:
            self.link.failed(err.name())
            return
        raise KafkaEdgeError(f"reading from Kafka at {self.link.where} failed: "
                             f"{_rdkafka.reason_of(err)}")

    def _without_errors(self, polled: list[Message]) -> list[Message]:
        """The records among what `consume` gave; its error events are dropped (a topic not
        there yet, say), but those that mean the tap cannot read stop it."""
        kept = []
        for m in polled:
            err = m.error()
            if err is None:
                kept.append(m)
            elif err.fatal() or err.code() in _AUTHORIZATION:
                self._read_failed(err)
            else:
                logger.debug("Kafka: %s", _rdkafka.reason_of(err))
        return kept

    def _convert(self, polled: Sequence[Message]) -> tuple[list[Observation], list[Position]]:
        observations: list[Observation] = []
        received = self._now()
        source = self.source
        append = observations.append
        ends: dict[tuple[str, int], int] = {}
        last_ts: tuple[int, int] | None = None
        last_at: datetime | None = None
        for m in polled:
            ts = m.timestamp()
            if ts != last_ts:  # a producer batch's records share their millisecond
                last_ts = ts
                kind, ms = ts
                last_at = datetime.fromtimestamp(ms / 1000, UTC) if kind and ms >= 0 else None
            topic, partition, offset = m.topic(), m.partition(), m.offset()
            value, headers = m.value(), m.headers()
            append(Observation(
                Location("kafka", topic, partition, offset), received,
                value if value is not None else b"", m.key(),
                _headers(headers) if headers else (), last_at,  # type: ignore[arg-type]
            ))
            ends[(topic, partition)] = offset + 1  # type: ignore[index,operator]
        return observations, [Position(source, t, p, n) for (t, p), n in ends.items()]

    def probe(self) -> bool:
        """Ask the broker (an assigned partition's end offset, else the topics' metadata):
        whether the link is up."""
        consumer = self._require()
        try:
            assigned = list(self._progress.high)
            if assigned:
                consumer.get_watermark_offsets(TopicPartition(*assigned[0]), timeout=2,
                                               cached=False)
            elif self.options.topics:
                consumer.list_topics(self.options.topics[0], timeout=2)
            else:
                consumer.list_topics(timeout=2)
        except KafkaException as exc:
            self.link.failed(_rdkafka.error_of(exc).name())
            self._next_probe = self._monotonic() + self.link.backoff
            return False
        self.link.ok()
        self._next_probe = self._monotonic() + 1.0  # idle: one cheap request a second
        return True

    # -- commits (`Commits`) ---------------------------------------------------------------------

    def commit(self, positions: Sequence[Position]) -> bool:
        """Send positions (already in the store) to Kafka without waiting for the reply.

        The stored positions are what a restart reads from; Kafka's committed offsets are for
        lag tools, so the loop does not wait for the broker. False when the commit could not be
        sent; a commit the broker then fails is logged and its positions come back from
        `due_commits` (unless a later commit of the partition was sent meanwhile).
        """
        if not positions:
            return True
        return self._commits.send(self._require(), positions)

    def due_commits(self) -> list[Position]:
        """Positions to send (again) since the last call: commits the broker failed, and the
        stored positions of partitions just resumed from the store."""
        return self._commits.take_due()

    # -- lag (`Progress`) -------------------------------------------------------------------------

    def caught_up(self) -> bool:
        """Whether partitions are assigned and every one of them has been read to its end."""
        return self._progress.caught_up()

    def read_to_end(self, timeout_ms: int = 2000) -> bool | None:
        """Whether partitions are assigned and each has been read to the end offset the broker
        gives now (see `Progress.read_to_end`). None when the broker cannot tell."""
        return self._progress.read_to_end(self._require(), timeout_ms)

    def subscribed(self) -> set[tuple[str, int]]:
        """Every partition of the topics subscribed to, whoever of the group reads them (see
        `_progress.subscribed`); empty when the broker cannot tell."""
        return subscribed(self._require(), self.options)

    def highwaters(self) -> dict[tuple[str, int], int | None]:
        """The end offset of each assigned partition as of the last fetch (None: not known)."""
        return self._progress.highwaters()

    def lag(self) -> dict[tuple[str, int], int | None]:
        """Records not read yet per assigned partition, from the last fetch (no request);
        None for a partition not fetched from yet."""
        return self._progress.lag()
