"""The flow tracker: correlated events in, flow states, event assignments and alerts out.

Pure: no I/O and no clock but the one the runner passes to `FlowTracker.on_tick`. The runner
(`collector.pipeline`) writes each `FlowUpdate` in the same store transaction as the events
that caused it, and calls `on_tick` at `next_deadline()` (wall clock live, the event-time
watermark on replay).

Rules (docs/FLOWS.md): only a start event opens an instance, identified by the start event's
identity; every other event joins the instance of the event that caused it if that is known,
else the latest instance of its correlation id started at or before its event time, or waits
(bounded) until such a start arrives. Inside an instance events are
ordered by event time, then causation, then source sequence, so any delivery order of the same
events gives the same state. Stuck and open-flow SLA verdicts come from the detection clock;
everything else is a function of the events.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from sys import intern

from collector.flows._held import HeldEvents
from collector.flows._state import (
    CAUSE,
    ID,
    SRC,
    STATUS,
    TYPE,
    Compiled,
    Entry,
    Flow,
    T,
    sorted_entries,
)
from collector.flows.alert import alert_id, build_alert, instance_id
from collector.flows.definition import FlowDefinition
from collector.flows.exceptions import FlowError
from collector.flows.rollup import WHOLE_FLOW, FlowRollup, RollupAggregator, Sample
from collector.model import (
    Alert,
    AlertKind,
    Event,
    EventIdentity,
    FlowSnapshot,
    FlowStatus,
)

__all__ = ["ENDED_MEMORY", "FlowTracker", "FlowUpdate", "alert_id", "instance_id"]

_Slot = Flow | list[Flow]
_EARLIEST = datetime.min.replace(tzinfo=UTC)
ENDED_MEMORY = 200_000
"""How many ended-and-evicted instance ids are remembered, so a late redelivered start event
does not reopen its flow."""


@dataclass(slots=True)
class FlowUpdate:
    """What one event, batch or tick changed: write it all in one transaction."""

    assignments: list[tuple[EventIdentity, str]] = field(default_factory=list)
    flows: list[FlowSnapshot] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rollups: list[FlowRollup] = field(default_factory=list)
    """Per-minute duration percentiles and SLA shares of minutes the clock has closed."""

    def __bool__(self) -> bool:
        return bool(self.assignments or self.flows or self.alerts or self.rollups)


class FlowTracker:
    """Tracks every open flow instance of the given definitions.

    ``retention``: how long (in detection-clock time) an ended flow stays in memory so late
    events (a notification, a redelivery) still join it; default the longest step deadline or
    SLA of any definition. ``max_held``: events waiting for their start event, at most.
    ``rollups``: the per-minute aggregator (None: no rollups).
    """

    def __init__(self, definitions: Iterable[FlowDefinition], *,
                 retention: timedelta | None = None, max_held: int = 100_000,
                 rollups: RollupAggregator | None = None) -> None:
        defs = list(definitions)
        if not defs:
            raise FlowError("no flow definitions: add schemas/flows/*.json")
        keep = retention if retention is not None else max(d.longest_wait for d in defs)
        self._by_key: dict[tuple[str, int], Compiled] = {}
        self._starts: dict[str, list[Compiled]] = {}
        for d in sorted(defs, key=lambda x: (x.flow_type, x.version)):
            c = Compiled(d, keep)
            self._by_key[d.flow_type, d.version] = c
            for name in d.start:
                self._starts.setdefault(intern(name), []).append(c)
        self._corr: dict[str, _Slot] = {}
        self._held = HeldEvents(max_held)
        self._heap: list[tuple[datetime, int, str, str]] = []
        """(wake, sequence, correlation id, instance id): flat tuples the garbage collector stops
        tracking; the flow is looked up when its wake comes."""
        self._seq = 0
        self._now: datetime | None = None
        self._dirty: dict[str, Flow] = {}
        self._touched: dict[str, Flow] = {}
        self._ended: dict[str, None] = {}
        """Instance ids of ended flows that left memory (insertion order: the oldest go first)."""
        self._assign: list[tuple[EventIdentity, str]] = []
        self._alerts: list[Alert] = []
        self.rollups: RollupAggregator | None = (
            rollups if rollups is not None else RollupAggregator())
        self._rollups: list[FlowRollup] = []
        self.rollup_part: Callable[[str], int] | None = None
        """A flow's rollup part by its correlation id (scale-out: its internal partition);
        None: every flow in part -1."""

    # -- the runner's interface -------------------------------------------------------------

    def on_event(self, event: Event) -> FlowUpdate:
        self._ingest(event)
        self._settle_touched()
        return self._flush()

    def on_events(self, events: Iterable[Event]) -> FlowUpdate:
        """Several events at once: one snapshot per changed flow (cheaper than one per event)."""
        ingest = self._ingest
        for event in events:
            ingest(event)
        self._settle_touched()
        return self._flush()

    def _settle_touched(self) -> None:
        """Once per flow the events moved: recovery, a first breach, the next wake."""
        touched = self._touched
        if touched:
            changed = self._changed
            for flow in touched.values():
                changed(flow)
            self._touched = {}

    def _settle_now(self, flow: Flow) -> None:
        """What must not wait for the end of a batch: an alert (recovery, first breach) is
        built from the flow as the event that caused it left it, and an ended flow is counted
        in the rollups with the events it had then, so `on_events` gives what one `on_event`
        per event gives. Everything else `_settle_touched` does once per flow."""
        if flow.flagged or (not flow.alerted and (flow.late is not None
                                                  or flow.det_over is not None)):
            self._changed(flow)
        if flow.status and flow.judged != 3 and self.rollups is not None:
            self._judged(flow)

    def on_tick(self, now: datetime) -> FlowUpdate:
        """Advance the detection clock to ``now``: flag stuck flows and open-flow breaches."""
        if self._now is None or now > self._now:
            self._now = now
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, seq, corr, iid = heapq.heappop(heap)
            flow = self._find(corr, iid)
            if flow is None or flow.wake_seq != seq:
                continue  # superseded by an earlier wake, or gone
            flow.wake = None
            wake = flow.next_wake()
            if wake is None:
                continue
            if wake > now:  # the flow moved on since: check again later
                self._push(flow, wake)
            else:
                self._detect(flow, now)
        if self.rollups is not None:
            self._rollups.extend(self.rollups.close(now))
        return self._flush()

    def flush_rollups(self) -> FlowUpdate:
        """Emit every minute's rollup now (on shutdown, or after settling a history)."""
        if self.rollups is not None:
            self._rollups.extend(self.rollups.close_all())
        return self._flush()

    def next_deadline(self) -> datetime | None:
        """The earliest detection-clock time at which `on_tick` has something to decide."""
        heap = self._heap
        while heap:
            wake, seq, corr, iid = heap[0]
            flow = self._find(corr, iid)
            if flow is not None and flow.wake_seq == seq:
                real = flow.next_wake()
                if real == wake:
                    return wake
                heapq.heappop(heap)
                flow.wake = None
                if real is not None:
                    self._push(flow, real)
            else:
                heapq.heappop(heap)
        return None

    def restore(self, flows: Iterable[tuple[FlowSnapshot, Sequence[Event]]],
                held: Iterable[Event] = (), *, rolled_up: datetime | None = None,
                ended: Iterable[str] = (), now: datetime | None = None,
                recount_from: datetime | None = None) -> None:
        """Rebuild the tracker after a restart from the store's snapshots and their events.

        ``flows``: the open flows and the ended ones still in memory at ``now``, the detection
        clock the store last reached (None: no tick had run). The verdicts already given
        (stuck, breached, alerted) are kept as stored. ``held`` are events no instance had
        claimed, oldest first: they wait for their start event again, or join a restored flow;
        what that changes comes out with the next update. ``ended``: instance ids of ended
        flows that had left memory, oldest first, so a late redelivery of their start event
        does not open them again (and overwrite their stored verdict). ``rolled_up`` is the
        newest minute with stored rollup rows (a clean stop writes the minutes it held).
        ``recount_from``: instead, the first minute counted again (a scale-out tracker's,
        `collector.flows.query.restore_tracker`).
        """
        for iid in ended:
            self._forget(iid)
        restored = [self._restore_one(snap, events) for snap, events in flows]
        if self.rollups is not None:
            self._recount(restored, now, rolled_up, recount_from)
        for event in held:
            self._ingest(event)
        self._settle_touched()

    def _recount(self, flows: list[Flow], now: datetime | None,
                 rolled_up: datetime | None, recount_from: datetime | None = None) -> None:
        """Give the rollups back the samples the stopped tracker held and no row stored yet.

        The minutes its clock had closed (rows written at the tick) and those a clean stop
        wrote take no more samples: a row that counted only what comes after the restart
        would replace the stored one. The minutes after are open again, with the samples of
        the restored flows judged in them (every flow judged there is restored: it ended
        after the clock less the retention, or is still open), so their rows count the
        flows judged before the kill as well as after."""
        rollups = self.rollups
        assert rollups is not None
        closed = [rollups.horizon(now)] if now is not None else []
        if rolled_up is not None:
            closed.append(rolled_up + timedelta(minutes=1))
        if recount_from is not None:
            closed = [recount_from]
        if closed:
            rollups.close_before(max(closed))
        since = rollups.closed_until
        for f in flows:
            for at, samples in _samples(f):
                if since is None or at >= since:
                    rollups.add(f.d.flow_type, at, samples, self._part(f))

    @property
    def retention(self) -> timedelta:
        """How long ended flows stay in memory (detection-clock time)."""
        return next(iter(self._by_key.values())).retention

    @property
    def open_flows(self) -> int:
        """Flows not ended (running or stuck)."""
        return sum(1 for s in self._corr.values() for f in _flows(s) if not f.status)

    @property
    def in_memory(self) -> int:
        """Flows held in memory: open ones and those ended within the retention."""
        return sum(1 if isinstance(s, Flow) else len(s) for s in self._corr.values())

    @property
    def held(self) -> int:
        """Events waiting for their start event."""
        return self._held.count

    @property
    def held_limit(self) -> int:
        """Events that may wait for their start event, at most (``max_held``)."""
        return self._held.limit

    @property
    def held_dropped(self) -> int:
        """Events dropped from the waiting buffer because it was full (still stored)."""
        return self._held.dropped

    # -- events -----------------------------------------------------------------------------

    def _ingest(self, e: Event) -> None:
        kind = e.type
        t = e.occurred_at
        entry: Entry = (t, e.sequence or 0, e.source, e.id, kind, e.causation_id)
        defs = self._starts.get(kind)
        if defs is not None:
            self._open(e.correlation_id, entry, defs)
            return
        corr = e.correlation_id
        slot = self._corr.get(corr)
        if slot is None:
            self._held.hold(corr, entry)
            return
        if not isinstance(slot, Flow):  # a reused correlation id: causation decides first
            self._route(corr, slot, [entry])
            return
        flow = slot
        if t < flow.start[T]:  # before its start: caused by one of its events, or waits
            self._route(corr, [flow], [entry])
            return
        entries = flow.entries
        if t > entries[-1][0]:  # the usual case: the latest event of its flow
            flow.entries = (*entries, entry)
            flow.apply(kind, t)
        elif not self._insert(flow, entry):
            return
        self._assign.append((EventIdentity(e.source, e.id), flow.iid))
        self._touched[flow.iid] = flow
        if flow.flagged or flow.status or flow.late is not None or flow.det_over is not None:
            self._settle_now(flow)

    def _insert(self, flow: Flow, entry: Entry) -> bool:
        """Place an event that is not the latest in flow order; False for a duplicate."""
        entries = flow.entries
        for x in entries:
            if x[ID] == entry[ID] and x[SRC] == entry[SRC]:
                return False
        flow.entries = sorted_entries((*entries, entry))
        flow.replay()
        return True

    def _open(self, corr: str, entry: Entry, defs: list[Compiled]) -> None:
        slot = self._corr.get(corr)
        iid = instance_id(entry[SRC], entry[ID])
        if slot is None and iid not in self._ended and not self._held.waiting(corr):
            # the usual start: its correlation id is new
            flow = Flow(iid, intern(corr), _version_at(defs, entry[T]), entry)
            self._corr[corr] = flow
            self._assign.append((EventIdentity(entry[SRC], entry[ID]), iid))
            self._touched[iid] = flow
            return
        flows = _flows(slot)
        for f in flows:
            if f.start[ID] == entry[ID] and f.start[SRC] == entry[SRC]:
                return  # a redelivered start event
        if iid in self._ended:
            return  # the start of a flow that ended and left memory, redelivered: not a new one
        flow = Flow(iid, intern(corr), _version_at(defs, entry[T]), entry)
        self._route(corr, [*flows, flow], [], fresh=flow)

    def _route(self, corr: str, flows: list[Flow], new: list[Entry], *,
               fresh: Flow | None = None) -> None:
        """Decide again which instance each event of ``corr`` belongs to: the instance of the
        event that caused it when that is known, else the latest instance started at or before
        it; an event before every start waits. A function of the set of events, so the order
        they arrived in does not matter; only correlation ids with several instances, or events
        that came before their start, take this path."""
        was: dict[tuple[str, str], str] = {}
        pool: dict[tuple[str, str], Entry] = {}
        for f in flows:
            for x in f.entries:
                pool[x[SRC], x[ID]] = x
                if f is not fresh:
                    was[x[SRC], x[ID]] = f.iid
        for x in (*new, *self._held.take(corr, _EARLIEST, None)):
            pool.setdefault((x[SRC], x[ID]), x)
        ordered = sorted_entries(pool.values())
        starts = {(f.start[SRC], f.start[ID]): f for f in flows}
        by_start = sorted(flows, key=lambda f: f.start)
        owner: dict[str, Flow] = {}
        placed: dict[str, list[Entry]] = {f.iid: [] for f in flows}
        for x in ordered:
            home: Flow | None = starts.get((x[SRC], x[ID]))
            if home is None and x[CAUSE] is not None:
                home = owner.get(x[CAUSE])
            if home is None:
                home = _instance_at(by_start, x[T])
            if home is None:
                self._held.hold(corr, x)
                continue
            owner[x[ID]] = home
            placed[home.iid].append(x)
            if was.get((x[SRC], x[ID])) != home.iid:
                self._assign.append((EventIdentity(x[SRC], x[ID]), home.iid))
        for f in flows:
            entries = sorted_entries(placed[f.iid])
            if f is fresh or entries != f.entries:
                f.entries = entries
                f.replay()
                self._touched[f.iid] = f
                self._settle_now(f)
        self._corr[corr] = by_start[0] if len(by_start) == 1 else by_start

    # -- detection --------------------------------------------------------------------------

    def _detect(self, flow: Flow, now: datetime) -> None:
        if flow.status:
            self._evict(flow)
            return
        changed = False
        deadline = flow.deadline
        if not flow.flagged and deadline is not None and now >= deadline:
            flow.flagged, flow.stuck_step, flow.stuck_since = True, flow.step, deadline
            flow.stuck_n = flow.n_steps
            if flow.det_over is None:
                flow.det_over, flow.det_step = now - deadline, flow.step
            self._alert(flow, AlertKind.FLOW_STUCK, flow.step, deadline)
            changed = True
        if flow.det_over is None and flow.late is None and now >= flow.sla_deadline:
            flow.det_over, flow.det_step = now - flow.sla_deadline, None
            changed = True
        if changed:
            self._changed(flow)
        else:
            self._schedule(flow)

    def _changed(self, flow: Flow) -> None:
        """After any change: recovery, a first breach, the next wake, the snapshot."""
        self._dirty[flow.iid] = flow
        if flow.flagged and (flow.status or flow.n_steps > flow.stuck_n):
            flow.flagged, flow.recovered = False, True
            self._alert(flow, AlertKind.FLOW_RECOVERED, flow.stuck_step, flow.entries[-1][T])
        if not flow.alerted and (flow.late is not None or flow.det_over is not None) \
                and flow.breached:
            flow.alerted = True
            step = flow.late_step if flow.late is not None else flow.det_step
            at = flow.entries[-1][T] if flow.late is not None else (self._now or flow.start[T])
            self._alert(flow, AlertKind.SLA_BREACHED, step, at)
        wake = flow.wake
        if wake is not None and not flow.status and not flow.flagged:
            deadline = flow.deadline  # the usual step: the heap already wakes it early enough
            if deadline is not None and deadline >= wake and flow.sla_deadline >= wake:
                return
        self._schedule(flow)

    def _schedule(self, flow: Flow) -> None:
        """Make sure the heap wakes the flow no later than it needs; a wake that comes early
        is re-pushed when popped, so most steps (whose deadlines only move later) cost nothing."""
        wake = flow.next_wake()
        if wake is not None and (flow.wake is None or wake < flow.wake):
            self._push(flow, wake)

    def _push(self, flow: Flow, wake: datetime) -> None:
        self._seq += 1
        flow.wake, flow.wake_seq = wake, self._seq
        heapq.heappush(self._heap, (wake, self._seq, flow.corr, flow.iid))

    def _find(self, corr: str, iid: str) -> Flow | None:
        slot = self._corr.get(corr)
        if slot is None or isinstance(slot, Flow):
            return slot if slot is not None and slot.iid == iid else None
        for f in slot:
            if f.iid == iid:
                return f
        return None

    def _evict(self, flow: Flow) -> None:
        self._forget(flow.iid)
        slot = self._corr.get(flow.corr)
        if slot is flow:
            del self._corr[flow.corr]
        elif isinstance(slot, list) and flow in slot:
            slot.remove(flow)
            self._corr[flow.corr] = slot[0] if len(slot) == 1 else slot

    def _forget(self, iid: str) -> None:
        """Remember that ``iid`` ended and left memory (the oldest such ids go first)."""
        self._ended[iid] = None
        if len(self._ended) > ENDED_MEMORY:
            del self._ended[next(iter(self._ended))]

    def _alert(self, flow: Flow, kind: AlertKind, step: str | None, at: datetime) -> None:
        self._alerts.append(build_alert(flow, kind, step, at))

    # -- output -----------------------------------------------------------------------------

    def _flush(self) -> FlowUpdate:
        dirty = self._dirty
        if self.rollups is not None:
            for f in dirty.values():
                if (f.status or f.det_over is not None) and f.judged != 3:
                    self._judged(f)
        update = FlowUpdate(self._assign, [snapshot(f) for f in dirty.values()],
                            self._alerts, self._rollups)
        if dirty:
            self._dirty = {}
        self._assign, self._alerts, self._rollups = [], [], []  # the update owns its lists
        return update

    def _judged(self, f: Flow) -> None:
        """Count a flow with a verdict in the rollups, once: when it ends (its steps and, unless
        already counted, the whole flow), or when its SLA passes while it is open."""
        assert self.rollups is not None
        if f.status:
            if f.judged & 2:
                return
            assert f.ended is not None
            samples = f.step_times()
            if not f.judged:
                took = (f.ended - f.start[T]).total_seconds()
                samples.append((WHOLE_FLOW, took, not f.breached))
            f.judged |= 3
            self.rollups.add(f.d.flow_type, f.ended, samples, self._part(f))
        elif not f.judged:
            f.judged = 1
            self.rollups.add(f.d.flow_type, f.stuck_since or f.sla_deadline,
                             ((WHOLE_FLOW, None, False),), self._part(f))

    def _part(self, f: Flow) -> int:
        return -1 if self.rollup_part is None else self.rollup_part(f.corr)

    def _restore_one(self, snap: FlowSnapshot, events: Sequence[Event]) -> Flow:
        d = self._by_key.get((snap.flow_type, snap.definition_version))
        if d is None:
            raise FlowError(f"flow {snap.instance_id}: definition {snap.flow_type!r} version "
                            f"{snap.definition_version} is not loaded; keep old versions beside "
                            "the new ones in schemas/flows/")
        entries = sorted_entries(
            (e.occurred_at, e.sequence or 0, e.source, e.id, e.type, e.causation_id)
            for e in events)
        starts = [x for x in entries if x[TYPE] in d.definition.start]
        if not starts:
            raise FlowError(f"flow {snap.instance_id}: its start event is not in the store")
        flow = Flow(snap.instance_id, intern(snap.correlation_id), d, min(starts))
        flow.entries = entries
        flow.replay()
        flow.flagged = snap.status == FlowStatus.STUCK
        flow.stuck_step, flow.stuck_since = snap.stuck_step, snap.stuck_since
        flow.stuck_n = flow.n_steps if flow.flagged else 0
        flow.recovered = snap.recovered
        if snap.sla_breached and (flow.late is None or snap.stuck_since is not None):
            # the clock found it (past its SLA, or stuck): a late step alone is not counted
            # in the rollups until the flow ends
            flow.det_over, flow.det_step = snap.sla_over or timedelta(0), snap.stuck_step
        flow.alerted = snap.sla_breached
        flow.judged = 3 if flow.status else 1 if flow.det_over is not None else 0
        flows = _flows(self._corr.get(flow.corr))
        ordered = sorted([*flows, flow], key=lambda f: f.start)
        self._corr[flow.corr] = ordered[0] if len(ordered) == 1 else ordered
        self._schedule(flow)
        return flow


def _flows(slot: _Slot | None) -> list[Flow]:
    return [] if slot is None else [slot] if isinstance(slot, Flow) else slot


def _samples(f: Flow) -> list[tuple[datetime, list[Sample]]]:
    """The rollup samples `FlowTracker._judged` gave a restored flow, with their times: an
    open flow past its SLA counts once, as not finished; an ended one its steps, and the whole
    flow unless it counted already while open (it was stuck before it ended)."""
    if f.status:
        assert f.ended is not None
        steps: list[Sample] = list(f.step_times())
        if f.stuck_since is not None:
            return [(f.stuck_since, [(WHOLE_FLOW, None, False)]), (f.ended, steps)]
        took = (f.ended - f.start[T]).total_seconds()
        return [(f.ended, [*steps, (WHOLE_FLOW, took, not f.breached)])]
    if f.judged:
        return [(f.stuck_since or f.sla_deadline, [(WHOLE_FLOW, None, False)])]
    return []


def _instance_at(flows: list[Flow], t: datetime) -> Flow | None:
    for f in reversed(flows):
        if f.start[T] <= t:
            return f
    return None


def _version_at(defs: list[Compiled], t: datetime) -> Compiled:
    """The version in force at ``t``: the newest whose ``effective_from`` is not after it."""
    chosen = defs[0]
    for c in defs:
        since = c.definition.effective_from
        if since is None or since <= t:
            chosen = c if c.version >= chosen.version else chosen
    return chosen


def snapshot(f: Flow) -> FlowSnapshot:
    """The flow as the store keeps it (the verdict properties of `Flow`, inlined: hot path)."""
    last = f.entries[-1]
    d = f.d
    code, late = f.status, f.late
    if code:
        status, breached, over = STATUS[code], late is not None, late
    else:
        status = _STUCK if f.flagged else _RUNNING
        det = f.det_over
        breached = late is not None or det is not None
        over = late if det is None else det if late is None else max(late, det)
    return FlowSnapshot(
        f.iid, f.corr, d.flow_type, d.version, status, f.start[0], last[0], last[4],
        len(f.entries), f.ended, f.deadline, f.expected, f.stuck_step, f.stuck_since,
        breached, over, f.recovered,
    )


_STUCK, _RUNNING = FlowStatus.STUCK, FlowStatus.RUNNING
