"""Where the Kafka tap starts partitions nothing is stored for: by the start policy
(``earliest``, ``latest`` or a time), at a concrete offset where the broker answers. Partitions
to start at a time the broker cannot give offsets for yet are assigned paused and sought once
it answers.
"""

from __future__ import annotations

from datetime import datetime

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from collector.kafka import _rdkafka
from collector.kafka._link import Link
from collector.kafka._options import StartPolicy

__all__ = ["Start"]


class Start:
    """The start policy applied to partitions, and those still waiting for their offsets by
    time."""

    def __init__(self, policy: StartPolicy, link: Link) -> None:
        self._policy = policy
        self._link = link
        self.by_time: list[TopicPartition] = []
        """Partitions assigned (paused) whose offsets by the start time are still to find."""

    def revoked(self) -> None:
        """The assignment is gone: no partition waits to be sought any more."""
        self.by_time = []

    @property
    def name(self) -> str:
        """The policy as the log names it."""
        start = self._policy
        return start if isinstance(start, str) else start.isoformat()

    def position(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Set the offsets of partitions nothing is stored for, by the start policy: a
        concrete offset where the broker answers, so the lag is known before a record comes."""
        start = self._policy
        if not isinstance(start, datetime):
            for tp in partitions:
                tp.offset = _watermark(consumer, tp, end=start == "latest")
            return
        ms = int(start.timestamp() * 1000)
        try:
            found = consumer.offsets_for_times(
                [TopicPartition(tp.topic, tp.partition, ms) for tp in partitions], timeout=10)
        except KafkaException as exc:  # assigned paused, sought once the broker answers
            self._link.failed(_rdkafka.error_of(exc).name())
            self.by_time = [TopicPartition(tp.topic, tp.partition) for tp in partitions]
            for tp in partitions:
                tp.offset = OFFSET_END  # nothing read before it is sought
            return
        for tp, hit in zip(partitions, found, strict=True):
            tp.offset = hit.offset if hit.offset >= 0 else _watermark(consumer, tp, end=True)

    def seek_by_time(self, consumer: Consumer, at: dict[tuple[str, int], int]) -> None:
        """Position the partitions `position` could not find offsets by time for, and resume
        them; ``at`` (the next offset per partition) learns where they start."""
        start = self._policy
        assert isinstance(start, datetime)
        ms = int(start.timestamp() * 1000)
        pending = self.by_time
        try:
            found = consumer.offsets_for_times(
                [TopicPartition(tp.topic, tp.partition, ms) for tp in pending], timeout=10)
        except KafkaException as exc:
            self._link.failed(_rdkafka.error_of(exc).name())
            return
        self.by_time = []
        for tp, hit in zip(pending, found, strict=True):
            offset = hit.offset if hit.offset >= 0 else _watermark(consumer, tp, end=True)
            try:
                consumer.seek(TopicPartition(tp.topic, tp.partition, offset))
            except KafkaException:  # not fetching yet: again after the next poll
                self.by_time.append(tp)
                continue
            consumer.resume([tp])
            if offset >= 0:
                at[(tp.topic, tp.partition)] = offset


def _watermark(consumer: Consumer, tp: TopicPartition, *, end: bool) -> int:
    """A partition's first offset, or its end (the broker's answer, else librdkafka's
    logical one)."""
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition),
                                                   timeout=5, cached=False)
    except KafkaException:
        return OFFSET_END if end else OFFSET_BEGINNING
    return int(high if end else low)
