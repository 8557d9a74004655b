"""Reading flows back from the store: one flow, stuck flows, breaches, discovery, settling.

The store edge of the flow engine, for the CLI and the dashboard: each function takes a `Store`
and returns plain values (dicts ready for JSON). Settling is the one writer: it rebuilds the open
flows, advances the detection clock and commits what it found in one transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from collector.exceptions import StoreError
from collector.flows.definition import FlowDefinition
from collector.flows.discovery import Discovery, deviations
from collector.flows.tracker import ENDED_MEMORY, FlowTracker
from collector.model import Event, FlowSnapshot, Location
from collector.store._time import from_text, to_text
from collector.store.base import Batch, Store

__all__ = ["REPLAYED_HISTORY", "SettleResult", "breaches", "detection_clock", "discover",
           "import_events", "measured_at", "over_sql", "restore_tracker", "rollups", "settle",
           "show", "stuck"]

REPLAYED_HISTORY = timedelta(hours=1)
"""A store whose detection clock is further behind the wall clock than this holds a stored
history (a replay, a simulation, a settled import): its ages are measured to that clock."""


def detection_clock(store: Store) -> datetime | None:
    """The detection clock the store last reached (migration 080), or None."""
    try:
        rows = store.query("SELECT at FROM detection_clock WHERE id = 1")
    except StoreError:
        return None  # a read-only store from before migration 080
    return from_text(rows[0]["at"]) if rows else None


def measured_at(store: Store, wall: datetime) -> tuple[datetime, bool]:
    """When to measure ages and amounts over a deadline: ``wall`` (now) while the store is
    live, else the detection clock it last reached (without one, its latest activity: the
    latest event or stuck verdict), for a stored history. The flag says it is a history."""
    clock = detection_clock(store)
    if clock is None:
        latest_event = store.query("SELECT MAX(occurred_at) AS t FROM events")[0]["t"]
        latest_stuck = store.query(
            "SELECT MAX(stuck_since) AS t FROM flows WHERE status = 'stuck'")[0]["t"]
        known = [from_text(t) for t in (latest_event, latest_stuck) if t is not None]
        clock = max(known) if known else None
    if clock is None or wall - clock <= REPLAYED_HISTORY:
        return wall, False
    return clock, True


def over_sql(at: datetime, definitions: Sequence[FlowDefinition],
             alias: str = "f") -> tuple[str, list[Any]]:
    """A SQL expression for a flow's amount over its step deadline or SLA, in seconds, with
    its parameters: an ended flow's is what its events gave; an open breached flow's grows
    with time, measured to ``at`` (past the deadline it is stuck at, past its SLA)."""
    slas: dict[str, float] = {}
    for d in definitions:  # sorted by version: the newest wins
        slas[d.flow_type] = d.sla.total_seconds()
    when = to_text(at)
    sla = "CASE " + " ".join(f"WHEN {alias}.flow_type = ? THEN ?" for _ in slas) + " END" \
        if slas else "NULL"
    sla_params = [v for pair in slas.items() for v in pair]
    # the greatest of three amounts, as both SQLite and PostgreSQL write it (no scalar MAX)
    expr = (f"CASE WHEN {alias}.ended_at IS NULL AND {alias}.sla_breached = 1 THEN ROUND(("  # noqa: S608
            f"SELECT MAX(amounts.column1) FROM (VALUES (COALESCE({alias}.sla_over_s, 0.0)), "
            f"(CASE WHEN {alias}.status = 'stuck' THEN COALESCE((julianday(?) - "
            f"julianday({alias}.stuck_since)) * 86400.0, 0.0) ELSE 0.0 END), "
            f"(COALESCE((julianday(?) - julianday({alias}.started_at)) * 86400.0 - {sla}, 0.0))"
            f") AS amounts), 3) ELSE ROUND({alias}.sla_over_s, 3) END")
    return expr, [when, when, *sla_params]


def over_at(s: FlowSnapshot, d: FlowDefinition | None, at: datetime) -> float | None:
    """`over_sql` for one flow in Python: the amount over, growing while the flow is open."""
    stored = None if s.sla_over is None else s.sla_over.total_seconds()
    if s.ended_at is not None or not s.sla_breached:
        return stored
    amounts = [stored or 0.0]
    if s.status.value == "stuck" and s.stuck_since is not None:
        amounts.append((at - s.stuck_since).total_seconds())
    if d is not None:
        amounts.append((at - s.started_at - d.sla).total_seconds())
    return round(max(amounts), 3)


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 6)


def stuck(store: Store, *, now: datetime, flow_type: str | None = None) -> list[dict[str, Any]]:
    """Flows stuck now: the step each waits after, since when and for how long."""
    sql = ("SELECT instance_id, correlation_id, flow_type, stuck_step, stuck_since, started_at, "
           "last_event_type, last_event_at, expected_next, definition_version FROM flows "
           "WHERE status = 'stuck'")
    rows = store.query(*_by_type(sql, flow_type, "stuck_since"))
    out = []
    for r in rows:
        since = from_text(r["stuck_since"]) if r["stuck_since"] else None
        out.append({
            "correlation_id": r["correlation_id"], "flow_type": r["flow_type"],
            "step": r["stuck_step"], "instance_id": r["instance_id"],
            "stuck_since": r["stuck_since"], "stuck_for_s": _seconds(now, since),
            "expected_next": _json_list(r["expected_next"]), "started_at": r["started_at"],
            "last_event_type": r["last_event_type"], "last_event_at": r["last_event_at"],
            "definition_version": r["definition_version"],
        })
    return out


def breaches(store: Store, *, at: datetime, definitions: Sequence[FlowDefinition] = (),
             flow_type: str | None = None) -> list[dict[str, Any]]:
    """Flows that broke a step deadline or their SLA, the most over first: the step
    (``end-to-end`` for the whole flow) comes from the SlaBreached alert written with the
    verdict; an open flow's amount over is measured to ``at`` (`over_sql`)."""
    over, params = over_sql(at, definitions)
    sql = (f"SELECT f.instance_id, f.correlation_id, f.flow_type, f.status, {over} AS over_s, "  # noqa: S608
           "f.started_at, f.ended_at, f.definition_version, o.step AS alert_step, "
           "o.alert_id, f.stuck_step FROM flows f LEFT JOIN outbox o ON o.instance_id = "
           "f.instance_id AND o.kind = 'SlaBreached' WHERE f.sla_breached = 1")
    where, more = _by_type(sql, flow_type, "over_s DESC, f.correlation_id",
                           column="f.flow_type")
    rows = store.query(where, [*params, *more])
    return [{
        "correlation_id": r["correlation_id"], "flow_type": r["flow_type"],
        "step": r["alert_step"] or (r["stuck_step"] if r["alert_id"] is None and r["stuck_step"]
                                    else "end-to-end"),
        "instance_id": r["instance_id"], "status": r["status"], "over_s": r["over_s"],
        "started_at": r["started_at"], "ended_at": r["ended_at"], "alert_id": r["alert_id"],
        "definition_version": r["definition_version"],
    } for r in rows]


def show(store: Store, key: str, definitions: Sequence[FlowDefinition], *,
         now: datetime) -> list[dict[str, Any]]:
    """Every instance with this instance id or correlation id: state, events with per-step
    durations, deviations from its definition, and time left before its next deadline."""
    snaps = store.flows_by_correlation(key)
    if not snaps:
        rows = store.query("SELECT correlation_id FROM flows WHERE instance_id = ?", (key,))
        snaps = [s for r in rows for s in store.flows_by_correlation(r["correlation_id"])
                 if s.instance_id == key]
    by_version = {(d.flow_type, d.version): d for d in definitions}
    return [_show_one(store, s, by_version.get((s.flow_type, s.definition_version)), now)
            for s in snaps]


def _show_one(store: Store, s: FlowSnapshot, d: FlowDefinition | None,
              now: datetime) -> dict[str, Any]:
    events = store.flow_events(s.instance_id)
    trace = Discovery().add(events).traces().get(s.correlation_id, [])
    steps = _steps(trace, d)
    left = overdue = None
    if s.next_deadline is not None and s.ended_at is None:
        left = _seconds(s.next_deadline, now)
        if left is not None and left < 0:
            left, overdue = 0.0, -left
    return {
        "instance_id": s.instance_id, "correlation_id": s.correlation_id,
        "flow_type": s.flow_type, "definition_version": s.definition_version,
        "status": s.status.value, "started_at": _t(s.started_at), "ended_at": _t(s.ended_at),
        "last_event_type": s.last_event_type, "last_event_at": _t(s.last_event_at),
        "event_count": s.event_count, "expected_next": list(s.expected_next),
        "next_deadline": _t(s.next_deadline), "time_left_s": left, "overdue_s": overdue,
        "measured_at": _t(now),
        "stuck_step": s.stuck_step, "stuck_since": _t(s.stuck_since), "recovered": s.recovered,
        "sla_breached": s.sla_breached,
        "sla_over_s": over_at(s, d, now),
        "events": steps,
        "deviations": [] if d is None else [
            {"kind": x.kind, "event_type": x.event_type, "after": x.after, "position": x.position}
            for x in deviations([k for k, _ in trace], d)],
    }


def _steps(trace: list[tuple[str, datetime]], d: FlowDefinition | None) -> list[dict[str, Any]]:
    """Each event with the time since the previous step event, against its deadline."""
    out: list[dict[str, Any]] = []
    known = d.event_types if d is not None else None
    prev: tuple[str, datetime] | None = None
    for kind, at in trace:
        is_step = known is None or kind in known
        row: dict[str, Any] = {"type": kind, "at": _t(at), "step": is_step}
        if is_step and prev is not None:
            row["after"] = prev[0]
            row["duration_s"] = _seconds(at, prev[1])
            t = d.transition_from(prev[0]) if d is not None else None
            if t is not None:
                row["deadline_s"] = t.deadline.total_seconds()
                row["late"] = at - prev[1] > t.deadline
        if is_step:
            prev = (kind, at)
        out.append(row)
    return out


def discover(store: Store, definitions: Sequence[FlowDefinition], *,
             flow_type: str | None = None) -> dict[str, Any]:
    """Directly-follows graphs and variants of the stored events, per flow type."""
    rows = store.query("SELECT source, id, type, occurred_at, correlation_id, causation_id, "
                       "sequence FROM events")
    discovery = Discovery.for_definitions(definitions).add(_light_events(rows))
    report = discovery.report()
    return {ft: r for ft, r in report.items() if flow_type is None or ft == flow_type}


def _light_events(rows: Iterable[dict[str, Any]]) -> Iterable[Event]:
    loc = Location("store")
    for r in rows:
        at = from_text(r["occurred_at"])
        yield Event(id=r["id"], type=r["type"], source=r["source"], occurred_at=at,
                    correlation_id=r["correlation_id"], data=None, location=loc,
                    received_at=at, causation_id=r["causation_id"], sequence=r["sequence"])


def restore_tracker(store: Store, definitions: Sequence[FlowDefinition], *,
                    rollups: bool = True, ended: bool = True,
                    owns: Callable[[str], bool] | None = None,
                    clock: datetime | None = None,
                    part_of: Callable[[str], int] | None = None,
                    parts: Collection[int] = ()) -> FlowTracker:
    """A tracker as the collector that wrote the store left it at its last commit: the open
    flows, the ended ones it still held at the detection clock the store last reached (late
    events still join them), the ids of the ended ones it had let go (a late redelivered start
    event does not open them again), and the events no instance had claimed (their start
    event may still come), each verdict as stored.

    What the tracker still held is measured on the stored detection clock, never on the
    latest stored event: while a backlog is read the clock is the slowest partition's event
    time, and events far ahead of it on other partitions do not push out the flows a partition
    behind still has events for. Without a stored clock no tick has run, so no flow had left.

    ``rollups=False`` for settling: a minute's row counts every flow judged in it, and a
    tracker that holds only the open flows would replace the stored rows with partial ones.
    ``ended=False``: no ended flow (settling a stored history, where no event comes later).
    ``owns``: restore only the correlation ids it accepts (a tracker that owns a share of
    them, e.g. the hash buckets of its partitions). ``clock``: measure what was still held
    on this detection clock instead of the stored one (a scale-out tracker's own, which may be
    behind the group's latest). ``part_of`` and ``parts``: a scale-out tracker's rollups are
    kept per internal partition (``part_of(correlation_id)``), and it owns ``parts``; their
    minutes are counted again from the oldest one a part may still lack (`_recount_from`).
    """
    tracker = FlowTracker(definitions)
    if not rollups:
        tracker.rollups = None
    tracker.rollup_part = part_of
    keep = _each_once(owns) if owns is not None else _everything
    clock = detection_clock(store) if clock is None else clock
    recount = None
    if part_of is not None and tracker.rollups is not None and clock is not None:
        recount = _recount_from(store, tracker.rollups.horizon(clock), parts)
    since = None if clock is None else to_text(_held_since(tracker, clock, recount))
    recent = _ended_after(store, since) if ended else []
    flows = (s for s in itertools.chain(store.open_flows(), recent) if keep(s.correlation_id))
    tracker.restore(_with_events(store, flows),
                    held=[e for e in _unclaimed(store, tracker.held_limit)
                          if keep(e.correlation_id)],
                    ended=_let_go(store, since),
                    rolled_up=_newest_rollup(store) if rollups and part_of is None else None,
                    now=clock, recount_from=recount)
    return tracker


RECOUNT_AT_MOST = timedelta(hours=1)
"""How far back a partition's new owner counts its rollup minutes again, at most."""


def _recount_from(store: Store, horizon: datetime, parts: Collection[int]) -> datetime:
    """The first rollup minute a new owner of ``parts`` counts again: the minute after the
    newest stored row of each part, or ``horizon`` (the first its clock leaves open) if that
    is earlier. A part's previous owner wrote the rows of the minutes its clock closed; the
    minutes after were still open in its memory (lost with it, or left behind on a
    rebalance), and every flow judged in them is restored, so they are counted whole again.
    A part without rows adds no bound; none goes back more than `RECOUNT_AT_MOST`."""
    starts = [horizon]
    if parts:
        marks = ", ".join("?" * len(parts))
        starts += [from_text(r["m"]) + timedelta(minutes=1) for r in store.query(
            f"SELECT part, MAX(minute) AS m FROM flow_rollups WHERE part IN ({marks}) "  # noqa: S608
            "GROUP BY part", sorted(parts))]
    return max(min(starts), horizon - RECOUNT_AT_MOST)


def _held_since(tracker: FlowTracker, clock: datetime,
                recount: datetime | None = None) -> datetime:
    """Flows that ended after this were still in memory at ``clock`` (the retention), or were
    counted in a rollup minute the clock had not closed: restored, they count there again
    (a flow of the second kind leaves memory at the first tick)."""
    since = clock - tracker.retention
    if tracker.rollups is not None:
        since = min(since, tracker.rollups.horizon(clock))
    return since if recount is None else min(since, recount)


def _everything(_: str) -> bool:
    return True


def _each_once(owns: Callable[[str], bool]) -> Callable[[str], bool]:
    """``owns``, asked once per correlation id (a flow's events and the events waiting for
    its start share it)."""
    known: dict[str, bool] = {}

    def keep(corr: str) -> bool:
        got = known.get(corr)
        if got is None:
            got = known[corr] = owns(corr)
        return got

    return keep


_CHUNK = 500
"""Flows whose events one query reads on a restore."""


def _with_events(store: Store, flows: Iterable[FlowSnapshot]
                 ) -> Iterator[tuple[FlowSnapshot, list[Event]]]:
    """Each flow with its events, as much of them as the tracker reads (no payload), a chunk
    of flows a query through the correlation index: one query per flow made a restart after a
    kill mid-backlog, which restores every flow ended ahead of the clock, take ~2 ms a flow."""
    it = iter(flows)
    while chunk := list(itertools.islice(it, _CHUNK)):
        wanted = {s.instance_id for s in chunk}
        marks = ", ".join("?" * len({s.correlation_id for s in chunk}))
        rows = store.query(
            "SELECT source, id, type, occurred_at, correlation_id, causation_id, sequence, "  # noqa: S608
            f"instance_id FROM events WHERE correlation_id IN ({marks}) "
            "AND instance_id IS NOT NULL", list(dict.fromkeys(s.correlation_id for s in chunk)))
        by_instance: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r["instance_id"] in wanted:
                by_instance.setdefault(r["instance_id"], []).append(r)
        for snap in chunk:
            yield snap, list(_light_events(by_instance.get(snap.instance_id, ())))


def _newest_rollup(store: Store) -> datetime | None:
    newest = store.query("SELECT MAX(minute) AS m FROM flow_rollups")[0]["m"]
    return None if newest is None else from_text(newest)


def _ended_after(store: Store, since: str | None) -> list[FlowSnapshot]:
    """Flows that ended after ``since`` (None: every ended flow)."""
    from collector.store.sqlite import flow_from_row

    where, params = ("ended_at IS NOT NULL", ()) if since is None else ("ended_at > ?", (since,))
    rows = store.query(f"SELECT * FROM flows WHERE {where} ORDER BY started_at", params)  # noqa: S608
    return [flow_from_row(r) for r in rows]


def _let_go(store: Store, since: str | None) -> list[str]:
    """Instance ids of the flows that ended by ``since``, the newest the tracker remembers,
    oldest first. Not filtered by ``owns``: a start event of a flow another tracker owns
    never comes here, so its id changes nothing, and asking whom each of thousands belongs
    to (a scale-out tracker hashes the correlation id) took seconds of a restore."""
    if since is None:
        return []
    rows = store.query("SELECT instance_id FROM flows WHERE ended_at <= ? "
                       "ORDER BY ended_at DESC LIMIT ?", (since, ENDED_MEMORY))
    return [r["instance_id"] for r in reversed(rows)]


def _unclaimed(store: Store, limit: int) -> list[Event]:
    """The newest events no instance has claimed (as many as wait in a tracker), oldest
    first: the tracker held them however old, waiting for their start event. Only what the
    tracker reads of them (no payload): in scale-out mode every event stored but not tracked
    yet is unclaimed, so a restore during a backlog reads tens of thousands (issue 19)."""
    rows = store.query("SELECT source, id, type, occurred_at, correlation_id, causation_id, "
                       "sequence FROM events WHERE instance_id IS NULL "
                       "ORDER BY occurred_at DESC LIMIT ?", (limit,))
    return list(_light_events(reversed(rows)))


@dataclass(frozen=True, slots=True)
class SettleResult:
    at: datetime
    open_before: int
    changed: int
    stuck: int
    breached: int
    alerts: int


def settle(store: Store, definitions: Sequence[FlowDefinition], at: datetime) -> SettleResult:
    """Advance the detection clock of a stored history to ``at`` and commit the verdicts."""
    tracker = restore_tracker(store, definitions, rollups=False, ended=False)
    open_before = tracker.open_flows
    update = tracker.on_tick(at)
    store.write(Batch(flows=list(update.flows), alerts=list(update.alerts),
                      assignments=list(update.assignments), detected_at=at))
    return SettleResult(
        at=at, open_before=open_before, changed=len(update.flows),
        stuck=sum(1 for f in update.flows if f.status.value == "stuck"),
        breached=sum(1 for f in update.flows if f.sla_breached), alerts=len(update.alerts),
    )


def _by_type(sql: str, flow_type: str | None, order: str,
             column: str = "flow_type") -> tuple[str, tuple[Any, ...]]:
    if flow_type is None:
        return f"{sql} ORDER BY {order}", ()
    return f"{sql} AND {column} = ? ORDER BY {order}", (flow_type,)


def _json_list(text: str | None) -> list[Any]:
    import orjson

    return list(orjson.loads(text)) if text else []


def _t(at: datetime | None) -> str | None:
    return None if at is None else to_text(at)


def rollups(store: Store, *, flow_type: str | None = None, step: str | None = None,
            since: datetime | None = None) -> list[dict[str, Any]]:
    """Per-minute rollups, oldest first, with the share within SLA (the error budget); the
    parts of a minute (scale-out trackers' partitions) summed, their percentiles weighted by
    count."""
    sql = ("SELECT minute, flow_type, step, SUM(count) AS count, SUM(within_sla) AS within_sla, "
           "SUM(p50_s * count) / SUM(count) AS p50_s, SUM(p95_s * count) / SUM(count) AS p95_s, "
           "SUM(p99_s * count) / SUM(count) AS p99_s FROM flow_rollups WHERE 1 = 1")
    params: list[Any] = []
    for column, value in (("flow_type", flow_type), ("step", step)):
        if value is not None:
            sql += f" AND {column} = ?"
            params.append(value)
    if since is not None:
        sql += " AND minute >= ?"
        params.append(to_text(since))
    rows = store.query(sql + " GROUP BY minute, flow_type, step ORDER BY minute, flow_type, step",
                       params)
    for r in rows:
        r["share_within_sla"] = r["within_sla"] / r["count"] if r["count"] else 1.0
    return rows


def import_events(store: Store, definitions: Sequence[FlowDefinition], events: Iterable[Event],
                  *, batch_size: int = 5000) -> dict[str, int]:
    """Store events from an imported log, tracking flows where definitions exist. No detection
    clock runs (a log is not ordered in time across cases): settle it afterwards."""
    tracker = FlowTracker(definitions) if definitions else None
    counts = {"events": 0, "correlation_ids": 0, "flows": 0}
    seen: set[str] = set()
    instances: set[str] = set()
    batch: list[Event] = []

    def flush(last: bool) -> None:
        out = Batch(events=batch)
        if tracker is not None:
            update = tracker.on_events(batch)
            if last:
                update.rollups.extend(tracker.flush_rollups().rollups)
            out.flows, out.assignments = list(update.flows), list(update.assignments)
            out.alerts, out.flow_rollups = list(update.alerts), list(update.rollups)
            instances.update(f.instance_id for f in update.flows)
        store.write(out)

    for e in events:
        batch.append(e)
        counts["events"] += 1
        seen.add(e.correlation_id)
        if len(batch) >= batch_size:
            flush(False)
            batch = []
    flush(True)
    counts["correlation_ids"], counts["flows"] = len(seen), len(instances)
    return counts
