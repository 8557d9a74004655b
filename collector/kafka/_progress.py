"""How far the Kafka tap has read: per assigned partition the next offset to read and the end
offset, and the answers made of them (`lag`, `highwaters`, `caught_up`, `read_to_end`); and
which partitions the subscription covers (`subscribed`).
"""

from __future__ import annotations

import re

from confluent_kafka import Consumer, KafkaException, TopicPartition

from collector.kafka import _rdkafka
from collector.kafka._link import Link
from collector.kafka._options import TapOptions

__all__ = ["Progress", "subscribed"]


class Progress:
    """The assigned partitions' read and end offsets (reset as a whole on each rebalance)."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self.at: dict[tuple[str, int], int] = {}
        """The next offset to read per assigned partition, where known (librdkafka's
        ``position`` says nothing before a partition's first record)."""
        self.high: dict[tuple[str, int], int | None] = {}
        """The end offset of each assigned partition as of the last fetch, read after each
        poll: `lag`, `highwaters` and `caught_up` answer from here, without the consumer,
        whose calls wait for a `consume` running on another thread."""

    def assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """A new assignment, each partition at its offset where known."""
        self.at = {(tp.topic, tp.partition): tp.offset for tp in partitions if tp.offset >= 0}
        self.high = dict.fromkeys(((tp.topic, tp.partition) for tp in partitions), None)
        self.read_highs(consumer)

    def revoked(self) -> None:
        self.at, self.high = {}, {}

    def read_highs(self, consumer: Consumer) -> None:
        """The assigned partitions' end offsets librdkafka has from its fetches (no request)."""
        high = self.high
        for key in high:
            try:
                _, end = consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
            except KafkaException:
                continue
            if end >= 0:
                high[key] = int(end)

    def caught_up(self) -> bool:
        """Whether partitions are assigned and every one of them has been read to its end."""
        lag = self.lag()
        return bool(lag) and all(n == 0 for n in lag.values())

    def read_to_end(self, consumer: Consumer, timeout_ms: int = 2000) -> bool | None:
        """Whether partitions are assigned and each has been read to the end offset the broker
        gives now (one ListOffsets request per partition; `caught_up` answers from the last
        fetch, which misses records produced since). None when the broker cannot tell."""
        assigned = list(self.high)
        if not assigned:
            return False
        at = self.at
        try:
            for key in assigned:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(*key), timeout=timeout_ms / 1000, cached=False)
                pos = at.get(key)
                if pos is None or high < 0 or pos < high:
                    return False
        except KafkaException as exc:
            err = _rdkafka.error_of(exc)
            if err.code() in _rdkafka.UNREACHABLE:
                self._link.failed(err.name())
            return None
        return True

    def highwaters(self) -> dict[tuple[str, int], int | None]:
        """The end offset of each assigned partition as of the last fetch (None: not known)."""
        return dict(self.high)

    def lag(self) -> dict[tuple[str, int], int | None]:
        """Records not read yet per assigned partition, from the last fetch (no request);
        None for a partition not fetched from yet."""
        at = self.at
        return {key: max(0, high - pos) if high is not None and (pos := at.get(key)) is not None
                else None for key, high in list(self.high.items())}


def subscribed(consumer: Consumer, options: TapOptions) -> set[tuple[str, int]]:
    """Every partition of the topics subscribed to, whoever of the group reads them, as
    the brokers' metadata gives them (a pattern's: of the topics it matches now); empty
    when the broker cannot tell."""
    found: set[tuple[str, int]] = set()
    try:  # one request, not one per topic: each waits behind a fetch
        topics = consumer.list_topics(timeout=5).topics
    except KafkaException:
        return found
    if options.pattern:
        match = re.compile(options.pattern).match
        chosen = [t for t in topics if match(t) and not t.startswith("__")]
    else:
        chosen = list(options.topics)
    for t in chosen:
        meta = topics.get(t)
        if meta is not None:
            found.update((t, p) for p in meta.partitions)
    return found
