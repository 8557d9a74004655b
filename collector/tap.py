"""The tap interface: what the collect loop needs from a broker, whichever broker it is.

A tap reads a running system's messages with an identity of its own (a Kafka consumer group, a
RabbitMQ queue of its own, a JetStream durable consumer) and never writes to what it reads.
The loop (`collector.kafka.runner`) polls a batch of observations with the positions to store
with it, writes both in one store transaction, and only then calls `Tap.commit` with those
positions: Kafka commits offsets, RabbitMQ acknowledges deliveries, JetStream acknowledges
messages. What a broker promises beyond that (at least once, at most once) is the tap's
``delivery`` line, shown by ``choreoscope collect`` at start-up.

Implementations: `collector.kafka.tap.KafkaTap`, `collector.rabbitmq.tap.RabbitTap`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from collector.model import Observation
from collector.store.base import Position

__all__ = ["Lag", "LinkState", "Tap"]

Lag = dict[tuple[str, int], int | None]
"""Messages not read yet per (queue or topic, partition); None while not known yet."""


class LinkState(Protocol):
    """Whether the broker is reachable (the tap logs one line per change)."""

    @property
    def up(self) -> bool: ...


class Tap(Protocol):
    """One broker's reader, as the collect loop drives it (on one thread)."""

    on_open: Callable[[], object] | None
    """Called once `open` has connected (e.g. to let the client's own logging through)."""
    on_revoke: Callable[[], object] | None
    """Called before what the tap reads is handed to another reader (Kafka's rebalance), so the
    loop can finish its writes in flight first; taps that never hand over ignore it."""

    @property
    def source(self) -> str:
        """The reader name positions are stored under (``kafka:GROUP``, ``rabbitmq:GROUP``)."""

    @property
    def link(self) -> LinkState: ...

    @property
    def delivery(self) -> str:
        """What the tap promises, for the start-up line (e.g. ``effectively once``)."""

    def open(self, stop: threading.Event | None = None) -> None:
        """Connect; with ``stop``, retry while the broker is unreachable until it is set.
        Raises a `collector.exceptions.TapError` when it cannot (or ``stop`` was set)."""

    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]:
        """The next messages, and the positions to store with them."""

    def commit(self, positions: Sequence[Position]) -> bool:
        """Tell the broker that what was read up to ``positions`` is stored; False when it
        could not be sent (the loop offers the positions again later)."""

    def due_commits(self) -> list[Position]:
        """Positions to commit again since the last call (failed or resumed ones)."""

    def lag(self) -> Lag: ...

    def caught_up(self) -> bool:
        """Whether everything published so far has been read."""

    def figures(self) -> Mapping[str, float]:
        """Broker-specific health figures (queue depth, drops, pending), by metric name."""

    def close(self) -> None: ...
