"""The collectors of a group: each ``choreoscope collect`` process's heartbeat row (table
``collectors``) and when one has gone silent. Pure: the runner passes its lag, counts and clock.

A process is one member whatever its mode: a single collector has one role (``single``); a
scale-out process has two (``reader`` and ``tracker``, docs/SCALE-OUT.md), each a loop of its own
that reports here on its health cadence. Either loop's report writes the whole process's row.

A row is in one of three states (`status_of`): running; stopped (the process said so on a clean
exit, `Membership.stop`); silent (it stopped heartbeating without saying so: crashed, hung or
cut off). A process has no identity beyond its run (``host:pid:start``), so a restart is a new
row; `successors` says which earlier run a later start on the same host, group and roles
replaced, so that the page lists a restarted collector once.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = ["CollectorBeat", "MemberRole", "Membership", "Status", "collector_id", "is_silent",
           "silent_after", "status_of", "successors"]

SILENT_AFTER_BEATS = 3
"""A collector is silent once this many heartbeat intervals passed without one."""

Lag = Mapping[tuple[str, int], int | None]


@dataclass(frozen=True, slots=True)
class CollectorBeat:
    """One collector process as it last reported: a row of table ``collectors``."""

    collector_id: str
    group: str
    roles: tuple[str, ...]
    partitions: Mapping[str, tuple[str, ...]]
    """By role, the partitions it owns as ``topic[partition]``."""
    lag: int | None
    """Records not read yet over all its partitions (None: none known yet)."""
    records_per_second: float
    """Records its first role (the one reading the user's topics) read per second."""
    started_at: datetime
    heartbeat_at: datetime
    beat_every_s: float
    """Its heartbeat interval (``kafka.metrics_every_s``): silence is measured in these."""
    host: str = ""
    records: int = 0
    """Records its first role read since the process started."""
    stopped_at: datetime | None = None
    """When it stopped cleanly (its last row); None while it runs, or if it died unheard."""


class Status(StrEnum):
    """A collector's state on the Collector health page."""

    RUNNING = "running"
    STOPPED = "stopped"
    SILENT = "silent"


def collector_id(host: str, pid: int, started_at: datetime) -> str:
    """A process's id: host, pid and start time (UTC, to the second), e.g.
    ``h:42:2026-12-06T03:00:00Z``."""
    return f"{host}:{pid}:{started_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def silent_after(beat_every_s: float) -> timedelta:
    """How long without a heartbeat makes a collector silent."""
    return timedelta(seconds=SILENT_AFTER_BEATS * beat_every_s)


def is_silent(heartbeat_at: datetime, beat_every_s: float, now: datetime) -> bool:
    """Whether a collector last heard at ``heartbeat_at`` has gone silent by ``now``."""
    return now - heartbeat_at > silent_after(beat_every_s)


def status_of(beat: CollectorBeat, now: datetime) -> Status:
    """Stopped if it said so; silent if it stopped heartbeating without saying so."""
    if beat.stopped_at is not None:
        return Status.STOPPED
    return Status.SILENT if is_silent(beat.heartbeat_at, beat.beat_every_s, now) else (
        Status.RUNNING)


def successors(beats: Iterable[CollectorBeat], now: datetime) -> dict[str, str]:
    """The runs a later start replaced, each by id with its successor's id.

    A run that has stopped or gone silent is replaced by the first run of the same host, group
    and roles that started after its last heartbeat (it was not running any more then); a run
    replaces one earlier run at most, so of two that died before one restart, the other stays
    flagged. Neither a run still beating nor one that died after its successor started (a
    sibling on the same host, not a predecessor) is replaced."""
    runs: dict[tuple[str, str, tuple[str, ...]], list[CollectorBeat]] = defaultdict(list)
    for b in beats:
        runs[(b.host, b.group, b.roles)].append(b)
    out: dict[str, str] = {}
    for same in runs.values():
        taken: set[str] = set()
        ended = [b for b in same if status_of(b, now) is not Status.RUNNING]
        for old in sorted(ended, key=lambda b: b.heartbeat_at):
            later = sorted((b for b in same if b.started_at >= old.heartbeat_at
                            and b.collector_id not in taken and b is not old),
                           key=lambda b: b.started_at)
            if later:
                out[old.collector_id] = later[0].collector_id
                taken.add(later[0].collector_id)
    return out


@dataclass(slots=True)
class _RoleState:
    partitions: tuple[str, ...] = ()
    lag: int | None = None
    rate: float = 0.0
    seen: tuple[int, datetime] | None = None


class Membership:
    """This process in its group; its roles report from their own threads (hence the lock)."""

    def __init__(self, collector_id: str, group: str, started_at: datetime,
                 beat_every_s: float, *, host: str = "") -> None:
        self.collector_id = collector_id
        self.group = group
        self.host = host
        self.started_at = started_at
        self.beat_every_s = beat_every_s
        self._roles: dict[str, _RoleState] = {}
        self._lock = threading.Lock()

    def role(self, name: str) -> MemberRole:
        """The reporting handle of one role (the first one's rate is the row's records/s)."""
        with self._lock:
            self._roles.setdefault(name, _RoleState())
        return MemberRole(self, name)

    def beat(self, role: str, lag: Lag, observations: int, at: datetime) -> CollectorBeat:
        """Note ``role``'s partitions, lag and records read so far at ``at``; the whole row."""
        with self._lock:
            state = self._roles[role]
            state.partitions = tuple(f"{t}[{p}]" for t, p in sorted(lag))
            known = [n for n in lag.values() if n is not None]
            state.lag = sum(known) if known else None
            if state.seen is None or at > state.seen[1]:
                if state.seen is not None:
                    elapsed = (at - state.seen[1]).total_seconds()
                    state.rate = (observations - state.seen[0]) / elapsed
                state.seen = (observations, at)
            return self._row(at)

    def stop(self, at: datetime) -> CollectorBeat:
        """The last row of a clean stop at ``at``: no partitions (it left its group), no lag or
        rate, the records it read, and ``stopped_at``."""
        with self._lock:
            row = self._row(at)
        return replace(row, partitions=dict.fromkeys(row.partitions, ()), lag=None,
                       records_per_second=0.0, stopped_at=at)

    def _row(self, at: datetime) -> CollectorBeat:
        states = list(self._roles.values())
        lags = [s.lag for s in states if s.lag is not None]
        first = states[0] if states else _RoleState()
        return CollectorBeat(
            self.collector_id, self.group, tuple(self._roles),
            {name: s.partitions for name, s in self._roles.items()},
            sum(lags) if lags else None, first.rate, self.started_at, at,
            self.beat_every_s, self.host, 0 if first.seen is None else first.seen[0])


@dataclass(frozen=True, slots=True)
class MemberRole:
    """One role of a `Membership`, as the runner holds it."""

    membership: Membership
    name: str

    def beat(self, lag: Lag, observations: int, at: datetime) -> CollectorBeat:
        return self.membership.beat(self.name, lag, observations, at)
