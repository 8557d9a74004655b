"""The store interface: write a batch in one transaction, read what the CLI and dashboard need.

A batch carries everything one step of the pipeline produced together with the source positions
it was read from, so that what was accepted and where to resume are committed atomically.
Every row has a natural key, so writing the same batch twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from collector.exceptions import StoreError
from collector.model import (
    Alert,
    DeadLetter,
    Event,
    EventIdentity,
    FlowSnapshot,
    Span,
    Violation,
)

if TYPE_CHECKING:
    from collector.flows.rollup import FlowRollup
    from collector.member import CollectorBeat
    from collector.store.dead_letters import DeadLetterBounds, DeadLetterUsage

__all__ = ["Batch", "ConsumerSeen", "Position", "Store", "open_store", "shown_url"]


@dataclass(frozen=True, slots=True)
class Position:
    """The next offset to read in one partition of one source (e.g. a consumer group's topic)."""

    source: str
    """The reader, e.g. ``kafka:GROUP``; positions of different readers never mix."""
    topic: str
    partition: int
    next_offset: int


@dataclass(frozen=True, slots=True)
class ConsumerSeen:
    """A consuming service seen receiving a stored topic (e.g. RabbitMQ's firehose naming the
    queue a message was delivered to), latest at ``last_seen``: table ``consumer_groups``,
    the event map's consumer edges without spans."""

    service: str
    topic: str
    last_seen: datetime


@dataclass(slots=True)
class Batch:
    """What one pipeline step produced, written in one transaction."""

    events: list[Event] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    flows: list[FlowSnapshot] = field(default_factory=list)
    """Flow instances to insert or update (by instance id)."""
    assignments: list[tuple[EventIdentity, str]] = field(default_factory=list)
    """Events (possibly stored earlier) joined to a flow instance id; when an event appears
    more than once, the last assignment holds."""
    violations: list[Violation] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    """Written to the outbox; a publisher sends and marks them."""
    positions: list[Position] = field(default_factory=list)
    metrics: list[tuple[str, dict[str, str], float, datetime]] = field(default_factory=list)
    """(name, labels, value, at): collector health samples."""
    spans: list[Span] = field(default_factory=list)
    """Spans to insert; one already stored (same trace id and span id) is kept as it was."""
    flow_rollups: list[FlowRollup] = field(default_factory=list)
    """Per-minute flow and step duration percentiles and SLA shares, upserted by their key."""
    consumers: list[ConsumerSeen] = field(default_factory=list)
    """Consumers seen (upserted by service and topic, the latest ``last_seen`` kept)."""
    collectors: list[CollectorBeat] = field(default_factory=list)
    """Collector heartbeats (table ``collectors``, upserted by collector id, the latest kept)."""
    detected_at: datetime | None = None
    """The detection clock this batch's verdicts were reached at; the store keeps the latest
    (table ``detection_clock``), so amounts over a deadline are measured to it later."""

    def __len__(self) -> int:
        return len(self.events) + len(self.dead_letters)


class Store(Protocol):
    """Persistence for everything the collector accepts. Implementations are thread-confined."""

    url: str

    def write(self, batch: Batch) -> None:
        """Commit the whole batch atomically; events already stored (same identity) are kept."""

    def prepare(self, batch: Batch) -> Any:
        """`write` in two halves: this one turns the batch into what the backend runs (Python
        work, on the caller's thread) ..."""

    def write_prepared(self, prepared: Any) -> None:
        """... and this one commits it atomically (the backend's work, e.g. on a writer
        thread). ``write(b)`` is ``write_prepared(prepare(b))``."""

    def positions(self, source: str) -> dict[tuple[str, int], int]:
        """The stored next offsets of a reader: ``{(topic, partition): next_offset}``."""

    def open_flows(self) -> Iterator[FlowSnapshot]:
        """Flows not yet ended (running or stuck), to rebuild the tracker after a restart."""

    def flow_events(self, instance_id: str) -> list[Event]:
        """The events of a flow instance, in event-time order."""

    def events_by_correlation(self, correlation_id: str) -> list[Event]:
        """Every stored event with this correlation id, in event-time order."""

    def flows_by_correlation(self, correlation_id: str) -> list[FlowSnapshot]:
        """Every flow instance with this correlation id, oldest first."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A read-only query for reports and the dashboard (rows as dicts)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one writing statement in its own transaction (e.g. the outbox's sent marks);
        answers the rows it changed."""

    def hold_alert_sender(self) -> bool:
        """Whether this connection is the store's one alert sender: the role is taken when
        free and held until `close` (or the process's death, which frees it at once), so of
        several collectors on one store exactly one sends the outbox at a time."""

    def delete_older_than(self, cutoff: datetime, limit: int) -> int:
        """Retention: delete at most ``limit`` rows of each of events (with their business keys),
        spans, dead letters and metrics older than ``cutoff``, in one short transaction; flows
        keep their summary. Returns how many rows went; call again until it answers 0."""

    def delete_dead_letters(self, dl_ids: Sequence[int]) -> int:
        """Remove dead letters (by ``dl_id``) that a replay turned into events."""

    def trim_dead_letters(self, now: datetime) -> int:
        """Delete the dead letters older than their age bound at ``now``; how many went.
        (Writes apply the age and size bounds too, at the newest dead letter's time.)"""

    def dead_letter_usage(self) -> DeadLetterUsage:
        """The stored dead letters' count and size, and what the bounds dropped or cut."""

    def close(self) -> None: ...


def open_store(url: str, *, read_only: bool = False,
               dead_letters: DeadLetterBounds | None = None) -> Store:
    """Open (and migrate, unless read-only) the store at ``url``; ``dead_letters`` bounds the
    dead letters it keeps (default: `DeadLetterBounds()`, the settings' defaults)."""
    if url.startswith("sqlite:///"):
        from collector.store.sqlite import SqliteStore

        return SqliteStore(url, read_only=read_only, dead_letters=dead_letters)
    if url.startswith(("postgresql://", "postgres://")):
        from collector.store.postgres import PostgresStore

        return PostgresStore(url, read_only=read_only, dead_letters=dead_letters)
    raise StoreError(f"unsupported store URL {url!r}: use sqlite:///PATH or "
                     "postgresql://USER@HOST:PORT/DATABASE")


def shown_url(url: str) -> str:
    """A store URL without its password, for messages and logs."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.split(':', 1)[0]}@{tail}"
