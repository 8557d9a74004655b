"""Read-only queries behind the dashboard's list pages. No Streamlit here: values in, values out.

Overview counts, stuck workflows, SLA percentiles and breaches, collector health and dead
letters. Every query goes by an index and is bounded: a LIMIT, a time window, or a GROUP BY
over an index range. Distinct values of an indexed column are read by a skip scan (one index
seek per value), never by reading the column. Times are the store's UTC text.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from collector.flows import query
from collector.flows.definition import FlowDefinition
from collector.humanize import format_duration  # re-exported: the views format with it
from collector.store import Store
from collector.store._time import from_text, to_text
from collector.store.dead_letters import decode_headers

__all__ = [
    "DeadLetterBoundsView",
    "Overview",
    "breach_counts",
    "chart_data",
    "dead_letter",
    "dead_letter_bounds",
    "dead_letter_counts",
    "dead_letters",
    "dead_letters_over_time",
    "distinct",
    "fed_by_simulator",
    "format_duration",
    "lag_by_partition",
    "lag_over_time",
    "latest_metric",
    "measured_at",
    "metric_series",
    "overview",
    "plain",
    "replay_command",
    "rollup_span",
    "rollup_steps",
    "sla_breaches",
    "sla_series",
    "sla_summary",
    "step_limit_s",
    "stuck_counts",
    "stuck_flows",
    "stuck_over_time",
    "validation_over_time",
]

STUCK_LIMIT = 500
BREACH_LIMIT = 500
DEAD_LETTER_LIMIT = 200
SERIES_LIMIT = 5000
REPLAYED_HISTORY = query.REPLAYED_HISTORY

_DISTINCT = {
    # (table, column): the index whose first column it is
    ("flows", "flow_type"): "flows_type_started",
    ("flow_rollups", "flow_type"): "flow_rollups_type",
    ("business_keys", "name"): "sqlite_autoindex_business_keys_1",
    ("dead_letters", "reason"): "dead_letters_reason",
    ("dead_letters", "topic"): "dead_letters_topic",
    ("metrics", "name"): "metrics_name_time",
}


def distinct(store: Store, table: str, column: str, limit: int = 100) -> list[str]:
    """The distinct values of an indexed leading column, by a skip scan: one seek per value.
    Only the (table, column) pairs of ``_DISTINCT`` are accepted (they are put in the SQL)."""
    if (table, column) not in _DISTINCT:
        raise ValueError(f"no skip scan for {table}.{column}")
    rows = store.query(
        f"WITH RECURSIVE d(v) AS (SELECT MIN({column}) FROM {table} UNION ALL "  # noqa: S608
        f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > d.v) FROM d "
        "WHERE d.v IS NOT NULL) SELECT v FROM d WHERE v IS NOT NULL LIMIT ?", (limit,))
    return [str(r["v"]) for r in rows]


# -- overview ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overview:
    events: int
    flows: int
    dead_letters: int
    stuck: int
    events_by_type: list[dict[str, Any]]
    flows_by_status: list[dict[str, Any]]


def overview(store: Store) -> Overview:
    """Counts of events by type, of flows by type and status, of dead letters (each a scan of
    an index, not of a table)."""
    by_type = store.query(
        "SELECT type AS event_type, COUNT(*) AS events FROM events GROUP BY type "
        "ORDER BY events DESC, event_type")
    by_status = store.query(
        "SELECT flow_type, status, COUNT(*) AS flows FROM flows GROUP BY status, flow_type "
        "ORDER BY flow_type, status")
    dead = store.query("SELECT COUNT(*) AS n FROM dead_letters")[0]["n"]
    return Overview(
        events=sum(int(r["events"]) for r in by_type),
        flows=sum(int(r["flows"]) for r in by_status),
        dead_letters=int(dead),
        stuck=sum(int(r["flows"]) for r in by_status if r["status"] == "stuck"),
        events_by_type=by_type,
        flows_by_status=by_status,
    )


# -- the clock ages are measured by --------------------------------------------------------------


def measured_at(store: Store, wall: datetime) -> tuple[datetime, bool]:
    """When to measure ages at: ``wall`` (now) for a live store, the detection clock a stored
    history last reached otherwise (`collector.flows.query.measured_at`). The flag says
    which."""
    return query.measured_at(store, wall)


# -- stuck workflows ---------------------------------------------------------------------------


def _and(**equal: Any) -> tuple[str, list[Any]]:
    """`` AND column = ?`` for each column given a value (column names are code, not input)."""
    given = [(column.replace("__", "."), value) for column, value in equal.items()
             if value is not None]
    return "".join(f" AND {column} = ?" for column, _ in given), [v for _, v in given]


def stuck_flows(store: Store, *, at: datetime, flow_type: str | None = None,
                step: str | None = None, limit: int = STUCK_LIMIT) -> list[dict[str, Any]]:
    """Stuck flows, oldest first: the step each waits after, what it expects, how long (at
    ``at``). By the status index; at most ``limit``."""
    where, params = _and(flow_type=flow_type, stuck_step=step)
    rows = store.query(
        "SELECT correlation_id, flow_type, stuck_step, expected_next, stuck_since, started_at, "  # noqa: S608
        "last_event_type, last_event_at, instance_id FROM flows WHERE status = 'stuck'"
        f"{where} ORDER BY stuck_since, correlation_id LIMIT ?", [*params, limit])
    for r in rows:
        since = r["stuck_since"]
        r["stuck_for_s"] = None if since is None else max(
            0.0, (at - from_text(since)).total_seconds())
        r["expected_next"] = " | ".join(orjson.loads(r["expected_next"] or "[]"))
    return rows


def stuck_counts(store: Store, flow_type: str | None = None) -> list[dict[str, Any]]:
    """Stuck flows per flow type and step, with the oldest's stuck-since."""
    where, params = _and(flow_type=flow_type)
    return store.query(
        "SELECT flow_type, stuck_step AS step, COUNT(*) AS flows, MIN(stuck_since) AS oldest "  # noqa: S608
        f"FROM flows WHERE status = 'stuck'{where} GROUP BY flow_type, stuck_step "
        "ORDER BY flows DESC, flow_type, step", params)


def stuck_over_time(store: Store, *, flow_type: str | None = None,
                    step: str | None = None) -> list[dict[str, Any]]:
    """The flows stuck now, by the hour they got stuck (the minute, when they all got stuck
    within six hours), per flow type; ``open`` is the running total."""
    where, params = _and(flow_type=flow_type, stuck_step=step)
    span = store.query(
        "SELECT MIN(stuck_since) AS a, MAX(stuck_since) AS b FROM flows "  # noqa: S608
        f"WHERE status = 'stuck'{where}", params)[0]
    if span["a"] is None:
        return []
    width = 16 if from_text(span["b"]) - from_text(span["a"]) <= timedelta(hours=6) else 13
    rows = store.query(
        f"SELECT substr(stuck_since, 1, {width}) AS bucket, flow_type, COUNT(*) AS got_stuck "  # noqa: S608
        f"FROM flows WHERE status = 'stuck'{where} GROUP BY bucket, flow_type "
        "ORDER BY bucket, flow_type", params)
    running: dict[str, int] = {}
    for r in rows:
        running[r["flow_type"]] = running.get(r["flow_type"], 0) + r["got_stuck"]
        r["open"] = running[r["flow_type"]]
        r["at"] = from_text(r["bucket"] + (":00+00:00" if width == 16 else ":00:00+00:00"))
    return rows


# -- SLA ---------------------------------------------------------------------------------------


def rollup_span(store: Store) -> tuple[datetime, datetime] | None:
    """The first and last minute of the flow rollups (two seeks of the primary key)."""
    first = store.query("SELECT MIN(minute) AS t FROM flow_rollups")[0]["t"]
    last = store.query("SELECT MAX(minute) AS t FROM flow_rollups")[0]["t"]  # apart: one seek each
    return None if first is None else (from_text(first), from_text(last))


def rollup_steps(store: Store, flow_type: str, limit: int = 100) -> list[str]:
    """The steps with rollups of a flow type (``*`` is the whole flow), by a skip scan."""
    rows = store.query(
        "WITH RECURSIVE d(v) AS (SELECT MIN(step) FROM flow_rollups WHERE flow_type = ?1 "
        "UNION ALL SELECT (SELECT MIN(step) FROM flow_rollups WHERE flow_type = ?1 AND "
        "step > d.v) FROM d WHERE d.v IS NOT NULL) SELECT v FROM d WHERE v IS NOT NULL "
        "LIMIT ?2", (flow_type, limit))
    return [str(r["v"]) for r in rows]


def sla_summary(store: Store, *, since: datetime, objective: float,
                flow_type: str | None = None) -> list[dict[str, Any]]:
    """Per flow type and step over the window from ``since``: flows judged, share within SLA,
    error-budget burn rate against ``objective`` (1 = spending the budget exactly as fast as
    allowed), and the count-weighted mean of the per-minute percentiles."""
    # The unary + keeps the planner on the primary key's minute range: by the type index it
    # would read every minute ever rolled up to save a sort of the window's few rows.
    where = "" if flow_type is None else " AND +flow_type = ?"
    params = [] if flow_type is None else [flow_type]
    rows = store.query(
        "SELECT flow_type, step, SUM(count) AS flows, SUM(within_sla) AS within_sla, "  # noqa: S608
        "SUM(p50_s * count) / SUM(count) AS p50_s, SUM(p95_s * count) / SUM(count) AS p95_s, "
        "SUM(p99_s * count) / SUM(count) AS p99_s, MAX(p99_s) AS worst_p99_s "
        f"FROM flow_rollups WHERE minute >= ?{where} GROUP BY +flow_type, +step "
        "ORDER BY flow_type, step = '*' DESC, step", [to_text(since), *params])
    for r in rows:
        _budget(r, objective)
    return rows


def _budget(row: dict[str, Any], objective: float) -> None:
    n, ok = row["flows"] or 0, row["within_sla"] or 0
    share = ok / n if n else 1.0
    row["share_within_sla"] = share
    row["burn_rate"] = (1.0 - share) / (1.0 - objective) if objective < 1 else None


def step_limit_s(definitions: Any, flow_type: str, step: str) -> float | None:
    """The limit a rollup step is judged by, in seconds: the flow's SLA for ``*``, the step's
    deadline for ``From->To`` (None when no definition names it). ``definitions``: the flow
    definitions (`collector.flows.definition.FlowDefinition`), newest version last."""
    found = [d for d in definitions if d.flow_type == flow_type]
    if not found:
        return None
    latest = max(found, key=lambda d: d.version)
    if step == "*":
        return float(latest.sla.total_seconds())
    source, _, target = step.partition("->")
    for t in latest.transitions:
        if t.source == source and (not target or target in t.targets):
            return float(t.deadline.total_seconds())
    return None


def sla_series(store: Store, *, flow_type: str, step: str, since: datetime, objective: float,
               bucket_minutes: int = 1) -> list[dict[str, Any]]:
    """One flow type and step over time, per bucket: count, share within SLA, burn rate, and
    the count-weighted mean of the per-minute p50/p95/p99 (by the rollups' type index)."""
    width = 60 * bucket_minutes
    rows = store.query(
        "SELECT (CAST(strftime('%s', substr(minute, 1, 19)) AS INTEGER) / ?1) * ?1 AS bucket, "
        "SUM(count) AS flows, SUM(within_sla) AS within_sla, "
        "SUM(p50_s * count) / SUM(count) AS p50_s, SUM(p95_s * count) / SUM(count) AS p95_s, "
        "SUM(p99_s * count) / SUM(count) AS p99_s FROM flow_rollups "
        "WHERE flow_type = ?2 AND step = ?3 AND minute >= ?4 GROUP BY bucket ORDER BY bucket "
        "LIMIT ?5", (width, flow_type, step, to_text(since), SERIES_LIMIT))
    spent = total = 0
    for r in rows:
        r["at"] = datetime.fromtimestamp(r.pop("bucket"), since.tzinfo)
        _budget(r, objective)
        total += r["flows"] or 0
        spent += (r["flows"] or 0) - (r["within_sla"] or 0)
        r["budget_spent"] = spent / ((1.0 - objective) * total) if total and objective < 1 else 0
    return rows


def sla_breaches(store: Store, *, at: datetime, definitions: Sequence[FlowDefinition] = (),
                 flow_type: str | None = None, step: str | None = None,
                 limit: int = BREACH_LIMIT) -> list[dict[str, Any]]:
    """Flows that broke their SLA or a step deadline, most over first: the step they were
    waiting after (from the SlaBreached alert), by how much (an open flow's amount grows,
    measured to ``at``: `collector.flows.query.over_sql`), and their status now."""
    over, over_params = query.over_sql(at, definitions)
    where, params = _and(o__flow_type=flow_type, o__step=step)
    return store.query(
        f"SELECT o.correlation_id, o.flow_type, o.step, {over} AS over_s, "  # noqa: S608
        "o.at AS breached_at, f.status, f.started_at, f.ended_at FROM outbox o "
        "JOIN flows f ON f.instance_id = "
        f"o.instance_id WHERE o.kind = 'SlaBreached'{where} ORDER BY over_s DESC, "
        "o.correlation_id LIMIT ?", [*over_params, *params, limit])


def breach_counts(store: Store, flow_type: str | None = None) -> list[dict[str, Any]]:
    """SLA breaches per flow type and step."""
    where, params = _and(flow_type=flow_type)
    return store.query(
        "SELECT flow_type, step, COUNT(*) AS breaches FROM outbox "  # noqa: S608
        f"WHERE kind = 'SlaBreached'{where} GROUP BY flow_type, step ORDER BY breaches DESC, "
        "flow_type, step",
        params)


# -- collector health --------------------------------------------------------------------------


def latest_metric(store: Store, name: str) -> datetime | None:
    row = store.query("SELECT MAX(at) AS t FROM metrics WHERE name = ?", (name,))[0]
    return None if row["t"] is None else from_text(row["t"])


def metric_series(store: Store, name: str, *, since: datetime,
                  limit: int = SERIES_LIMIT) -> list[dict[str, Any]]:
    """The samples of one metric from ``since``, oldest first, labels decoded: ``collector``
    (the process that took it; empty before issue 19's label) and ``series`` (its other labels,
    or ``name`` without any). The newest ``limit`` of them: the window ends at the latest (the
    lag of several collectors on many partitions outgrows the limit within an hour)."""
    rows = store.query("SELECT at, labels, value FROM metrics WHERE name = ? AND at >= ? "
                       "ORDER BY at DESC LIMIT ?", (name, to_text(since), limit))
    rows.reverse()
    for r in rows:
        r["at"] = from_text(r["at"])
        labels = orjson.loads(r.pop("labels"))
        r["collector"] = labels.pop("collector", "")
        r.update(labels)
        r["series"] = " ".join(f"{k}={v}" for k, v in sorted(labels.items())) or name
    return rows


def lag_by_partition(store: Store, *, within: timedelta = timedelta(minutes=5),
                     ) -> list[dict[str, Any]]:
    """The latest lag sample of each topic and partition sampled in the last ``within`` of
    the lag samples, with the collector that took it (the partition's reader then)."""
    last = latest_metric(store, "consumer_lag")
    if last is None:
        return []
    latest: dict[str, dict[str, Any]] = {}
    for r in metric_series(store, "consumer_lag", since=last - within):
        latest[r["series"]] = r
    return sorted(({"topic": r.get("topic"), "partition": int(r.get("partition", -1)),
                    "lag": int(r["value"]), "at": r["at"], "collector": r["collector"]}
                   for r in latest.values()),
                  key=lambda r: (-r["lag"], r["topic"] or "", r["partition"]))


def lag_over_time(store: Store, *, since: datetime) -> list[dict[str, Any]]:
    """The total lag of each collector at each of its samples from ``since`` (a collector
    samples all its partitions at once), oldest first: ``at``, ``collector``, ``lag``."""
    totals: dict[tuple[datetime, str], float] = {}
    for r in metric_series(store, "consumer_lag", since=since):
        key = (r["at"], r["collector"])
        totals[key] = totals.get(key, 0.0) + r["value"]
    return [{"at": at, "collector": collector, "lag": lag}
            for (at, collector), lag in sorted(totals.items())]


def fed_by_simulator(store: Store) -> bool:
    """Whether the simulator's in-process collector fed this store (no consumer group: lag
    does not apply)."""
    return bool(store.query("SELECT 1 AS x FROM positions WHERE reader = 'simulator' LIMIT 1"))


def dead_letter_counts(store: Store) -> list[dict[str, Any]]:
    """Dead letters per reason (a scan of the reason index), newest first within each."""
    return store.query("SELECT reason, COUNT(*) AS dead_letters, MAX(received_at) AS latest "
                       "FROM dead_letters GROUP BY reason ORDER BY dead_letters DESC")


def dead_letters_over_time(store: Store, *, window: timedelta) -> list[dict[str, Any]]:
    """Dead letters per minute and reason over the ``window`` that ends at the latest one (a
    range of the reason index for each reason)."""
    latest = store.query("SELECT MAX(received_at) AS t FROM dead_letters")[0]["t"]
    if latest is None:
        return []
    since = from_text(latest) - window
    out: list[dict[str, Any]] = []
    for reason in distinct(store, "dead_letters", "reason"):
        rows = store.query(
            "SELECT substr(received_at, 1, 16) AS minute, COUNT(*) AS dead_letters FROM "
            "dead_letters WHERE reason = ? AND received_at >= ? GROUP BY minute ORDER BY minute "
            "LIMIT ?", (reason, to_text(since), SERIES_LIMIT))
        out.extend({"at": from_text(r["minute"] + ":00+00:00"), "reason": reason,
                    "dead_letters": r["dead_letters"]} for r in rows)
    return out


def dead_letters(store: Store, *, reason: str | None = None, topic: str | None = None,
                 limit: int = DEAD_LETTER_LIMIT) -> list[dict[str, Any]]:
    """Dead letters, newest first, without their bytes: where they came from and why."""
    where, params = _and(reason=reason, topic=topic)
    return store.query(
        'SELECT dl_id AS id, reason, topic, partition, "offset", received_at, detail, '  # noqa: S608
        f"loc_source FROM dead_letters WHERE 1 = 1{where} ORDER BY dl_id DESC LIMIT ?",
        [*params, limit])


def dead_letter(store: Store, dl_id: int, preview: int = 4096) -> dict[str, Any] | None:
    """One dead letter with its key, headers and the first ``preview`` bytes as text; header
    values and key that are not UTF-8 are shown as bytes literals, never lossily decoded.
    ``raw_size`` is the record's full size (``size`` what is kept), ``raw_withheld`` why no
    bytes were kept."""
    rows = store.query(
        'SELECT dl_id AS id, reason, detail, loc_source, topic, partition, "offset", '
        "received_at, substr(raw, 1, ?) AS raw, length(raw) AS size, key, headers, raw_size, "
        "raw_truncated, raw_withheld FROM dead_letters WHERE dl_id = ?", (preview, dl_id))
    if not rows:
        return None
    r = rows[0]
    raw, key = r.pop("raw"), r.pop("key")
    r["headers"] = [[name, _shown(value)] for name, value in decode_headers(r["headers"])]
    r["key"] = None if key is None else _shown(bytes(key))
    r["text"] = None if raw is None else bytes(raw).decode("utf-8", "replace")
    return r


def _shown(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)


@dataclass(frozen=True, slots=True)
class DeadLetterBoundsView:
    """What the dead letters' bounds did: stored count and bytes, dropped, truncated."""

    stored: int
    bytes: int
    dropped_age: int
    dropped_budget: int
    truncated: int


def dead_letter_bounds(store: Store) -> DeadLetterBoundsView:
    u = store.dead_letter_usage()
    return DeadLetterBoundsView(u.stored, u.bytes, u.dropped_age, u.dropped_budget, u.truncated)


def replay_command(store_url: str, *, reason: str | None = None, topic: str | None = None,
                   dl_id: int | None = None) -> str:
    """The CLI command that replays these dead letters (the dashboard itself never writes)."""
    args = ["choreoscope", "deadletters", "replay", "--store", store_url]
    if dl_id is not None:
        args += ["--id", str(dl_id)]
    if reason is not None:
        args += ["--reason", reason]
    if topic is not None:
        args += ["--topic", topic]
    return shlex.join(args)


def validation_over_time(store: Store, *, window: timedelta) -> list[dict[str, Any]]:
    """Schema violations per minute over the ``window`` that ends at the latest one (by the
    violations' time index)."""
    latest = store.query("SELECT MAX(occurred_at) AS t FROM violations")[0]["t"]
    if latest is None:
        return []
    since = from_text(latest) - window
    rows = store.query(
        "SELECT substr(occurred_at, 1, 16) AS minute, COUNT(*) AS violations FROM violations "
        "WHERE occurred_at >= ? GROUP BY minute ORDER BY minute LIMIT ?",
        (to_text(since), SERIES_LIMIT))
    return [{"at": from_text(r["minute"] + ":00+00:00"), "violations": r["violations"]}
            for r in rows]


def plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with datetimes as ISO text, for a chart's inline data."""
    return [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in r.items()}
            for r in rows]


def chart_data(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Rows as a Vega-Lite inline data set (``alt.Chart(chart_data(rows))``)."""
    return {"values": plain(rows)}
