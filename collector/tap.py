"""The tap interface: what the collect loop needs from a broker, whichever broker it is.

A tap reads a running system's messages with an identity of its own (a Kafka consumer group, a
RabbitMQ queue of its own, a JetStream durable consumer) and never writes to what it reads.
The loop (`collector.kafka.runner`) polls a batch of observations with the positions to store
with it, writes both in one store transaction, and only then calls `Tap.commit` with those
positions: Kafka commits offsets, RabbitMQ acknowledges deliveries, JetStream acknowledges
messages. What a broker promises beyond that (at least once, at most once) is the tap's
``delivery`` line, shown by ``choreoscope collect`` at start-up.

Implementations: `collector.kafka.tap.KafkaTap`, `collector.rabbitmq.tap.RabbitTap`,
`collector.nats.tap.NatsTap`; `TapSet` reads several brokers at once as one tap.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from collector.model import Observation
from collector.store.base import ConsumerSeen, Position

__all__ = ["Lag", "LinkState", "Tap", "TapSet"]

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

    def consumers(self) -> list[ConsumerSeen]:
        """Consuming services the broker showed receiving stored topics since the last call
        (RabbitMQ's firehose); taps that cannot see consumers answer none."""

    def close(self) -> None: ...


class _AllUp:
    def __init__(self, taps: Sequence[Tap]) -> None:
        self._taps = taps

    @property
    def up(self) -> bool:
        return all(t.link.up for t in self._taps)


class TapSet:
    """Several taps (brokers) read as one: polled in turn, each commit sent to the tap whose
    reader (`Position.source`) it names. Lag and figures are merged."""

    def __init__(self, taps: Sequence[Tap]) -> None:
        if not taps:
            raise ValueError("a TapSet needs at least one tap")
        self.taps = tuple(taps)
        self.on_open: Callable[[], object] | None = None
        self.on_revoke: Callable[[], object] | None = None
        self._turn = 0

    @property
    def source(self) -> str:
        return "+".join(t.source for t in self.taps)

    @property
    def link(self) -> LinkState:
        return _AllUp(self.taps)

    @property
    def delivery(self) -> str:
        return "; ".join(f"{t.source} {t.delivery}" for t in self.taps)

    def open(self, stop: threading.Event | None = None) -> None:
        opened: list[Tap] = []
        try:
            for t in self.taps:
                t.on_revoke = self._revoke
                t.open(stop)
                opened.append(t)
        except BaseException:
            for t in opened:
                t.close()
            raise
        if self.on_open is not None:
            self.on_open()

    def _revoke(self) -> None:
        if self.on_revoke is not None:
            self.on_revoke()

    def poll(self, timeout_ms: int = 200) -> tuple[list[Observation], list[Position]]:
        """The next batch of the first tap (in turn) that has one."""
        per = max(1, timeout_ms // len(self.taps))
        for _ in self.taps:
            tap = self.taps[self._turn % len(self.taps)]
            self._turn += 1
            observations, positions = tap.poll(per)
            if observations or positions:
                return observations, positions
        return [], []

    def commit(self, positions: Sequence[Position]) -> bool:
        ok = True
        for t in self.taps:
            mine = [p for p in positions if p.source == t.source]
            if mine:
                ok = t.commit(mine) and ok
        return ok

    def due_commits(self) -> list[Position]:
        return [p for t in self.taps for p in t.due_commits()]

    def lag(self) -> Lag:
        merged: Lag = {}
        for t in self.taps:
            merged.update(t.lag())
        return merged

    def caught_up(self) -> bool:
        return all(t.caught_up() for t in self.taps)

    def figures(self) -> Mapping[str, float]:
        merged: dict[str, float] = {}
        for t in self.taps:
            merged.update(t.figures())
        return merged

    def consumers(self) -> list[ConsumerSeen]:
        return [c for t in self.taps for c in t.consumers()]

    def close(self) -> None:
        for t in self.taps:
            t.close()
